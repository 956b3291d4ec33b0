// The one generic promise worker. Every native call that can block runs through Queue():
// the lambda runs on the libuv thread pool and captures only plain C++ values (strings,
// integers, Ref<> handles), never Napi values; its result is converted to JS by an
// overload of ToJs() on the main thread. Failures thrown as CallFailed on the worker thread
// reject the promise with a LibvirtError.
#pragma once
#include <napi.h>
#include <optional>
#include <type_traits>
#include <utility>
#include <variant>
#include "convert.h"
#include "errors.h"

namespace virtkit {

template <typename Fn>
class PromiseWorker final : public Napi::AsyncWorker {
  using Raw = std::invoke_result_t<Fn&>;
  using Result = std::conditional_t<std::is_void_v<Raw>, std::monostate, Raw>;

 public:
  PromiseWorker(Napi::Env env, Fn&& fn)
      : Napi::AsyncWorker(env, "virtkit"),
        deferred_(Napi::Promise::Deferred::New(env)),
        fn_(std::move(fn)) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    try {
      // Move the lambda out so that whatever it holds (libvirt references, secrets) is
      // released here, on the worker thread, never on the main thread.
      Fn fn = std::move(*fn_);
      fn_.reset();
      if constexpr (std::is_void_v<Raw>) {
        fn();
        result_.emplace();
      } else {
        result_.emplace(fn());
      }
    } catch (CallFailed& e) {
      failure_.emplace(std::move(e.failure));
    } catch (std::exception& e) {
      failure_.emplace(Failure::Local(VIR_ERR_INTERNAL_ERROR, e.what()));
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    if (failure_) {
      deferred_.Reject(MakeError(env, *failure_));
      return;
    }
    try {
      deferred_.Resolve(ToJs(env, std::move(*result_)));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    }
  }

  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::optional<Fn> fn_;
  std::optional<Result> result_;
  std::optional<Failure> failure_;
};

// Runs fn() off the main thread; returns a promise of ToJs(fn()).
template <typename Fn>
Napi::Promise Queue(Napi::Env env, Fn fn) {
  auto* worker = new PromiseWorker<Fn>(env, std::move(fn));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

}  // namespace virtkit
