#include "event_loop.h"
#include <libvirt/libvirt.h>
#include <mutex>
#include <thread>

namespace virtkit {

void EnsureEventLoop() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (virEventRegisterDefaultImpl() < 0) return;  // the open that follows reports errors
    // Detached on purpose: it lives as long as the process and holds no JS state, so it
    // neither keeps Node alive nor touches any environment.
    std::thread([] {
      for (;;) virEventRunDefaultImpl();
    }).detach();
  });
}

}  // namespace virtkit
