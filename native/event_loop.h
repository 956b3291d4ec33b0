// libvirt's default event loop, run on one dedicated native thread for the whole process.
// Needed for keepalive and (later) events. Registered before the first connection opens.
#pragma once

namespace virtkit {
// Registers libvirt's default event implementation and starts its thread, once per process.
void EnsureEventLoop();
}  // namespace virtkit
