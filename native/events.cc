#include "events.h"
#include <libvirt/libvirt.h>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>
#include "addon.h"
#include "connect.h"
#include "domain.h"
#include "secret.h"
#include "storage_pool.h"
#include "typed_params.h"

namespace virtkit {

namespace {

// One field of an event: plain values copied on the event-loop thread, or a reference to
// the object the event is about (wrapped on the main thread).
using Field = std::variant<std::monostate, double, std::string, Hold<DomainTraits>, Hold<StoragePoolTraits>,
                           Hold<SecretTraits>, TypedParams>;

struct EventRecord {
  double subscription;
  std::vector<std::pair<const char*, Field>> fields;
};

// Drops a record off the event-loop thread: the references it holds keep their connection
// open, and closing a connection from inside the loop that serves it could deadlock.
void DiscardRecord(EventRecord* record) {
  std::shared_ptr<EventRecord> owned(record);
  ReleaseOffThread([owned]() mutable { owned.reset(); });
}

enum class Family { kDomain, kPool, kSecret, kClose };

void OnClose(virConnectPtr, int reason, void* o);
void ForgetCloseRegistration(virConnectPtr c);

// Undoes one registration (on a pool thread); libvirt's result (negative: failed, with the
// thread's last error set).
int Deregister(virConnectPtr c, Family f, int callbackId) {
  switch (f) {
    case Family::kDomain: return virConnectDomainEventDeregisterAny(c, callbackId);
    case Family::kPool: return virConnectStoragePoolEventDeregisterAny(c, callbackId);
    case Family::kSecret: return virConnectSecretEventDeregisterAny(c, callbackId);
    case Family::kClose: {
      int r = virConnectUnregisterCloseCallback(c, OnClose);
      if (r == 0) ForgetCloseRegistration(c);  // libvirt no longer calls it
      return r;
    }
  }
  return -1;
}

// The same, where a failure only means a dead connection with nothing left to undo.
void DeregisterQuietly(virConnectPtr c, Family f, int callbackId) {
  if (Deregister(c, f, callbackId) < 0) virResetLastError();
}

// A registration libvirt holds for this environment (and the connection it holds open).
struct LiveRegistration {
  Hold<ConnectTraits> conn;
  Family family;
  int callbackId;
};

// Per environment: the thread-safe function, or null before setEventDispatcher and after the
// environment's teardown; and, for a worker thread, its live registrations, undone when the
// worker goes (else each would keep its connection open for the life of the process).
// Shared with every registration of that environment.
struct EventSink {
  std::mutex mu;
  napi_threadsafe_function tsfn = nullptr;
  std::vector<LiveRegistration> live;
  bool gone = false;  // the environment was torn down

  void Post(EventRecord* record) {
    std::lock_guard<std::mutex> lock(mu);
    if (tsfn && napi_call_threadsafe_function(tsfn, record, napi_tsfn_nonblocking) == napi_ok) return;
    DiscardRecord(record);  // the environment is gone or going: nobody listens
  }

  // After a registration succeeded (pool thread). One that lands after the teardown is
  // undone at once.
  void Track(virConnectPtr c, Family f, int callbackId) {
    std::unique_lock<std::mutex> lock(mu);
    if (gone) {
      lock.unlock();
      DeregisterQuietly(c, f, callbackId);
      return;
    }
    live.push_back({Hold<ConnectTraits>::Take(c), f, callbackId});
  }

  // After a deregistration succeeded (pool thread).
  void Untrack(virConnectPtr c, Family f, int callbackId) {
    std::vector<LiveRegistration> dropped;  // released after the lock
    std::lock_guard<std::mutex> lock(mu);
    for (auto it = live.begin(); it != live.end(); ++it)
      if (it->conn.get() == c && it->family == f && it->callbackId == callbackId) {
        dropped.push_back(std::move(*it));
        live.erase(it);
        break;
      }
  }

