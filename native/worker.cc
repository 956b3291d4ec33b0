#include "worker.h"
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include "addon.h"

namespace virtkit {

namespace {

// The process-wide call pool: threads are started as calls need them, up to a maximum
// (VIRTKIT_THREADPOOL_SIZE, default 32), and live as long as the process. It is leaked on
// purpose so that no static destructor runs while a thread is still inside libvirt.
class CallPool {
 public:
  static CallPool& Get() {
    static CallPool* pool = new CallPool();
    return *pool;
  }

  void Submit(std::function<void()> task) {
    bool spawn = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      tasks_.push_back(std::move(task));
      if (idle_ <= waking_ && threads_ < max_) {
        threads_++;
        spawn = true;
      } else {
        waking_++;
      }
    }
    // Signalled outside the lock, so the woken thread does not block on it at once.
    if (spawn) std::thread([this] { Loop(); }).detach();
    else cv_.notify_one();
  }

 private:
  CallPool() {
    const char* env = std::getenv("VIRTKIT_THREADPOOL_SIZE");
    long n = env ? std::strtol(env, nullptr, 10) : 0;
    max_ = n >= 1 && n <= 1024 ? size_t(n) : 32;
  }

  void Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      idle_++;
      cv_.wait(lock, [this] { return !tasks_.empty(); });
      idle_--;
      if (waking_ > 0) waking_--;
      std::function<void()> task = std::move(tasks_.front());
      tasks_.pop_front();
      lock.unlock();
      task();
      lock.lock();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  size_t threads_ = 0, idle_ = 0, max_ = 32;
  size_t waking_ = 0;  // notifications sent to idle threads that have not woken yet
};

// Where finished jobs of one environment go: its thread-safe function, while it lives.
// Shared by the pool threads (through each envelope) and the environment.
struct Home {
  std::mutex mu;
  napi_threadsafe_function tsfn = nullptr;  // null once the environment is torn down
};

struct Envelope {
  std::unique_ptr<Job> job;
  napi_deferred deferred;
  std::shared_ptr<Home> home;
};

// Per-environment state, owned by AddonData.
struct Dispatcher {
  std::shared_ptr<Home> home = std::make_shared<Home>();
  size_t pending = 0;  // main thread only: calls queued and not yet settled
};

Dispatcher* GetDispatcher(Napi::Env env) { return static_cast<Dispatcher*>(AddonData::Get(env)->dispatcher.get()); }

void CallJs(napi_env raw_env, napi_value, void* context, void* data) {
  std::unique_ptr<Envelope> envelope(static_cast<Envelope*>(data));
  if (!raw_env) return;  // the environment is going away: drop the job unsettled
  Napi::Env env(raw_env);
  try {
    Napi::HandleScope scope(env);
    envelope->job->Settle(env, envelope->deferred);
  } catch (...) {
    // Only when JS can no longer run (a worker being terminated): nothing left to settle.
  }
  auto* dispatcher = static_cast<Dispatcher*>(context);
  if (--dispatcher->pending == 0) napi_unref_threadsafe_function(raw_env, dispatcher->home->tsfn);
}

void FinalizeTsfn(napi_env, void* finalize_data, void*) {
  // Runs on the main thread when the environment tears the function down; from now on,
  // pool threads drop what they finish for this environment.
  auto* home = static_cast<std::shared_ptr<Home>*>(finalize_data);
  {
    std::lock_guard<std::mutex> lock((*home)->mu);
    (*home)->tsfn = nullptr;
  }
  delete home;
}

}  // namespace

void InitDispatcher(Napi::Env env) {
  auto owned = std::make_shared<Dispatcher>();
  Dispatcher* dispatcher = owned.get();
  AddonData::Get(env)->dispatcher = owned;
  napi_value name;
  napi_create_string_utf8(env, "virtkit", NAPI_AUTO_LENGTH, &name);
  auto* finalizeData = new std::shared_ptr<Home>(dispatcher->home);
  napi_threadsafe_function tsfn;
  if (napi_create_threadsafe_function(env, nullptr, nullptr, name, 0, 1, finalizeData, FinalizeTsfn, dispatcher,
                                      CallJs, &tsfn) != napi_ok) {
    delete finalizeData;
    throw Napi::Error::New(env, "virtkit: cannot create its thread-safe function");
  }
  dispatcher->home->tsfn = tsfn;
  napi_unref_threadsafe_function(env, tsfn);  // idle: keeps no process alive
}

Napi::Promise QueueJob(Napi::Env env, std::unique_ptr<Job> job) {
  Dispatcher* dispatcher = GetDispatcher(env);
  napi_deferred deferred;
  napi_value promise;
  NAPI_THROW_IF_FAILED(env, napi_create_promise(env, &deferred, &promise), Napi::Promise());
  if (dispatcher->pending++ == 0) napi_ref_threadsafe_function(env, dispatcher->home->tsfn);
  auto* envelope = new Envelope{std::move(job), deferred, dispatcher->home};
  CallPool::Get().Submit([envelope] {
    envelope->job->Run();
    std::shared_ptr<Home> home = envelope->home;
    std::lock_guard<std::mutex> lock(home->mu);
    if (!home->tsfn || napi_call_threadsafe_function(home->tsfn, envelope, napi_tsfn_nonblocking) != napi_ok)
      delete envelope;  // environment gone: nobody to settle for
  });
  return Napi::Promise(env, promise);
}

void ResolveDeferred(Napi::Env env, napi_deferred d, Napi::Value v) { napi_resolve_deferred(env, d, v); }
void RejectDeferred(Napi::Env env, napi_deferred d, Napi::Value v) { napi_reject_deferred(env, d, v); }

}  // namespace virtkit
