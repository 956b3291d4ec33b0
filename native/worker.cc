#include "worker.h"
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <functional>
#include <mutex>
#include <system_error>
#include <thread>
#include <uv.h>
#include "addon.h"
#include "handle.h"
#include <vector>

namespace virtkit {

namespace {

// The process-wide call pool: threads are started as calls need them, up to a maximum
// (VIRTKIT_THREADPOOL_SIZE, default 32), and live as long as the process. After a call, one
// idle thread polls for the next for up to VIRTKIT_SPIN_US microseconds (default 15)
// before it sleeps. It is leaked on
// purpose so that no static destructor runs while a thread is still inside libvirt.
inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

class CallPool {
 public:
  static CallPool& Get() {
    static CallPool* pool = new CallPool();
    return *pool;
  }

  // Queues task; false when no thread exists to run it and none can be started.
  bool Submit(std::function<void()> task) {
    bool spawn = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      tasks_.push_back(std::move(task));
      queued_.fetch_add(1, std::memory_order_release);
      // A thread polling for work takes the first task without a wake-up; later ones get
      // threads of their own, or one blocking call would hold up the rest.
      if (spinning_ && tasks_.size() == 1) return true;
      if (idle_ <= waking_ && threads_ < max_) {
        threads_++;
        spawn = true;
      } else {
        waking_++;
      }
    }
    if (!spawn) {
      cv_.notify_one();  // outside the lock, so the woken thread does not block on it at once
      return true;
    }
    try {
      std::thread([this] { Loop(); }).detach();
      return true;
    } catch (const std::system_error&) {
      // Out of threads (a pid or ulimit cap): the threads that exist will run the task;
      // with none at all, take it back.
      std::lock_guard<std::mutex> lock(mu_);
      threads_--;
      if (threads_ > 0) return true;
      tasks_.pop_back();
      queued_.fetch_sub(1, std::memory_order_relaxed);
      return false;
    }
  }

 private:
  CallPool() {
    const char* env = std::getenv("VIRTKIT_THREADPOOL_SIZE");
    long n = env ? std::strtol(env, nullptr, 10) : 0;
    max_ = n >= 1 && n <= 1024 ? size_t(n) : 32;
    if (const char* spin = std::getenv("VIRTKIT_SPIN_US")) {
      long us = std::strtol(spin, nullptr, 10);
      if (us >= 0 && us <= 10000) spinMicros_ = us;
    }
  }

  void Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      if (tasks_.empty() && !spinning_ && spinMicros_ > 0) Spin(lock);
      idle_++;
      cv_.wait(lock, [this] { return !tasks_.empty(); });
      idle_--;
      if (waking_ > 0) waking_--;
      std::function<void()> task = std::move(tasks_.front());
      tasks_.pop_front();
      queued_.fetch_sub(1, std::memory_order_relaxed);
      lock.unlock();
      task();
      lock.lock();
    }
  }

  // One thread at a time polls briefly for the next call before it sleeps: a caller that
  // awaits one call and then makes the next (the common sequential pattern) then costs no
  // futex wake-up on this side.
  void Spin(std::unique_lock<std::mutex>& lock) {
    spinning_ = true;
    lock.unlock();
    auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(spinMicros_);
    while (queued_.load(std::memory_order_acquire) == 0 && std::chrono::steady_clock::now() < until)
      CpuRelax();
    lock.lock();
    spinning_ = false;
  }

  long spinMicros_ = 15;  // VIRTKIT_SPIN_US; 0 turns polling off
  std::atomic<size_t> queued_{0};
  bool spinning_ = false;  // under mu_
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  size_t threads_ = 0, idle_ = 0, max_ = 32;
  size_t waking_ = 0;  // notifications sent to idle threads that have not woken yet
};

// Finished jobs of one environment wait here until its main thread settles them. Shared by
// the pool threads and the environment; `async` is null once the environment is torn down.
struct Envelope {
  std::unique_ptr<Job> job;
  Deferred deferred;
};

struct Home {
  std::mutex mu;
  uv_async_t* async = nullptr;
  std::deque<std::unique_ptr<Envelope>> done;
};

// The promises of queued calls are made and settled by these two JS functions (one pair per
// environment), not with napi_create_promise: Node frees a napi_deferred only when it is
// settled, and once an environment is being torn down (a worker thread terminated, with calls
// still running on the pool) no N-API call can settle one any more (napi_reject_deferred
// answers napi_pending_exception), so every such call would leave its deferred behind. Here a
// call's resolvers live in a Map of the environment's own heap and go with it.
constexpr const char kPromiseTable[] = R"JS((() => {
  const pending = new Map();
  return [
    (id) => new Promise((resolve, reject) => { pending.set(id, [resolve, reject]); }),
    (id, ok, value) => { const r = pending.get(id); pending.delete(id); r[ok ? 0 : 1](value); },
  ];
})())JS";

