// libvirt's default event loop, run on one dedicated native thread for the whole process.
// Needed for keepalive and events; started on first use, because a registered event loop
// makes every remote call hand its reply through the loop thread (measurably slower).
#pragma once

namespace virtkit {
// Registers libvirt's default event implementation and starts its thread, once per process.
// False (with libvirt's error set) if registration failed.
bool EnsureEventLoop();
bool EventLoopStarted();
}  // namespace virtkit