  // The worker's environment is going: undo what it left registered, off its thread.
  void Teardown() {
    std::vector<LiveRegistration> all;
    {
      std::lock_guard<std::mutex> lock(mu);
      gone = true;
      all = std::move(live);
    }
    for (auto& l : all) {
      auto owned = std::make_shared<LiveRegistration>(std::move(l));
      RunOffThread([owned] { DeregisterQuietly(owned->conn.get(), owned->family, owned->callbackId); });
    }
  }
};

std::shared_ptr<EventSink> SinkOf(Napi::Env env) {
  auto* data = AddonData::Get(env);
  if (!data->events) data->events = std::make_shared<EventSink>();
  return std::static_pointer_cast<EventSink>(data->events);
}

napi_value FieldToJs(Napi::Env env, Field& f) {
  switch (f.index()) {
    case 0: return env.Null();
    case 1: return Napi::Number::New(env, std::get<1>(f));
    case 2: return Napi::String::New(env, std::get<2>(f));
    case 3: return ToJs(env, std::move(std::get<3>(f)));
    case 4: return ToJs(env, std::move(std::get<4>(f)));
    case 5: return ToJs(env, std::move(std::get<5>(f)));
    default: return ToJs(env, std::move(std::get<6>(f)));
  }
}

// Runs on the main thread for each posted record (env is null when the environment is
// being torn down with records still queued).
void CallJs(napi_env rawEnv, napi_value dispatcher, void*, void* data) {
  auto* record = static_cast<EventRecord*>(data);
  if (!rawEnv || !dispatcher) return DiscardRecord(record);
  std::unique_ptr<EventRecord> owned(record);
  Napi::Env env(rawEnv);
  try {
    Napi::Object event = Napi::Object::New(env);
    for (auto& [name, value] : owned->fields) event.Set(name, Napi::Value(env, FieldToJs(env, value)));
    Napi::Function(env, dispatcher).Call({Napi::Number::New(env, owned->subscription), event});
  } catch (const Napi::Error& e) {
    // A listener threw: the same as a throwing EventEmitter listener, an uncaught exception.
    napi_value pending;
    napi_get_and_clear_last_exception(rawEnv, &pending);
    napi_fatal_exception(rawEnv, e.Value().IsEmpty() ? pending : napi_value(e.Value()));
  }
  auto leftovers = std::make_shared<std::unique_ptr<EventRecord>>(std::move(owned));
  ReleaseOffThread([leftovers] { leftovers->reset(); });  // objects not wrapped (a conversion failed)
}

// The opaque pointer of one libvirt callback registration; freed by libvirt (freecb).
struct Registration {
  std::shared_ptr<EventSink> sink;
  double subscription;
};

void FreeRegistration(void* opaque) { delete static_cast<Registration*>(opaque); }

template <typename T>
Field Ref(typename T::Ptr p) {
  return Field(Hold<T>::Take(p));
}
Field Str(const char* s) { return s ? Field(std::string(s)) : Field(); }
Field Num(double v) { return Field(v); }

// Collects an event's fields and posts the record when the statement ends:
// Send(opaque)("domain", Ref<D>(d))("event", Num(event));
class Out {
 public:
  explicit Out(void* opaque) : reg_(static_cast<Registration*>(opaque)), record_(new EventRecord{reg_->subscription, {}}) {
    // When libvirt raised it, on the clock process.hrtime() reads (CLOCK_MONOTONIC): the
    // benchmark's delivery latency. Not part of the typed events.
    auto now = std::chrono::steady_clock::now().time_since_epoch();
    record_->fields.emplace_back("raisedNs", Num(double(std::chrono::duration_cast<std::chrono::nanoseconds>(now).count())));
  }
  ~Out() { reg_->sink->Post(record_.release()); }
  Out& operator()(const char* name, Field value) {
    record_->fields.emplace_back(name, std::move(value));
    return *this;
  }

