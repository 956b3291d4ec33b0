// Handles: one type-tagged ObjectWrap per libvirt object type.
//  - Created only by native code (Wrap()); `new` from JS throws TypeError.
//  - The wrap owns one libvirt reference; Free()/close and the finalizer give it up once.
//  - Every async call takes its own reference (Hold<>) before it is queued and drops it on the
//    worker thread, so a wrap freed or garbage-collected mid-call stays valid for the call.
//  - Dropping a reference can close a connection (network I/O), so the finalizer hands its
//    reference to the call pool instead of dropping it on the main thread.
#pragma once
#include <napi.h>
#include <libvirt/libvirt.h>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>
#include "diagnostics.h"
#include "errors.h"
#include "worker.h"

namespace virtkit {

// Drops libvirt references on the call pool, never on the JS thread: dropping the last
// reference to a remote connection closes it (network I/O).
void ReleaseOffThread(std::function<void()> job);

// libvirt 9.0's RPC client, after a keepalive timeout with more than one call in flight on
// one connection, fails the call that holds the socket and hands the socket on to the next
// waiting call, which then waits in poll() without a timeout: the connection is never closed
// (no close callback), the other calls hang for as long as the daemon stays silent, and when
// it speaks again the process dies of SIGSEGV in a stale socket watch
// (g_main_context_dispatch under virNetClientIOEventLoop; test/daemon/80.faults). With one
// call at a time the failing call closes the connection and later calls fail at once. So on
// a connection with keepalive on (OpenCallGate from setKeepAlive), every call on it or on its
// objects goes through its gate, a Lane (worker.h) that runs them one at a time, in order,
// without holding a pool thread while they wait: CallGate() returns it, or null for the
// connections whose calls run concurrently (all others). Streams are never gated (libvirt
// has no virStreamGetConnect).
//
// A gate lives as long as the libvirt connection, not its JS wrap: the domains, pools and
// volumes of a closed connection keep it (and its keepalive) alive, so their calls stay gated.
// OpenCallGate (on the main thread, before setKeepAlive is queued, so that every call queued
// after it is gated) returns the connection's gate, made if missing (`made` says so);
// DropCallGate removes it (only if it is still `only`, when given); CloseConnection drops a
// reference and, when it was the last, the gate. A new connection drops whatever gate its
// address had (a connection freed there before).
std::shared_ptr<Lane> CallGate(virConnectPtr conn);
std::shared_ptr<Lane> OpenCallGate(virConnectPtr conn, bool* made = nullptr);
void DropCallGate(virConnectPtr conn, const std::shared_ptr<Lane>& only = nullptr);
void CloseConnection(virConnectPtr conn, int* left = nullptr);
size_t CallGateCount();  // gates that exist (diagnostics)

// Per-type traits: T::Ptr, T::Ref(ptr) (adds a reference), T::Unref(ptr), T::kName,
// T::kTag (napi_type_tag), T::kInvalid (the libvirt error code for a freed handle) and
// T::kFreed (its message), T::Class (the wrap class, which has a static Constructor(env)),
// T::Conn(ptr) (the connection the object's calls go through, for CallGate).
template <typename T>
class Hold {
 public:
  using Ptr = typename T::Ptr;
  Hold() = default;
  // Adds a reference to p.
  static Hold Take(Ptr p) {
    Hold r;
    if (p && T::Ref(p) == 0) r.p_ = p;
    return r;
  }
  // Adopts a reference the caller already owns.
  static Hold Adopt(Ptr p) {
    Hold r;
    r.p_ = p;
    return r;
  }
  Hold(Hold&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
  Hold& operator=(Hold&& o) noexcept {
    if (this != &o) {
      Reset();
      p_ = std::exchange(o.p_, nullptr);
    }
    return *this;
  }
  Hold(const Hold&) = delete;
  Hold& operator=(const Hold&) = delete;
  ~Hold() { Reset(); }

  Ptr get() const { return p_; }
  explicit operator bool() const { return p_ != nullptr; }
  Ptr Release() { return std::exchange(p_, nullptr); }
  void Reset() {
    if (p_) T::Unref(std::exchange(p_, nullptr));
  }

 private:
  Ptr p_ = nullptr;
};

// How Wrap() hands a native pointer to the wrap constructor it calls: through a per-thread
// slot, not as constructor arguments. An External per wrap would leave one small allocation of
// Node's behind for every wrap V8 has not collected when its environment ends (V8 runs no weak
// callbacks at teardown). The constructor runs synchronously inside New(), on the thread of its
// one environment, so the slot cannot be seen by another construction; `new` from JS finds it
// unarmed and throws.
class NativeConstruct {
 public:
  explicit NativeConstruct(void* p) : prev_(std::exchange(slot_, Slot{p, true})) {}
  ~NativeConstruct() { slot_ = prev_; }
  NativeConstruct(const NativeConstruct&) = delete;
  NativeConstruct& operator=(const NativeConstruct&) = delete;
  // In a wrap constructor: the pointer Wrap() passed (once), or false for a call from JS.
  static bool Take(void** out) {
    if (!slot_.armed) return false;
    *out = slot_.ptr;
    slot_.armed = false;
    return true;
  }

