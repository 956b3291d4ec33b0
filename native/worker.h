// The one generic promise worker. Every native call that can block runs through Queue():
// the lambda runs on virtkit's call pool (native/worker.cc) and captures only plain C++
// values (strings, integers, Hold<> handles), never Napi values; its result is converted to
// JS by an overload of ToJs() on the main thread. Failures thrown as CallFailed on the pool
// thread reject the promise with a LibvirtError.
//
// Why a pool of our own rather than libuv's: libvirt calls block for as long as the daemon
// takes (a pool build or an iSCSI login can take minutes), and libuv's four threads are
// shared with fs, dns and zlib; and many calls in flight on one connection need more
// threads than four to overlap in libvirt's client. Finished calls come back to each
// environment's main thread through one uv_async handle, settled in bounded batches.
#pragma once
#include <napi.h>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <type_traits>
#include <utility>
#include <variant>
#include "convert.h"
#include "errors.h"

namespace virtkit {

// A promise that native code settles later: the counterpart of Napi::Promise::Deferred, but
// its resolvers live in a table in the environment's own JS heap, not in a napi_deferred
// (native/worker.cc says why), so one that is never settled because its environment ends
// (a worker thread terminated with calls in flight) goes with that environment.
// Main thread of its environment only; copies refer to the same promise.
class Deferred {
 public:
  static Deferred New(Napi::Env env);
  Napi::Env Env() const { return Napi::Env(env_); }
  // Valid in the handle scope New() ran in.
  Napi::Promise Promise() const { return Napi::Promise(env_, promise_); }
  // Once per promise. When JS cannot run any more, nothing happens (no exception is left).
  void Resolve(napi_value v) const { Settle(true, v); }
  void Reject(napi_value v) const { Settle(false, v); }

 private:
  Deferred(napi_env env, double id, napi_value promise) : env_(env), id_(id), promise_(promise) {}
  void Settle(bool ok, napi_value v) const;
  napi_env env_;
  double id_;
  napi_value promise_;
};

// A unit of work: Run() on a pool thread, then Settle() on the main thread of the
// environment that queued it.
class Job {
 public:
  virtual ~Job() = default;
  virtual void Run() = 0;
  virtual void Settle(Napi::Env env, const Deferred& deferred) = 0;
};

// Calls that must run one at a time, in the order they were queued (a keepalive
// connection's: CallGate in handle.h). A lane hands its calls to the pool one by one, so a
// call waiting for its turn holds no pool thread and other connections' calls go on.
class Lane : public std::enable_shared_from_this<Lane> {
 public:
  // Runs task after the lane's earlier tasks; false when no thread can be had at all.
  bool Submit(std::function<void()> task);

 private:
  void Drain();  // on a pool thread: the queued tasks, until none is left
  std::mutex mu_;
  std::deque<std::function<void()>> queue_;
  bool running_ = false;  // a pool thread owns the lane (under mu_)
};

// Queues job (on `lane` when given, else straight on the pool); returns its promise. Main
// thread only.
Napi::Promise QueueJob(Napi::Env env, std::unique_ptr<Job> job, const std::shared_ptr<Lane>& lane = nullptr);

// Runs task on the call pool (used to drop libvirt references, which can mean network I/O,
// off the JS thread). Runs it in place only if no thread can be started at all.
void RunOffThread(std::function<void()> task);

// Calls queued by env and not yet settled (diagnostics.liveObjects()). Main thread only.
size_t PendingCalls(Napi::Env env);

// Per-environment setup and teardown of the delivery path (called from module init).
void InitDispatcher(Napi::Env env);

// How a job's failures are caught and become JS errors. libvirt calls throw CallFailed and
// reject with a LibvirtError; a job of another library would bring its own policy (iSCSI
// needs none: its sessions run on the event loop, native/iscsi_engine.cc).
struct LibvirtFailures {
  using Failure = virtkit::Failure;
  using Thrown = CallFailed;
  static Failure FromException(const std::exception& e) { return Failure::Local(VIR_ERR_INTERNAL_ERROR, e.what()); }
  static Napi::Value Make(Napi::Env env, const Failure& f) { return MakeError(env, f); }
};

template <typename Fn, typename Policy = LibvirtFailures>
class FnJob final : public Job {
  using Raw = std::invoke_result_t<Fn&>;
  using Result = std::conditional_t<std::is_void_v<Raw>, std::monostate, Raw>;

 public:
  explicit FnJob(Fn&& fn) : fn_(std::move(fn)) {}

  void Run() override {
    try {
      // Move the lambda out so that whatever it holds (libvirt references, secrets) is
      // released here, on the pool thread, never on the main thread.
      Fn fn = std::move(*fn_);
      fn_.reset();
      if constexpr (std::is_void_v<Raw>) {
        fn();
        result_.emplace();
      } else {
        result_.emplace(fn());
      }
    } catch (typename Policy::Thrown& e) {
      failure_.emplace(std::move(e.failure));
    } catch (std::exception& e) {
      failure_.emplace(Policy::FromException(e));
    }
  }

  // Throws only when JS cannot run at all; every other failure rejects the promise.
  void Settle(Napi::Env env, const Deferred& deferred) override {
    try {
      if (failure_) return deferred.Reject(Policy::Make(env, *failure_));
      deferred.Resolve(ToJs(env, std::move(*result_)));
    } catch (const Napi::Error& e) {
      // Converting the result, or building the LibvirtError, failed: reject with that error
      // (or a plain one); a JS exception left pending by the failure is cleared first.
      napi_value pendingException;
      napi_get_and_clear_last_exception(env, &pendingException);
      Napi::Value reason = e.Value();
      if (reason.IsEmpty()) reason = Napi::Error::New(env, failure_ ? failure_->message : "virtkit: result conversion failed").Value();
      deferred.Reject(reason);
    }
  }

 private:
  std::optional<Fn> fn_;
  std::optional<Result> result_;
  std::optional<typename Policy::Failure> failure_;
};

// Runs fn() off the main thread (after the lane's earlier calls, when given); returns a
// promise of ToJs(fn()). Failures as Policy says.
template <typename Policy = LibvirtFailures, typename Fn>
Napi::Promise Queue(Napi::Env env, Fn fn, const std::shared_ptr<Lane>& lane = nullptr) {
  return QueueJob(env, std::make_unique<FnJob<Fn, Policy>>(std::move(fn)), lane);
}

}  // namespace virtkit
