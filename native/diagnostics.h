// Live-object counters behind diagnostics.liveObjects(): how many wrap objects of each class
// exist (created and not yet finalized), process-wide. A wrap holds at most one libvirt
// reference (or one iSCSI session), so counts that keep growing mean handles leak.
// One relaxed atomic increment per wrap and one decrement per finalizer: cheap enough to be
// always on.
#pragma once
#include <napi.h>
#include <atomic>

namespace virtkit {

// A member of every wrap: counts the instances of Tag (a traits type) that are alive.
template <typename Tag>
class LiveCount {
 public:
  LiveCount() { live.fetch_add(1, std::memory_order_relaxed); }
  ~LiveCount() { live.fetch_sub(1, std::memory_order_relaxed); }
  LiveCount(const LiveCount&) = delete;
  LiveCount& operator=(const LiveCount&) = delete;
  static long Get() { return live.load(std::memory_order_relaxed); }

 private:
  inline static std::atomic<long> live{0};
};

// liveObjects() -> { connections, domains, ..., pendingCalls }
Napi::Value LiveObjects(const Napi::CallbackInfo& info);

}  // namespace virtkit