 private:
  struct Slot {
    void* ptr;
    bool armed;
  };
  static thread_local Slot slot_;
  Slot prev_;
};

template <typename Derived, typename T>
class Handle : public Napi::ObjectWrap<Derived> {
 public:
  using Ptr = typename T::Ptr;

  explicit Handle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Derived>(info) {
    Napi::Env env = info.Env();
    void* p = nullptr;
    if (!NativeConstruct::Take(&p))
      throw Napi::TypeError::New(env, std::string("Illegal constructor: ") + T::kName +
                                          " objects are created by virtkit only");
    ptr_ = static_cast<Ptr>(p);
    napi_type_tag_object(env, info.This(), &T::kTag);
  }

  ~Handle() override {
    if (Ptr p = std::exchange(ptr_, nullptr)) ReleaseOffThread([p] { T::Unref(p); });
  }

  // Wraps an owned reference in a new JS object of this class.
  static Napi::Object Wrap(Napi::Env env, Napi::FunctionReference& ctor, Hold<T> ref) {
    Ptr p = ref.Release();
    try {
      NativeConstruct pass(p);
      return ctor.New({});
    } catch (...) {
      ReleaseOffThread([p] { T::Unref(p); });
      throw;
    }
  }

  // The wrap behind a JS value, or a TypeError if it is not a live object of this type.
  static Derived* FromValue(Napi::Value v, const char* what) {
    Napi::Env env = v.Env();
    bool ok = false;
    if (v.IsObject()) napi_check_object_type_tag(env, v, &T::kTag, &ok);
    if (!ok) throw Napi::TypeError::New(env, std::string(what) + " must be a " + T::kName);
    return Napi::ObjectWrap<Derived>::Unwrap(v.As<Napi::Object>());
  }

  Ptr ptr() const { return ptr_; }

  // What a call on a freed handle rejects with.
  static Failure FreedFailure() { return Failure::Local(T::kInvalid, T::kFreed); }

  using Method = Napi::Value (Derived::*)(const Napi::CallbackInfo&);
  using Props = std::vector<typename Napi::ObjectWrap<Derived>::PropertyDescriptor>;

  // DefineClass with the methods every handle of a child object has: free(), isFreed().
  static Napi::Function DefineHandleClass(Napi::Env env, const char* name, Props props) {
    props.push_back(Napi::ObjectWrap<Derived>::InstanceMethod("free", static_cast<Method>(&Handle::Free)));
    props.push_back(Napi::ObjectWrap<Derived>::InstanceMethod("isFreed", static_cast<Method>(&Handle::IsFreed)));
    return Napi::ObjectWrap<Derived>::DefineClass(env, name, props);
  }

 protected:
  // Queues fn(Ptr) on the thread pool with its own reference. A freed handle rejects
  // without a thread hop.
  template <typename Fn>
  Napi::Value Call(const Napi::CallbackInfo& info, Fn fn) {
    Napi::Env env = info.Env();
    if (!ptr_) return RejectedPromise(env, FreedFailure());
    Hold<T> ref = Hold<T>::Take(ptr_);
    if (!ref) return RejectedPromise(env, Failure::FromLastError());
    std::shared_ptr<Lane> gate = CallGate(T::Conn(ref.get()));
    return Queue(env, [ref = std::move(ref), fn = std::move(fn)]() mutable { return fn(ref.get()); }, gate);
  }

