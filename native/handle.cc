#include "handle.h"

#include <atomic>
#include <unordered_map>

namespace virtkit {

thread_local NativeConstruct::Slot NativeConstruct::slot_ = {nullptr, false};

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

std::shared_ptr<Lane> OpenCallGate(virConnectPtr conn, bool* made) {
  std::lock_guard<std::mutex> lock(GatesLock());
  auto [it, fresh] = Gates().try_emplace(conn, nullptr);
  if (fresh) it->second = std::make_shared<Lane>();
  if (made) *made = fresh;
  gateCount.store(Gates().size(), std::memory_order_release);
  return it->second;
}

void DropCallGate(virConnectPtr conn, const std::shared_ptr<Lane>& only) {
  std::lock_guard<std::mutex> lock(GatesLock());
  auto it = Gates().find(conn);
  if (it == Gates().end() || (only && it->second != only)) return;
  Gates().erase(it);
  gateCount.store(Gates().size(), std::memory_order_release);
}

void CloseConnection(virConnectPtr conn, int* left) {
  std::shared_ptr<Lane> mine = CallGate(conn);
  int r = virConnectClose(conn);
  if (left) *left = r;
  // Gone for good: its gate goes too, unless a connection opened at the same address since
  // has a gate of its own already.
  if (r == 0 && mine) DropCallGate(conn, mine);
}

size_t CallGateCount() { return gateCount.load(std::memory_order_acquire); }

}  // namespace virtkit
