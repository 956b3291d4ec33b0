#include "event_loop.h"
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

namespace virtkit {

static std::mutex mu;
static std::atomic<bool> started{false};

bool EnsureEventLoop() {
  std::lock_guard<std::mutex> lock(mu);
  if (started) return true;
  if (virEventRegisterDefaultImpl() < 0) return false;
  // Detached on purpose: it lives as long as the process and holds no JS state, so it
  // neither keeps Node alive nor touches any environment.
  std::thread([] {
    for (;;) {
      if (virEventRunDefaultImpl() < 0) {
        virResetLastError();
        std::this_thread::sleep_for(std::chrono::milliseconds(100));  // never spin on a failure
      }
    }
  }).detach();
  started = true;
  return true;
}

bool EventLoopStarted() { return started; }

}  // namespace virtkit