  // Gives up the wrap's own reference; returns it (or an empty Ref if already freed).
  Hold<T> Detach() { return Hold<T>::Adopt(std::exchange(ptr_, nullptr)); }

  Napi::Value IsFreed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), ptr_ == nullptr); }

  // free(): gives up the wrap's reference now (idempotent); calls in flight keep theirs.
  Napi::Value Free(const Napi::CallbackInfo& info) {
    if (Ptr p = std::exchange(ptr_, nullptr)) ReleaseOffThread([p] { T::Unref(p); });
    return info.Env().Undefined();
  }

  // For accessors that libvirt answers from the local object (name, UUID, key): no I/O, so
  // they run synchronously. fn(env, ptr) returns the JS value.
  template <typename Fn>
  Napi::Value Local(const Napi::CallbackInfo& info, Fn fn) {
    Napi::Env env = info.Env();
    if (!ptr_) ThrowJs(env, FreedFailure());
    return fn(env, ptr_);
  }

  // A string libvirt keeps inside the local object (name, key): not to be freed.
  template <const char* (*Get)(Ptr)>
  Napi::Value LocalString(const Napi::CallbackInfo& info) {
    return Local(info, [](Napi::Env env, Ptr p) -> Napi::Value {
      const char* s = Get(p);
      if (!s) ThrowJs(env, Failure::FromLastError());
      return Napi::String::New(env, s);
    });
  }

  // The object's UUID as libvirt formats it locally.
  template <int (*Get)(Ptr, char*)>
  Napi::Value LocalUUID(const Napi::CallbackInfo& info) {
    return Local(info, [](Napi::Env env, Ptr p) -> Napi::Value {
      char uuid[VIR_UUID_STRING_BUFLEN];
      if (Get(p, uuid) < 0) ThrowJs(env, Failure::FromLastError());
      return Napi::String::New(env, uuid);
    });
  }

 private:
  Ptr ptr_ = nullptr;
  LiveCount<T> live_;  // diagnostics.liveObjects()
};

// Takes ownership of a libvirt-allocated array of n objects (each with one reference) and
// frees the array; throws the last error when n < 0.
template <typename T>
std::vector<Hold<T>> TakeList(typename T::Ptr* list, int n) {
  if (n < 0) ThrowLastError();
  std::vector<Hold<T>> out;
  out.reserve(n);
  for (int i = 0; i < n; i++) out.push_back(Hold<T>::Adopt(list[i]));  // JS owns list[i] now
  free(list);
  return out;
}

// Adapts a libvirt predicate (1 true, 0 false, -1 error) to a worker lambda returning bool.
template <typename Fn>
auto BoolResult(Fn f) {
  return [f](auto p) {
    int r = f(p);
    if (r < 0) ThrowLastError();
    return r == 1;
  };
}

// Adapts `int f(ptr, args...)` (negative on failure) to a worker lambda with no result.
template <typename Fn, typename... A>
auto VoidResult(Fn f, A... args) {
  return [f, args...](auto p) {
    if (f(p, args...) < 0) ThrowLastError();
  };
}

// Adapts a `virXListAll*(parent, &list, flags)` function to a worker lambda that returns
// the listed objects as owned references.
template <typename T, typename Parent>
auto ListAllResult(int (*listAll)(Parent, typename T::Ptr**, unsigned int), unsigned int flags) {
  return [listAll, flags](Parent parent) {
    typename T::Ptr* list = nullptr;
    int n = listAll(parent, &list, flags);
    return TakeList<T>(list, n);
  };
}

// A libvirt object returned by a worker becomes a new wrap (of its traits' class) in JS.
template <typename T>
Napi::Value ToJs(Napi::Env env, Hold<T>&& ref) {
  if (!ref) return env.Null();
  return T::Class::Wrap(env, T::Class::Constructor(env), std::move(ref));
}

}  // namespace virtkit
