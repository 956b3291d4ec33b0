#include "handle.h"

#include <atomic>
#include <unordered_map>

namespace virtkit {

int kNativeConstructToken = 0;

void ReleaseOffThread(std::function<void()> job) { RunOffThread(std::move(job)); }

namespace {
// Never destroyed: pool threads may look a gate up while the process exits.
std::mutex& GatesLock() {
  static auto* m = new std::mutex;
  return *m;
}
std::unordered_map<virConnectPtr, std::shared_ptr<Lane>>& Gates() {
  static auto* g = new std::unordered_map<virConnectPtr, std::shared_ptr<Lane>>;
  return *g;
}
std::atomic<size_t> gateCount{0};  // lets the common case (no keepalive) skip the lock
}  // namespace

std::shared_ptr<Lane> CallGate(virConnectPtr conn) {
  if (!conn || gateCount.load(std::memory_order_acquire) == 0) return nullptr;
  std::lock_guard<std::mutex> lock(GatesLock());
  auto it = Gates().find(conn);
  return it == Gates().end() ? nullptr : it->second;
}

void SetCallGate(virConnectPtr conn, bool on) {
  std::lock_guard<std::mutex> lock(GatesLock());
  if (on) Gates().try_emplace(conn, std::make_shared<Lane>());
  else Gates().erase(conn);
  gateCount.store(Gates().size(), std::memory_order_release);
}

}  // namespace virtkit