 private:
  Registration* reg_;
  std::unique_ptr<EventRecord> record_;
};

Out Send(void* opaque) { return Out(opaque); }

// ---- domain events: one callback per signature in libvirt-domain.h ----
using D = DomainTraits;

int OnDomainLifecycle(virConnectPtr, virDomainPtr d, int event, int detail, void* o) {
  Send(o)("domain", Ref<D>(d))("event", Num(event))("detail", Num(detail));
  return 0;
}
void OnDomainGeneric(virConnectPtr, virDomainPtr d, void* o) { Send(o)("domain", Ref<D>(d)); }
void OnDomainRtcChange(virConnectPtr, virDomainPtr d, long long utcOffset, void* o) {
  Send(o)("domain", Ref<D>(d))("utcOffset", Num(double(utcOffset)));
}
void OnDomainWatchdog(virConnectPtr, virDomainPtr d, int action, void* o) {
  Send(o)("domain", Ref<D>(d))("action", Num(action));
}
void OnDomainIOError(virConnectPtr, virDomainPtr d, const char* srcPath, const char* devAlias, int action, void* o) {
  Send(o)("domain", Ref<D>(d))("srcPath", Str(srcPath))("devAlias", Str(devAlias))("action", Num(action));
}
void OnDomainIOErrorReason(virConnectPtr, virDomainPtr d, const char* srcPath, const char* devAlias, int action,
                           const char* reason, void* o) {
  Send(o)("domain", Ref<D>(d))("srcPath", Str(srcPath))("devAlias", Str(devAlias))("action", Num(action))("reason", Str(reason));
}
void OnDomainBlockJob(virConnectPtr, virDomainPtr d, const char* disk, int type, int status, void* o) {
  Send(o)("domain", Ref<D>(d))("disk", Str(disk))("type", Num(type))("status", Num(status));
}
void OnDomainDiskChange(virConnectPtr, virDomainPtr d, const char* oldSrc, const char* newSrc, const char* devAlias,
                        int reason, void* o) {
  Send(o)("domain", Ref<D>(d))("oldSrcPath", Str(oldSrc))("newSrcPath", Str(newSrc))("devAlias", Str(devAlias))("reason", Num(reason));
}
void OnDomainTrayChange(virConnectPtr, virDomainPtr d, const char* devAlias, int reason, void* o) {
  Send(o)("domain", Ref<D>(d))("devAlias", Str(devAlias))("reason", Num(reason));
}
void OnDomainReason(virConnectPtr, virDomainPtr d, int reason, void* o) {
  Send(o)("domain", Ref<D>(d))("reason", Num(reason));
}
void OnDomainBalloonChange(virConnectPtr, virDomainPtr d, unsigned long long actual, void* o) {
  Send(o)("domain", Ref<D>(d))("actualKiB", Num(double(actual)));
}
void OnDomainDevice(virConnectPtr, virDomainPtr d, const char* devAlias, void* o) {
  Send(o)("domain", Ref<D>(d))("devAlias", Str(devAlias));
}
void OnDomainAgentLifecycle(virConnectPtr, virDomainPtr d, int state, int reason, void* o) {
  Send(o)("domain", Ref<D>(d))("state", Num(state))("reason", Num(reason));
}
void OnDomainMigrationIteration(virConnectPtr, virDomainPtr d, int iteration, void* o) {
  Send(o)("domain", Ref<D>(d))("iteration", Num(iteration));
}
void OnDomainMetadataChange(virConnectPtr, virDomainPtr d, int type, const char* nsuri, void* o) {
  Send(o)("domain", Ref<D>(d))("type", Num(type))("nsuri", Str(nsuri));
}
void OnDomainBlockThreshold(virConnectPtr, virDomainPtr d, const char* dev, const char* path,
                            unsigned long long threshold, unsigned long long excess, void* o) {
  Send(o)("domain", Ref<D>(d))("dev", Str(dev))("path", Str(path))("threshold", Num(double(threshold)))("excess", Num(double(excess)));
}
void OnDomainMemoryFailure(virConnectPtr, virDomainPtr d, int recipient, int action, unsigned int flags, void* o) {
  Send(o)("domain", Ref<D>(d))("recipient", Num(recipient))("action", Num(action))("flags", Num(flags));
}
void OnDomainMemoryDeviceSizeChange(virConnectPtr, virDomainPtr d, const char* alias, unsigned long long size,
                                    void* o) {
  Send(o)("domain", Ref<D>(d))("alias", Str(alias))("sizeKiB", Num(double(size)));
}

void OnDomainParams(virConnectPtr, virDomainPtr d, virTypedParameterPtr params, int n, void* o) {
  Send(o)("domain", Ref<D>(d))("params", Field(CopyTypedParams(params, n)));  // libvirt frees params
}

// The callback for a domain event id, or null for ids virtkit does not deliver (graphics:
// listed in lib/events.ts with the reason).
virConnectDomainEventGenericCallback DomainCallback(int id) {
  switch (id) {
    case VIR_DOMAIN_EVENT_ID_LIFECYCLE: return VIR_DOMAIN_EVENT_CALLBACK(OnDomainLifecycle);
    case VIR_DOMAIN_EVENT_ID_REBOOT:
    case VIR_DOMAIN_EVENT_ID_CONTROL_ERROR: return VIR_DOMAIN_EVENT_CALLBACK(OnDomainGeneric);
    case VIR_DOMAIN_EVENT_ID_RTC_CHANGE: return VIR_DOMAIN_EVENT_CALLBACK(OnDomainRtcChange);
    case VIR_DOMAIN_EVENT_ID_WATCHDOG: return VIR_DOMAIN_EVENT_CALLBACK(OnDomainWatchdog);
    case VIR_DOMAIN_EVENT_ID_IO_ERROR: return VIR_DOMAIN_EVENT_CALLBACK(OnDomainIOError);
    case VIR_DOMAIN_EVENT_ID_IO_ERROR_REASON: return VIR_DOMAIN_EVENT_CALLBACK(OnDomainIOErrorReason);
    case VIR_DOMAIN_EVENT_ID_BLOCK_JOB:
    case VIR_DOMAIN_EVENT_ID_BLOCK_JOB_2: return VIR_DOMAIN_EVENT_CALLBACK(OnDomainBlockJob);
    case VIR_DOMAIN_EVENT_ID_DISK_CHANGE: return VIR_DOMAIN_EVENT_CALLBACK(OnDomainDiskChange);
    case VIR_DOMAIN_EVENT_ID_TRAY_CHANGE: return VIR_DOMAIN_EVENT_CALLBACK(OnDomainTrayChange);
    case VIR_DOMAIN_EVENT_ID_PMWAKEUP:
    case VIR_DOMAIN_EVENT_ID_PMSUSPEND:
    case VIR_DOMAIN_EVENT_ID_PMSUSPEND_DISK: return VIR_DOMAIN_EVENT_CALLBACK(OnDomainReason);
    case VIR_DOMAIN_EVENT_ID_BALLOON_CHANGE: return VIR_DOMAIN_EVENT_CALLBACK(OnDomainBalloonChange);
    case VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED:
    case VIR_DOMAIN_EVENT_ID_DEVICE_ADDED:
    case VIR_DOMAIN_EVENT_ID_DEVICE_REMOVAL_FAILED: return VIR_DOMAIN_EVENT_CALLBACK(OnDomainDevice);
    case VIR_DOMAIN_EVENT_ID_AGENT_LIFECYCLE: return VIR_DOMAIN_EVENT_CALLBACK(OnDomainAgentLifecycle);
    case VIR_DOMAIN_EVENT_ID_MIGRATION_ITERATION: return VIR_DOMAIN_EVENT_CALLBACK(OnDomainMigrationIteration);
    case VIR_DOMAIN_EVENT_ID_METADATA_CHANGE: return VIR_DOMAIN_EVENT_CALLBACK(OnDomainMetadataChange);
    case VIR_DOMAIN_EVENT_ID_BLOCK_THRESHOLD: return VIR_DOMAIN_EVENT_CALLBACK(OnDomainBlockThreshold);
    case VIR_DOMAIN_EVENT_ID_MEMORY_FAILURE: return VIR_DOMAIN_EVENT_CALLBACK(OnDomainMemoryFailure);
    case VIR_DOMAIN_EVENT_ID_TUNABLE:
    case VIR_DOMAIN_EVENT_ID_JOB_COMPLETED: return VIR_DOMAIN_EVENT_CALLBACK(OnDomainParams);
    case VIR_DOMAIN_EVENT_ID_MEMORY_DEVICE_SIZE_CHANGE:
      return VIR_DOMAIN_EVENT_CALLBACK(OnDomainMemoryDeviceSizeChange);
    default: return nullptr;
  }
}

void OnAnchor(virConnectPtr, virDomainPtr, void*) {}

// Whether c is an in-process test:///default connection: scheme "test" with no transport
// ("test+unix" goes through a daemon), no host, path "/default" (a query may follow). Those
// share one driver state, and one event state, among all of them in the process.
bool SharesTestDefaultState(virConnectPtr c) {
  char* raw = virConnectGetURI(c);
  if (!raw) {
    virResetLastError();
    return false;
  }
  std::string uri(raw);
  free(raw);
  size_t colon = uri.find(':');
  if (colon == std::string::npos) return false;
  std::string scheme = uri.substr(0, colon);
  for (char& ch : scheme) ch = char(std::tolower(static_cast<unsigned char>(ch)));
  if (scheme != "test") return false;
  std::string rest = uri.substr(colon + 1);
  if (rest.rfind("//", 0) == 0) {
    size_t slash = rest.find('/', 2);
    if (slash != 2) return false;  // a host (or an empty path)
    rest = rest.substr(2);
  }
  return rest.substr(0, rest.find_first_of("?#")) == "/default";
}

// libvirt 9.0's event state (src/conf/object_event.c) loses every later event when its last
// callback is deregistered while another thread queues an event: virObjectEventStateQueueRemote
// checks the state's timer before taking its lock, the deregistration removes the timer and
// clears the queue in between, and the event is queued with no timer to flush it. The queue
// then never goes from empty to one again, which is what arms a timer, so the timer the next
// registration adds never fires: no callback of that state is called again until every one
// has gone once more (which clears the queue).
// A connection's own state is kept from emptying by its anchor (lib/emitter.ts, EventHub).
// The in-process test driver, though, shares one state among every test:///default
// connection of the process, worker threads included: a connection giving up its listeners
// races with the calls of the others. So the first registration on such a connection also
// makes the process's anchor: a test:///default connection of virtkit's own with a callback
// that delivers nothing, kept until the process ends. With it the driver's shared state stays
// too: it no longer starts afresh once every other connection has closed.
void AnchorSharedTestState(virConnectPtr c) {
  static auto* mu = new std::mutex;  // never destroyed: pool threads may run at exit
  static bool anchored = false;
  std::lock_guard<std::mutex> lock(*mu);
  if (anchored || !SharesTestDefaultState(c)) return;
  // Joins c's state (c holds it open); no credentials: test:///default asks for none.
  virConnectPtr own = virConnectOpenAuth("test:///default", nullptr, 0);
  if (own && virConnectDomainEventRegisterAny(own, nullptr, VIR_DOMAIN_EVENT_ID_CONTROL_ERROR,
                                              VIR_DOMAIN_EVENT_CALLBACK(OnAnchor), nullptr, nullptr) >= 0) {
    anchored = true;  // own and its callback stay for the life of the process
    return;
  }
  virResetLastError();  // no worse than without it: the connection's own anchor still holds
  if (own) virConnectClose(own);
}

// ---- storage pool and secret events ----
int OnPoolLifecycle(virConnectPtr, virStoragePoolPtr p, int event, int detail, void* o) {
  Send(o)("pool", Ref<StoragePoolTraits>(p))("event", Num(event))("detail", Num(detail));
  return 0;
}
void OnPoolGeneric(virConnectPtr, virStoragePoolPtr p, void* o) { Send(o)("pool", Ref<StoragePoolTraits>(p)); }

virConnectStoragePoolEventGenericCallback PoolCallback(int id) {
  switch (id) {
    case VIR_STORAGE_POOL_EVENT_ID_LIFECYCLE: return VIR_STORAGE_POOL_EVENT_CALLBACK(OnPoolLifecycle);
    case VIR_STORAGE_POOL_EVENT_ID_REFRESH: return VIR_STORAGE_POOL_EVENT_CALLBACK(OnPoolGeneric);
    default: return nullptr;
  }
}

int OnSecretLifecycle(virConnectPtr, virSecretPtr s, int event, int detail, void* o) {
  Send(o)("secret", Ref<SecretTraits>(s))("event", Num(event))("detail", Num(detail));
  return 0;
}
void OnSecretGeneric(virConnectPtr, virSecretPtr s, void* o) { Send(o)("secret", Ref<SecretTraits>(s)); }

virConnectSecretEventGenericCallback SecretCallback(int id) {
  switch (id) {
    case VIR_SECRET_EVENT_ID_LIFECYCLE: return VIR_SECRET_EVENT_CALLBACK(OnSecretLifecycle);
    case VIR_SECRET_EVENT_ID_VALUE_CHANGED: return VIR_SECRET_EVENT_CALLBACK(OnSecretGeneric);
    default: return nullptr;
  }
}

void OnClose(virConnectPtr, int reason, void* o) { Send(o)("reason", Num(reason)); }

// Reads (eventId, object|null, subscription) for an *EventRegisterAny method.
template <typename T, typename Callback>
struct RegisterArgs {
  int id;
  Callback cb;
  Hold<T> object;
  std::unique_ptr<Registration> reg;
};

template <typename T, typename Callback>
RegisterArgs<T, Callback> ReadRegisterArgs(const Napi::CallbackInfo& info, Callback (*lookup)(int)) {
  Napi::Env env = info.Env();
  int id = ArgInt(info, 0, "eventId");
  Callback cb = lookup(id);
  if (!cb) throw Napi::RangeError::New(env, "unknown or undelivered event id " + std::to_string(id));
  Hold<T> object;
  if (info.Length() > 1 && !info[1].IsNull() && !info[1].IsUndefined()) {
    auto* w = T::Class::FromValue(info[1], "the event's object");
    if (!w->ptr()) ThrowJs(env, T::Class::FreedFailure());
    object = Hold<T>::Take(w->ptr());
    if (!object) ThrowJs(env, Failure::FromLastError());
  }
  double subscription = ArgNumberInRange(info, 2, "subscription", 0, 9007199254740991.0);
  auto reg = std::make_unique<Registration>(Registration{SinkOf(env), subscription});
  return {id, cb, std::move(object), std::move(reg)};
}

// The result of an *EventRegisterAny call made with a's registration: on success libvirt owns
// the registration (freed through FreeRegistration) and the sink tracks it.
template <typename Args>
int Registered(virConnectPtr c, Family family, Args& a, int callbackId) {
  if (callbackId < 0) ThrowLastError();
  auto sink = a.reg->sink;
  a.reg.release();
  sink->Track(c, family, callbackId);
  return callbackId;
}

// After a deregistration: forgets it either way (a failure means a dead connection, which
// has nothing left to undo), then throws the failure, read before anything else runs.
void Untracked(const std::shared_ptr<EventSink>& sink, virConnectPtr c, Family family, int callbackId, int result) {
  std::optional<Failure> failure;
  if (result < 0) failure = Failure::FromLastError();
  sink->Untrack(c, family, callbackId);
  if (failure) throw CallFailed(std::move(*failure));
}

// A worker lambda for an *EventDeregisterAny (or the close callback's unregistration):
// undoes the registration with callback id `callbackId` and untracks it.
auto DeregisterJob(const Napi::CallbackInfo& info, Family family, int callbackId) {
  auto sink = SinkOf(info.Env());
  return [sink, family, callbackId](virConnectPtr c) {
    Untracked(sink, c, family, callbackId, Deregister(c, family, callbackId));
  };
}

// The libvirt callback id from an *EventDeregisterAny argument.
int ArgCallbackId(const Napi::CallbackInfo& info) { return ArgInt(info, 0, "callbackId"); }

}  // namespace

Napi::Value SetEventDispatcher(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsFunction())
    throw Napi::TypeError::New(env, "setEventDispatcher expects a function");
  auto sink = SinkOf(env);
  std::lock_guard<std::mutex> lock(sink->mu);
  if (sink->tsfn) throw Napi::Error::New(env, "the event dispatcher is already set");
  // The finalizer runs on the main thread when the environment goes away; after it, posts
  // are discarded. It holds its own share of the sink.
  auto* finalizeShare = new std::shared_ptr<EventSink>(sink);
  napi_status status = napi_create_threadsafe_function(
      env, info[0], nullptr, Napi::String::New(env, "virtkit events"), 0, 1, finalizeShare,
      [](napi_env, void* data, void*) {
        auto* share = static_cast<std::shared_ptr<EventSink>*>(data);
        {
          std::lock_guard<std::mutex> lock((*share)->mu);
          (*share)->tsfn = nullptr;
        }
        delete share;
      },
      nullptr, CallJs, &sink->tsfn);
  if (status != napi_ok) {
    delete finalizeShare;
    throw Napi::Error::New(env, "virtkit: cannot create the event thread-safe function");
  }
  napi_unref_threadsafe_function(env, sink->tsfn);  // events never keep the process alive
  // setEventDispatcher(fn, isWorker): a worker thread's registrations are undone when it
  // goes. (Not at the main thread's exit: nothing is left to serve, and the pool should not
  // be starting libvirt calls while the process ends.)
  if (info.Length() > 1 && info[1].IsBoolean() && info[1].As<Napi::Boolean>().Value()) {
    auto* hookShare = new std::shared_ptr<EventSink>(sink);
    napi_add_env_cleanup_hook(
        env,
        [](void* arg) {
          auto* share = static_cast<std::shared_ptr<EventSink>*>(arg);
          (*share)->Teardown();
          delete share;
        },
        hookShare);
  }
  return env.Undefined();
}