// Settled per wake-up of the main thread: enough to amortise the wake-up, few enough that
// timers and I/O run in between when thousands of calls finish at once.
constexpr size_t kSettleBatch = 64;

// Per-environment state, owned by AddonData. Main thread only.
struct Dispatcher {
  napi_env env = nullptr;
  std::shared_ptr<Home> home = std::make_shared<Home>();
  uv_async_t* async = nullptr;
  napi_ref resource = nullptr;
  napi_async_context context = nullptr;
  size_t pending = 0;  // calls queued and not yet settled
  napi_ref makePromise = nullptr, settle = nullptr;  // kPromiseTable's functions
  double nextId = 0;

  void Drain();
};

Dispatcher* GetDispatcher(Napi::Env env) { return static_cast<Dispatcher*>(AddonData::Get(env)->dispatcher.get()); }

void Dispatcher::Drain() {
  std::deque<std::unique_ptr<Envelope>> batch;
  bool more;
  {
    std::lock_guard<std::mutex> lock(home->mu);
    while (!home->done.empty() && batch.size() < kSettleBatch) {
      batch.push_back(std::move(home->done.front()));
      home->done.pop_front();
    }
    more = !home->done.empty();
  }
  if (more) uv_async_send(async);  // the rest after the loop has had its turn
  if (batch.empty()) return;
  Napi::Env e(env);
  Napi::HandleScope scope(e);
  napi_value resourceObject;
  napi_get_reference_value(env, resource, &resourceObject);
  // A callback scope: promise reactions (the callers' awaits) run when it closes.
  napi_callback_scope cbScope;
  bool scoped = napi_open_callback_scope(env, resourceObject, context, &cbScope) == napi_ok;
  std::vector<std::unique_ptr<Envelope>> leftovers;
  for (auto& envelope : batch) {
    try {
      envelope->job->Settle(e, envelope->deferred);
    } catch (...) {
      // Settle() rejects on its own failures; this is reached only when JS can no longer run
      // (a worker being terminated). What the job still holds may be libvirt references.
      leftovers.push_back(std::move(envelope));
    }
    pending--;
  }
  if (scoped) napi_close_callback_scope(env, cbScope);
  if (pending == 0) uv_unref(reinterpret_cast<uv_handle_t*>(async));
  if (!leftovers.empty()) {
    auto shared = std::make_shared<std::vector<std::unique_ptr<Envelope>>>(std::move(leftovers));
    ReleaseOffThread([shared] { shared->clear(); });
  }
}

void Teardown(void* arg) {
  // The environment is going away: from now on, pool threads drop what they finish for it.
  auto* dispatcher = static_cast<Dispatcher*>(arg);
  {
    std::lock_guard<std::mutex> lock(dispatcher->home->mu);
    dispatcher->home->async = nullptr;
    // Results not settled may hold libvirt references: drop them off the main thread.
    auto leftovers = std::make_shared<std::deque<std::unique_ptr<Envelope>>>(std::move(dispatcher->home->done));
    ReleaseOffThread([leftovers] { leftovers->clear(); });
  }
  uv_close(reinterpret_cast<uv_handle_t*>(dispatcher->async),
           [](uv_handle_t* handle) { delete reinterpret_cast<uv_async_t*>(handle); });
  dispatcher->async = nullptr;
  napi_async_destroy(dispatcher->env, dispatcher->context);
  napi_delete_reference(dispatcher->env, dispatcher->resource);
  // Allowed during teardown (unlike settling): the table itself goes with the heap.
  napi_delete_reference(dispatcher->env, dispatcher->makePromise);
  napi_delete_reference(dispatcher->env, dispatcher->settle);
}

}  // namespace

void InitDispatcher(Napi::Env env) {
  auto owned = std::make_shared<Dispatcher>();
  Dispatcher* dispatcher = owned.get();
  AddonData::Get(env)->dispatcher = owned;
  dispatcher->env = env;
  uv_loop_t* loop = nullptr;
  NAPI_THROW_IF_FAILED_VOID(env, napi_get_uv_event_loop(env, &loop));
  dispatcher->async = new uv_async_t;
  dispatcher->async->data = dispatcher;
  uv_async_init(loop, dispatcher->async, [](uv_async_t* handle) { static_cast<Dispatcher*>(handle->data)->Drain(); });
  uv_unref(reinterpret_cast<uv_handle_t*>(dispatcher->async));  // idle: keeps no process alive
  dispatcher->home->async = dispatcher->async;
  Napi::Object resource = Napi::Object::New(env);
  NAPI_THROW_IF_FAILED_VOID(env, napi_create_reference(env, resource, 1, &dispatcher->resource));
  NAPI_THROW_IF_FAILED_VOID(env, napi_async_init(env, resource, Napi::String::New(env, "virtkit"), &dispatcher->context));
  napi_value table;
  NAPI_THROW_IF_FAILED_VOID(env, napi_run_script(env, Napi::String::New(env, kPromiseTable), &table));
  Napi::Array fns(env, table);
  NAPI_THROW_IF_FAILED_VOID(env, napi_create_reference(env, fns.Get(0u), 1, &dispatcher->makePromise));
  NAPI_THROW_IF_FAILED_VOID(env, napi_create_reference(env, fns.Get(1u), 1, &dispatcher->settle));
  NAPI_THROW_IF_FAILED_VOID(env, napi_add_env_cleanup_hook(env, Teardown, dispatcher));
}