// holdEvents(hold): while held, the thread-safe function keeps the process alive (an
// events() iterator is waiting for its next event).
Napi::Value HoldEvents(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsBoolean()) throw Napi::TypeError::New(env, "holdEvents expects a boolean");
  auto sink = SinkOf(env);
  std::lock_guard<std::mutex> lock(sink->mu);
  if (!sink->tsfn) return env.Undefined();
  if (info[0].As<Napi::Boolean>().Value())
    napi_ref_threadsafe_function(env, sink->tsfn);
  else
    napi_unref_threadsafe_function(env, sink->tsfn);
  return env.Undefined();
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virConnectDomainEventRegisterAny
// domainEventRegisterAny(eventId, domain|null, subscription) -> Promise<callbackId>
Napi::Value Connect::DomainEventRegisterAny(const Napi::CallbackInfo& info) {
  if (info.Length() > 2 && info[2].IsNumber() && info[2].As<Napi::Number>().DoubleValue() == 0) {
    // Subscription 0: the connection's anchor (see EventHub in lib/emitter.ts), a callback
    // of its own that delivers nothing, for an event that is rare.
    auto sink = SinkOf(info.Env());
    return Call(info, [sink](virConnectPtr c) {
      AnchorSharedTestState(c);
      int id = virConnectDomainEventRegisterAny(c, nullptr, VIR_DOMAIN_EVENT_ID_CONTROL_ERROR,
                                                VIR_DOMAIN_EVENT_CALLBACK(OnAnchor), nullptr, nullptr);
      if (id < 0) ThrowLastError();
      sink->Track(c, Family::kDomain, id);
      return id;
    });
  }
  auto a = ReadRegisterArgs<DomainTraits>(info, DomainCallback);
  return Call(info, [a = std::move(a)](virConnectPtr c) mutable {
    return Registered(c, Family::kDomain, a, virConnectDomainEventRegisterAny(c, a.object.get(), a.id, a.cb, a.reg.get(), FreeRegistration));
  });
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virConnectDomainEventDeregisterAny
Napi::Value Connect::DomainEventDeregisterAny(const Napi::CallbackInfo& info) {
  return Call(info, DeregisterJob(info, Family::kDomain, ArgCallbackId(info)));
}

// https://libvirt.org/html/libvirt-libvirt-storage.html#virConnectStoragePoolEventRegisterAny
Napi::Value Connect::StoragePoolEventRegisterAny(const Napi::CallbackInfo& info) {
  auto a = ReadRegisterArgs<StoragePoolTraits>(info, PoolCallback);
  return Call(info, [a = std::move(a)](virConnectPtr c) mutable {
    return Registered(c, Family::kPool, a, virConnectStoragePoolEventRegisterAny(c, a.object.get(), a.id, a.cb, a.reg.get(), FreeRegistration));
  });
}

// https://libvirt.org/html/libvirt-libvirt-storage.html#virConnectStoragePoolEventDeregisterAny
Napi::Value Connect::StoragePoolEventDeregisterAny(const Napi::CallbackInfo& info) {
  return Call(info, DeregisterJob(info, Family::kPool, ArgCallbackId(info)));
}

// https://libvirt.org/html/libvirt-libvirt-secret.html#virConnectSecretEventRegisterAny
Napi::Value Connect::SecretEventRegisterAny(const Napi::CallbackInfo& info) {
  auto a = ReadRegisterArgs<SecretTraits>(info, SecretCallback);
  return Call(info, [a = std::move(a)](virConnectPtr c) mutable {
    return Registered(c, Family::kSecret, a, virConnectSecretEventRegisterAny(c, a.object.get(), a.id, a.cb, a.reg.get(), FreeRegistration));
  });
}

// https://libvirt.org/html/libvirt-libvirt-secret.html#virConnectSecretEventDeregisterAny
Napi::Value Connect::SecretEventDeregisterAny(const Napi::CallbackInfo& info) {
  return Call(info, DeregisterJob(info, Family::kSecret, ArgCallbackId(info)));
}

// The close callbacks' registrations, one per connection, owned here rather than through
// libvirt's freecb: drivers without close notification (the test driver) accept the callback
// without keeping it and would never free it. Freed on unregistration, or when the same
// connection address registers again (libvirt has forgotten the old one by then).
namespace {
std::mutex closeMu;
std::unordered_map<virConnectPtr, std::unique_ptr<Registration>> closeRegistrations;

void ForgetCloseRegistration(virConnectPtr c) {
  std::unique_ptr<Registration> gone;  // freed after the lock
  std::lock_guard<std::mutex> lock(closeMu);
  auto it = closeRegistrations.find(c);
  if (it == closeRegistrations.end()) return;
  gone = std::move(it->second);
  closeRegistrations.erase(it);
}
}  // namespace

// https://libvirt.org/html/libvirt-libvirt-host.html#virConnectRegisterCloseCallback
// registerCloseCallback(subscription): one per connection.
Napi::Value Connect::RegisterCloseCallback(const Napi::CallbackInfo& info) {
  double subscription = ArgNumberInRange(info, 0, "subscription", 0, 9007199254740991.0);
  auto reg = std::make_unique<Registration>(Registration{SinkOf(info.Env()), subscription});
  return Call(info, [reg = std::move(reg)](virConnectPtr c) mutable {
    auto sink = reg->sink;
    {
      std::lock_guard<std::mutex> lock(closeMu);
      if (virConnectRegisterCloseCallback(c, OnClose, reg.get(), nullptr) < 0) ThrowLastError();
      closeRegistrations[c] = std::move(reg);
    }
    sink->Track(c, Family::kClose, 0);
  });
}

// https://libvirt.org/html/libvirt-libvirt-host.html#virConnectUnregisterCloseCallback
Napi::Value Connect::UnregisterCloseCallback(const Napi::CallbackInfo& info) {
  return Call(info, DeregisterJob(info, Family::kClose, 0));
}

}  // namespace virtkit