// Drops a job off the JS thread: it may hold libvirt references.
static void DiscardJob(std::unique_ptr<Job> job) {
  auto shared = std::shared_ptr<Job>(std::move(job));
  ReleaseOffThread([shared]() mutable { shared.reset(); });
}

bool Lane::Submit(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (running_) {
      queue_.push_back(std::move(task));  // the thread that owns the lane runs it next
      return true;
    }
    running_ = true;
  }
  if (CallPool::Get().Submit([self = shared_from_this(), task = std::move(task)]() mutable {
        task();
        task = nullptr;  // what it holds goes before the next task runs
        self->Drain();
      }))
    return true;
  std::lock_guard<std::mutex> lock(mu_);
  running_ = false;
  return false;
}

void Lane::Drain() {
  for (;;) {
    std::function<void()> next;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (queue_.empty()) {
        running_ = false;
        return;
      }
      next = std::move(queue_.front());
      queue_.pop_front();
    }
    next();
  }
}

Napi::Promise QueueJob(Napi::Env env, std::unique_ptr<Job> job, const std::shared_ptr<Lane>& lane) {
  Dispatcher* dispatcher = GetDispatcher(env);
  std::optional<Deferred> made;
  try {
    made.emplace(Deferred::New(env));
  } catch (...) {
    DiscardJob(std::move(job));
    throw;
  }
  Deferred deferred = *made;
  auto* envelope = new Envelope{std::move(job), deferred};
  std::function<void()> run = [envelope, home = dispatcher->home] {
    std::unique_ptr<Envelope> owned(envelope);
    owned->job->Run();
    std::lock_guard<std::mutex> lock(home->mu);
    if (!home->async) return;  // environment gone: nobody to settle for
    home->done.push_back(std::move(owned));
    uv_async_send(home->async);
  };
  bool queued = lane ? lane->Submit(std::move(run)) : CallPool::Get().Submit(std::move(run));
  if (!queued) {
    std::unique_ptr<Envelope> owned(envelope);
    DiscardJob(std::move(owned->job));
    deferred.Reject(MakeError(env, Failure::Local(VIR_ERR_SYSTEM_ERROR, "virtkit: cannot start a thread for the call")));
    return deferred.Promise();
  }
  if (dispatcher->pending++ == 0) uv_ref(reinterpret_cast<uv_handle_t*>(dispatcher->async));
  return deferred.Promise();
}

size_t PendingCalls(Napi::Env env) { return GetDispatcher(env)->pending; }

void RunOffThread(std::function<void()> task) {
  if (!CallPool::Get().Submit(task)) task();  // no thread can be had at all: run it here
}

Deferred Deferred::New(Napi::Env env) {
  Dispatcher* dispatcher = GetDispatcher(env);
  double id = dispatcher->nextId++;
  napi_value make, arg, promise;
  napi_get_reference_value(env, dispatcher->makePromise, &make);
  napi_create_double(env, id, &arg);
  if (napi_call_function(env, env.Undefined(), make, 1, &arg, &promise) != napi_ok) {
    // A worker being terminated stops the call and leaves its termination pending. It must be
    // taken off here: node-addon-api, finding one still pending when it rethrows a C++ error
    // to JS, throws again from its catch, and the process ends in std::terminate.
    if (env.IsExceptionPending()) throw env.GetAndClearPendingException();
    throw Napi::Error::New(env, "virtkit: cannot create a promise");
  }
  return Deferred(env, id, promise);
}

void Deferred::Settle(bool ok, napi_value v) const {
  napi_value settle, undefined, args[3];
  napi_get_reference_value(env_, GetDispatcher(Napi::Env(env_))->settle, &settle);
  napi_get_undefined(env_, &undefined);
  napi_create_double(env_, id_, &args[0]);
  napi_get_boolean(env_, ok, &args[1]);
  args[2] = v;
  // Fails only when JS can no longer run (a worker being terminated): nothing to settle then,
  // and no exception may be left pending for the next call.
  if (napi_call_function(env_, undefined, settle, 3, args, nullptr) != napi_ok) {
    napi_value pendingException;
    napi_get_and_clear_last_exception(env_, &pendingException);
  }
}

}  // namespace virtkit
