// libiscsi contexts driven by the JS thread's libuv loop. See iscsi_engine.h for the design.
#include "iscsi_engine.h"
#include <poll.h>
#include <string.h>
#include <sys/random.h>
#include <algorithm>
#include <cstdlib>
#include <unordered_map>
#include <utility>
#include "addon.h"

namespace virtkit {
namespace iscsi {

// ---------------------------------------------------------------------------------------------
// failures

void Fail(const char* kind, std::string op, std::string message) {
  Failure f;
  f.kind = kind;
  f.op = std::move(op);
  f.message = std::move(message);
  throw Failed(std::move(f));
}

Napi::Value MakeError(Napi::Env env, const Failure& f) {
  Napi::Object info = Napi::Object::New(env);
  info.Set("kind", f.kind);
  info.Set("op", f.op);
  info.Set("message", f.message);
  if (f.status >= 0) info.Set("status", f.status);
  if (f.senseKey >= 0) {
    info.Set("senseKey", f.senseKey);
    info.Set("senseKeyName", f.senseKeyName);
    info.Set("asc", f.asc);
    info.Set("ascq", f.ascq);
    info.Set("ascqName", f.ascqName);
  }
  if (f.loginStatus >= 0) info.Set("loginStatus", f.loginStatus);
  AddonData* data = AddonData::Get(env);
  if (data && !data->iscsiError.IsEmpty()) return data->iscsiError.New({info});
  Napi::Error e = Napi::Error::New(env, f.message);
  e.Set("info", info);
  return e.Value();
}

Napi::Promise Rejected(Napi::Env env, const char* kind, const char* op, const char* message) {
  Failure f;
  f.kind = kind;
  f.op = op;
  f.message = message;
  auto deferred = Deferred::New(env);
  deferred.Reject(MakeError(env, f));
  return deferred.Promise();
}

namespace {

const char* Str(const char* s) { return s ? s : ""; }

std::string Ms(long long ms) { return std::to_string(ms) + " ms"; }

// Replaces every occurrence of a secret in s (a defence: libiscsi's messages are not known to
// quote passwords, and must never be able to).
void Scrub(std::string& s, const SecretString* secret) {
  if (!secret || secret->size() == 0) return;
  std::string needle(secret->c_str(), secret->size());
  for (size_t at; (at = s.find(needle)) != std::string::npos;) s.replace(at, needle.size(), "***");
  explicit_bzero(needle.data(), needle.size());
}

// A login failure, classified from what libiscsi reports: its "Status: <text>(<code>)" carries
// the target's login status class and detail (class 2 detail 1/2: authentication/
// authorization failure); CHAP answers it could not verify are reported in words.
Failure LoginFailure(const std::string& where, std::string message) {
  Failure f;
  f.op = "login";
  size_t status = message.find("Status: ");
  size_t open = message.rfind('(');
  if (status != std::string::npos && open != std::string::npos && open > status) {
    f.loginStatus = atoi(message.c_str() + open + 1);
    int cls = f.loginStatus >> 8, detail = f.loginStatus & 0xff;
    f.kind = cls == 2 && (detail == 1 || detail == 2) ? "auth" : "connect";
  } else if (message.find("CHAP") != std::string::npos || message.find("uthentica") != std::string::npos ||
             message.find("uthoriza") != std::string::npos) {
    f.kind = "auth";
  } else {
    f.kind = "protocol";
  }
  f.message = "login to " + where + " failed: " + message;
  return f;
}

// Overwrites the copy of a CHAP password that libiscsi keeps in its context (it is not needed
// after login: automatic reconnects are off), then clears it.
void WipeContextPasswords(struct iscsi_context* ctx, bool initiator, bool target) {
  std::string filler(255, 'x');  // MAX_STRING_SIZE: strncpy overwrites every byte of the field
  if (target) {
    iscsi_set_target_username_pwd(ctx, filler.c_str(), filler.c_str());
    iscsi_set_target_username_pwd(ctx, "", "");
  }
  if (initiator) {
    iscsi_set_initiator_username_pwd(ctx, filler.c_str(), filler.c_str());
    iscsi_set_initiator_username_pwd(ctx, "", "");
  }
}

// The scope a uv callback settles promises in: a handle scope, and a callback scope so the
// promise reactions (microtasks) run when it closes, as after any Node I/O callback. Opened only
// when something is settled: most wake-ups of a busy session just move bytes.
class UvScope {
 public:
  UvScope(napi_env env, napi_async_context async, UvScope** current) : env_(env), async_(async), current_(current) {
    *current_ = this;
  }
  void Open() {
    if (handles_) return;
    napi_open_handle_scope(env_, &handles_);
    napi_value resource;
    if (async_ && napi_create_object(env_, &resource) == napi_ok) napi_open_callback_scope(env_, resource, async_, &scope_);
  }
  ~UvScope() {
    *current_ = nullptr;
    if (scope_) napi_close_callback_scope(env_, scope_);
    if (handles_) napi_close_handle_scope(env_, handles_);
  }

 private:
  napi_env env_;
  napi_async_context async_;
  UvScope** current_;
  napi_handle_scope handles_ = nullptr;
  napi_callback_scope scope_ = nullptr;
};

template <typename Handle>
void CloseHandle(Handle*& h) {
  if (!h) return;
  h->data = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(h), [](uv_handle_t* x) { delete reinterpret_cast<Handle*>(x); });
  h = nullptr;
}

// Settle with what `make` gives; if JS cannot run any more (the environment is shutting down),
// the promise stays pending and nothing is thrown.
template <typename Make>
void Reject(Deferred& d, Make make) {
  try {
    d.Reject(make());
  } catch (...) {
  }
}

template <typename Make>
void Resolve(Deferred& d, Make make) {
  try {
    d.Resolve(make());
  } catch (const Napi::Error& err) {
    Reject(d, [&] { return err.Value(); });
  } catch (...) {
  }
}

long long MsUntil(Clock::time_point t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t - Clock::now()).count();
  return ms < 0 ? 0 : ms + 1;  // +1: never fire a hair before the deadline
}

}  // namespace

Command::~Command() {
  if (task) scsi_free_scsi_task(task);
  free(data);
}

// ---------------------------------------------------------------------------------------------
// the registry: every live engine of one environment, torn down with it

struct Engine::Registry {
  napi_env env;
  uv_loop_t* loop = nullptr;
  napi_async_context async = nullptr;
  UvScope* scope = nullptr;  // inside a uv callback of one of these engines
  std::unordered_map<Engine*, std::shared_ptr<Engine>> live;

  static Registry* Get(Napi::Env env) {
    AddonData* data = AddonData::Get(env);
    if (!data->iscsi) {
      auto* r = new Registry();
      r->env = env;
      if (napi_get_uv_event_loop(env, &r->loop) != napi_ok) {
        delete r;
        throw Napi::Error::New(env, "no libuv loop for iSCSI sessions");
      }
      Napi::Object resource = Napi::Object::New(env);
      napi_async_init(env, resource, Napi::String::New(env, "virtkit:iscsi"), &r->async);
      napi_add_env_cleanup_hook(env, Cleanup, r);
      data->iscsi = r;  // not owned by AddonData: the cleanup hook frees it
    }
    return static_cast<Registry*>(data->iscsi);
  }

  // Environment teardown: contexts destroyed (sockets closed, no logout), nothing settled (JS
  // cannot run any more; the promises' resolvers go with the environment's heap, see Deferred).
  static void Cleanup(void* arg) {
    auto* r = static_cast<Registry*>(arg);
    auto live = std::move(r->live);
    for (auto& [_, engine] : live) engine->Teardown();
    if (r->async) napi_async_destroy(r->env, r->async);
    delete r;
  }
};

Engine::Engine(Napi::Env env, Registry* registry) : env_(env), registry_(registry) {}

void Engine::Js() {
  if (registry_ && registry_->scope) registry_->scope->Open();
}

Engine::~Engine() {
  if (ctx_) Teardown();
}

void Engine::Teardown() {
  registry_ = nullptr;
  phase_ = Phase::kDead;
  CloseHandle(poll_);
  CloseHandle(timer_);
  login_.reset();
  closeWaiters_.clear();
  struct iscsi_context* ctx = ctx_;
  ctx_ = nullptr;
  if (ctx) iscsi_destroy_context(ctx);  // callbacks see kDead and settle nothing
  commands_.clear();
}

// ---------------------------------------------------------------------------------------------
// login

void Engine::Login(Napi::Env env, LoginOptions options, Deferred deferred,
                   std::function<Napi::Value(Napi::Env, std::shared_ptr<Engine>)> onReady) {
  Registry* r = Registry::Get(env);
  auto e = std::make_shared<Engine>(env, r);
  r->live.emplace(e.get(), e);
  e->onReady_ = std::move(onReady);
  e->Start(std::move(options), std::move(deferred));
}

void Engine::Discover(Napi::Env env, LoginOptions options, Deferred deferred,
                      std::function<Napi::Value(Napi::Env, Targets&&)> onTargets) {
  Registry* r = Registry::Get(env);
  auto e = std::make_shared<Engine>(env, r);
  r->live.emplace(e.get(), e);
  e->onTargets_ = std::move(onTargets);
  e->Start(std::move(options), std::move(deferred));
}

// Creates the context and starts the TCP connect. Runs inside a JS call.
void Engine::Start(LoginOptions opt, Deferred deferred) {
  auto self = shared_from_this();
  login_ = std::move(deferred);
  timeoutMs_ = opt.timeoutMs;
  loginDeadline_ = Clock::now() + std::chrono::milliseconds(opt.timeoutMs);
  portal_ = opt.portal;
  where_ = opt.discovery ? opt.portal : opt.target + " at " + opt.portal;
  chapPassword_ = std::move(opt.chapPassword);
  mutualPassword_ = std::move(opt.mutualPassword);

  ctx_ = iscsi_create_context(opt.initiator.c_str());
  if (!ctx_) return LoginFailed({"protocol", "connect", "libiscsi could not create a context for " + opt.initiator});
  if (iscsi_set_session_type(ctx_, opt.discovery ? ISCSI_SESSION_DISCOVERY : ISCSI_SESSION_NORMAL) != 0 ||
      (!opt.discovery && iscsi_set_targetname(ctx_, opt.target.c_str()) != 0) ||
      iscsi_set_header_digest(ctx_, static_cast<enum iscsi_header_digest>(opt.headerDigest)) != 0 ||
      (opt.chapUser && chapPassword_ &&
       iscsi_set_initiator_username_pwd(ctx_, opt.chapUser->c_str(), chapPassword_->c_str()) != 0) ||
      (opt.mutualUser && mutualPassword_ &&
       iscsi_set_target_username_pwd(ctx_, opt.mutualUser->c_str(), mutualPassword_->c_str()) != 0))
    return LoginFailed({"protocol", "connect", Str(iscsi_get_error(ctx_))});
  // A random ISID of our own (libiscsi's comes from rand(), reseeded process-wide by every
  // iscsi_create_context): two sessions of one initiator name with the same ISID would make
  // the target drop the older one (session reinstatement).
  uint32_t isid[2] = {0, 0};
  if (getrandom(isid, sizeof isid, GRND_NONBLOCK) == sizeof isid)
    iscsi_set_isid_random(ctx_, isid[0] & 0xffffff, isid[1] & 0xffff);
  // A dropped connection fails the commands in flight instead of reconnecting behind our back.
  iscsi_set_noautoreconnect(ctx_, 1);

  // Non-blocking TCP connect (the address is numeric: getaddrinfo does no lookup).
  if (iscsi_connect_async(ctx_, portal_.c_str(), OnConnected, this) != 0)
    return LoginFailed({"connect", "connect", "cannot connect to " + portal_ + ": " + Str(iscsi_get_error(ctx_))});
  phase_ = Phase::kConnecting;
  Update();
}

void Engine::OnConnected(struct iscsi_context* ctx, int status, void* data, void* priv) {
  // Called from libiscsi's C frames: nothing may be thrown through them.
  try {
    auto* e = static_cast<Engine*>(priv);
    if (e->phase_ != Phase::kConnecting) return;  // libiscsi reports later connection failures here too
    if (status != SCSI_STATUS_GOOD) {
      std::string why = Str(iscsi_get_error(ctx));
      return e->LoginFailed({"connect", "connect", "cannot connect to " + e->portal_ + ": " + (why.empty() ? "refused" : why)});
    }
    e->phase_ = Phase::kLoggingIn;
    if (iscsi_login_async(ctx, OnLoggedIn, e) != 0) e->LoginFailed(LoginFailure(e->where_, Str(iscsi_get_error(ctx))));
  } catch (...) {
  }
}

void Engine::OnLoggedIn(struct iscsi_context* ctx, int status, void* data, void* priv) {
  // Called from libiscsi's C frames: nothing may be thrown through them.
  try {
    auto* e = static_cast<Engine*>(priv);
    if (e->phase_ != Phase::kLoggingIn) return;
    if (status != SCSI_STATUS_GOOD) {
      std::string why = Str(iscsi_get_error(ctx));
      return e->LoginFailed(LoginFailure(e->where_, why.empty() ? "no reason given" : why));
    }
    WipeContextPasswords(ctx, bool(e->chapPassword_), bool(e->mutualPassword_));
    e->chapPassword_.reset();
    e->mutualPassword_.reset();
    e->Ready();
  } catch (...) {
  }
}

void Engine::Ready() {
  Js();
  if (onTargets_) {  // a discovery session: SendTargets, then log out
    phase_ = Phase::kDiscovering;
    loginDeadline_ = Clock::now() + std::chrono::milliseconds(timeoutMs_);
    if (iscsi_discovery_async(ctx_, OnDiscovered, this) != 0) {
      discoveryFailure_ = Failure{"protocol", "discovery", "cannot start SendTargets discovery on " + portal_ + ": " + Str(iscsi_get_error(ctx_))};
      LogoutNow();
    }
    return;
  }
  phase_ = Phase::kReady;
  auto deferred = std::move(*login_);
  login_.reset();
  Resolve(deferred, [&] { return onReady_(env_, shared_from_this()); });
  onReady_ = nullptr;
}

void Engine::OnDiscovered(struct iscsi_context* ctx, int status, void* data, void* priv) {
  // Called from libiscsi's C frames: nothing may be thrown through them.
  try {
    auto* e = static_cast<Engine*>(priv);
    if (e->phase_ != Phase::kDiscovering) return;
    if (status == SCSI_STATUS_GOOD) {
      Targets found;
      for (auto* a = static_cast<struct iscsi_discovery_address*>(data); a; a = a->next) {
        std::vector<std::string> portals;
        for (auto* p = a->portals; p; p = p->next) portals.emplace_back(Str(p->portal));
        found.emplace_back(Str(a->target_name), std::move(portals));
      }
      e->targets_ = std::move(found);
    } else {
      e->discoveryFailure_ = Failure{"protocol", "discovery", "SendTargets discovery on " + e->portal_ + " failed: " + Str(iscsi_get_error(ctx))};
    }
    e->LogoutNow();
  } catch (...) {
  }
}

Failure Engine::ScrubbedLoginFailure(Failure f) {
  Scrub(f.message, chapPassword_.get());
  Scrub(f.message, mutualPassword_.get());
  return f;
}

// The login (or discovery) failed: reject its promise and free everything.
void Engine::LoginFailed(Failure f) {
  Js();
  f = ScrubbedLoginFailure(std::move(f));
  chapPassword_.reset();
  mutualPassword_.reset();
  if (login_) {
    auto deferred = std::move(*login_);
    login_.reset();
    Reject(deferred, [&] { return MakeError(env_, f); });
  }
  Destroy();
}

// ---------------------------------------------------------------------------------------------
// commands

Napi::Promise Engine::Submit(Napi::Env env, std::unique_ptr<Command> c) {
  const char* op = c->op;
  if (closing_ || (phase_ == Phase::kDead && broken_.empty())) return Rejected(env, "closed", op, "the iSCSI session is closed");
  if (phase_ != Phase::kReady) {
    std::string m = "the connection to " + where_ + " was lost: " + broken_;
    return Rejected(env, "connect", op, m.c_str());
  }
  c->deferred = Deferred::New(env);
  Napi::Promise promise = c->deferred->Promise();
  c->engine = this;
  c->deadline = Clock::now() + std::chrono::milliseconds(timeoutMs_);
  c->task = c->issue(ctx_, c.get());
  if (!c->task) {
    std::string m = std::string("cannot queue ") + op + ": " + Str(iscsi_get_error(ctx_));
    c->deferred->Reject(MakeError(env, Failure{"protocol", op, m}));
    return promise;
  }
  commands_.push_back(std::move(c));
  commands_.back()->pos = std::prev(commands_.end());
  Flush();
  return promise;
}

void Engine::OnCommand(struct iscsi_context* ctx, int status, void* data, void* priv) {
  // Called from libiscsi's C frames: nothing may be thrown through them.
  try {
    auto* c = static_cast<Command*>(priv);
    if (!c->engine) return;
    c->engine->CommandDone(c, status, static_cast<struct scsi_task*>(data));
  } catch (...) {
  }
}

std::unique_ptr<Command> Engine::Take(Command* c) {
  std::unique_ptr<Command> owned = std::move(*c->pos);
  commands_.erase(c->pos);
  return owned;
}

// A command's task completed (or was cancelled). Retries what initiators retry, else settles.
void Engine::CommandDone(Command* c, int status, struct scsi_task* task) {
  const char* op = c->op;
  if (phase_ == Phase::kDead) {  // cancelled by iscsi_destroy_context: Destroy settles it
    return;
  }
  if (c->timedOut) {
    Failure f{"timeout", op, std::string(op) + " on " + where_ + " not answered within " + Ms(timeoutMs_)};
    return Settle(Take(c), f);
  }
  switch (status) {
    case SCSI_STATUS_GOOD: {
      // Data that did not fit the allocation length: reissued once with the full size.
      if (c->maxAlloc > 0 && !c->resized) {
        int full = scsi_datain_getfullsize(c->task);
        if (full > c->task->datain.size && full > c->alloc) {
          c->alloc = std::min(full, c->maxAlloc);
          c->resized = true;
          scsi_free_scsi_task(c->task);
          c->task = c->issue(ctx_, c);
          if (c->task) return;
          return Settle(Take(c), Failure{"protocol", op, std::string("cannot queue ") + op + ": " + Str(iscsi_get_error(ctx_))});
        }
      }
      return Settle(Take(c), std::nullopt);
    }
    case SCSI_STATUS_TIMEOUT:
      return Settle(Take(c), Failure{"timeout", op, std::string(op) + " on " + where_ + " timed out"});
    case SCSI_STATUS_CANCELLED:
    case SCSI_STATUS_ERROR: {
      // Without automatic reconnects libiscsi cancels what is in flight when the connection
      // drops; Broken() settles every command (this one included).
      std::string e = Str(iscsi_get_error(ctx_));
      if (status == SCSI_STATUS_CANCELLED || !iscsi_is_logged_in(ctx_)) {
        if (broken_.empty()) broken_ = e.empty() ? "connection failed" : e;
        return Settle(Take(c), Failure{"connect", op, "the connection to " + where_ + " was lost: " + broken_});
      }
      return Settle(Take(c), Failure{"connect", op, std::string(op) + " on " + where_ + " failed: " + (e.empty() ? "error" : e)});
    }
    case SCSI_STATUS_CHECK_CONDITION:
      // A UNIT ATTENTION (reported once after login, a reset or a change on the target) is
      // retried, as initiators do, within the command's deadline.
      task = c->task;
      if (task && task->sense.key == SCSI_SENSE_UNIT_ATTENTION && c->attempts < 5 && Clock::now() < c->deadline) {
        c->attempts++;
        scsi_free_scsi_task(c->task);
        c->task = c->issue(ctx_, c);
        if (c->task) return;
        return Settle(Take(c), Failure{"protocol", op, std::string("cannot queue ") + op + ": " + Str(iscsi_get_error(ctx_))});
      }
      [[fallthrough]];
    default: {
      Failure f;
      f.kind = "scsi";
      f.op = op;
      f.status = status;
      task = c->task;
      if (status == SCSI_STATUS_CHECK_CONDITION && task) {
        f.senseKey = task->sense.key;
        f.senseKeyName = Str(scsi_sense_key_str(task->sense.key));
        f.asc = (task->sense.ascq >> 8) & 0xff;
        f.ascq = task->sense.ascq & 0xff;
        f.ascqName = Str(scsi_sense_ascq_str(task->sense.ascq));
        f.message = std::string(op) + " on " + where_ + " failed: " + f.senseKeyName + ", " + f.ascqName;
      } else {
        f.message = std::string(op) + " on " + where_ + " failed with SCSI status " + std::to_string(status);
      }
      return Settle(Take(c), f);
    }
  }
}

// Settles a command taken off the list: its result, or the failure. Frees its task.
void Engine::Settle(std::unique_ptr<Command> c, std::optional<Failure> failure) {
  Js();
  c->engine = nullptr;
  if (c->deferred) {
    try {
      if (failure) {
        Reject(*c->deferred, [&] { return MakeError(env_, *failure); });
      } else {
        Resolve(*c->deferred, [&] { return c->result(env_, *c); });
      }
    } catch (const Failed& e) {
      Reject(*c->deferred, [&] { return MakeError(env_, e.failure); });
    } catch (const Napi::Error& e) {
      Reject(*c->deferred, [&] { return e.Value(); });
    } catch (const std::exception& e) {
      Reject(*c->deferred, [&] { return MakeError(env_, Failure{"protocol", c->op, e.what()}); });
    }
  }
  c.reset();  // frees the task
  if (closing_ && commands_.empty() && phase_ == Phase::kReady) LogoutNow();
}

// ---------------------------------------------------------------------------------------------
// close, failure, destruction

void Engine::Close(std::optional<Deferred> done) {
  auto self = shared_from_this();
  bool first = !closing_;
  closing_ = true;
  if (phase_ == Phase::kDead) {
    if (done) done->Resolve(env_.Undefined());
    return;
  }
  if (done) closeWaiters_.push_back(std::move(*done));
  if (!first) return;
  if (phase_ == Phase::kReady && commands_.empty()) LogoutNow();
  // else Settle() logs out when the last command in flight is done.
  Update();
}

void Engine::LogoutNow() {
  if (!ctx_ || phase_ == Phase::kDead || phase_ == Phase::kLoggingOut) return;
  phase_ = Phase::kLoggingOut;
  logoutDeadline_ = Clock::now() + std::chrono::milliseconds(timeoutMs_);
  if (!iscsi_is_logged_in(ctx_) || iscsi_logout_async(ctx_, OnLoggedOut, this) != 0) return Finish();
  Update();
}

void Engine::OnLoggedOut(struct iscsi_context* ctx, int status, void* data, void* priv) {
  // Called from libiscsi's C frames: nothing may be thrown through them.
  try {
    auto* e = static_cast<Engine*>(priv);
    if (e->phase_ != Phase::kLoggingOut) return;
    e->Finish();
  } catch (...) {
  }
}

// The logout is over (or was skipped): a discovery resolves its targets, close() resolves.
void Engine::Finish() {
  Js();
  auto self = shared_from_this();
  if (login_) {  // discovery
    auto deferred = std::move(*login_);
    login_.reset();
    if (targets_) {
      Resolve(deferred, [&] { return onTargets_(env_, std::move(*targets_)); });
    } else {
      Reject(deferred, [&] {
        return MakeError(env_, discoveryFailure_.value_or(Failure{"protocol", "discovery", "discovery on " + portal_ + " ended without an answer"}));
      });
    }
  }
  Destroy();
}

// The connection failed: everything in flight fails with `why`, the context is freed.
void Engine::Broken(std::string why) {
  auto self = shared_from_this();
  if (broken_.empty()) broken_ = why.empty() ? "connection failed" : why;
  if (phase_ == Phase::kConnecting || phase_ == Phase::kLoggingIn) {
    return LoginFailed({"connect", phase_ == Phase::kConnecting ? "connect" : "login",
                        "connection to " + where_ + " failed: " + broken_});
  }
  if (phase_ == Phase::kDiscovering && !discoveryFailure_)
    discoveryFailure_ = Failure{"connect", "discovery", "connection to " + portal_ + " failed during discovery: " + broken_};
  if (login_) return Finish();
  Destroy();
}

// Frees the context and handles; whatever is still pending settles (closed, or the broken
// connection's failure); close() promises resolve; the registry lets go.
void Engine::Destroy() {
  if (phase_ == Phase::kDead) return;
  if (depth_ > 0) {  // inside iscsi_service or a cancel: after it returns (Leave)
    destroyPending_ = true;
    return;
  }
  auto self = shared_from_this();
  Js();
  phase_ = Phase::kDead;
  CloseHandle(poll_);
  CloseHandle(timer_);
  struct iscsi_context* ctx = ctx_;
  ctx_ = nullptr;
  if (ctx) iscsi_destroy_context(ctx);  // cancels what is queued; callbacks see kDead
  auto pending = std::move(commands_);
  commands_.clear();
  for (auto& c : pending) {
    if (c->task) {  // the context is gone: the task is ours alone now
      scsi_free_scsi_task(c->task);
      c->task = nullptr;
    }
    Failure f = broken_.empty() ? Failure{"closed", c->op, "the iSCSI session was closed before the command completed"}
                                : Failure{"connect", c->op, "the connection to " + where_ + " was lost: " + broken_};
    Settle(std::move(c), f);
  }
  if (login_) {
    auto deferred = std::move(*login_);
    login_.reset();
    Reject(deferred, [&] { return MakeError(env_, Failure{"closed", "login", "the session to " + where_ + " was closed during login"}); });
  }
  for (auto& d : closeWaiters_) Resolve(d, [&] { return env_.Undefined(); });
  closeWaiters_.clear();
  onReady_ = nullptr;
  onTargets_ = nullptr;
  if (registry_) registry_->live.erase(this);
}

// ---------------------------------------------------------------------------------------------
// the libuv side

void Engine::Leave() {
  if (--depth_ == 0 && destroyPending_) {
    destroyPending_ = false;
    Destroy();
  }
}

// Writes what is queued now (the socket is non-blocking: what does not fit waits for the
// poll), saving a trip around the loop per command. Completions are only ever read in Service.
void Engine::Flush() {
  if (ctx_ && phase_ != Phase::kDead && (iscsi_which_events(ctx_) & POLLOUT)) return Service(POLLOUT);
  Update();
}

void Engine::Service(int revents) {
  auto self = shared_from_this();
  if (!ctx_ || phase_ == Phase::kDead) return;
  Enter();
  int r = iscsi_service(ctx_, revents);
  std::string why = r < 0 ? Str(iscsi_get_error(ctx_)) : "";
  bool destroying = destroyPending_;
  Leave();
  if (destroying || phase_ == Phase::kDead) return;
  if (r < 0) return Broken(why.empty() ? "connection failed" : why);
  Update();
}

// Brings the poll (fd, events, ref) and the timer (earliest deadline) up to date.
void Engine::Update() {
  if (phase_ == Phase::kDead || !ctx_ || !registry_) return;
  uv_loop_t* loop = registry_->loop;
  int fd = iscsi_get_fd(ctx_);
  if (fd < 0) return Broken("not connected");
  if (!poll_) {
    poll_ = new uv_poll_t;
    if (uv_poll_init(loop, poll_, fd) != 0) {
      delete poll_;
      poll_ = nullptr;
      return Broken("cannot watch the connection's socket");
    }
    poll_->data = this;
    polledFd_ = fd;
    polledEvents_ = 0;
    referenced_ = true;
    timer_ = new uv_timer_t;
    uv_timer_init(loop, timer_);
    timer_->data = this;
  } else if (fd != polledFd_) {
    return Broken("the connection's socket changed");
  }
  int want = iscsi_which_events(ctx_);
  int events = ((want & POLLIN) ? UV_READABLE : 0) | ((want & POLLOUT) ? UV_WRITABLE : 0);
  if (events != polledEvents_) {
    polledEvents_ = events;
    if (events) {
      uv_poll_start(poll_, events, [](uv_poll_t* h, int status, int ready) {
        auto* e = static_cast<Engine*>(h->data);
        if (!e || !e->registry_) return;
        UvScope scope(e->env_, e->registry_->async, &e->registry_->scope);
        int revents = 0;
        if (status < 0) revents |= POLLERR;
        if (ready & UV_READABLE) revents |= POLLIN;
        if (ready & UV_WRITABLE) revents |= POLLOUT;
        try {
          e->Service(revents);
        } catch (...) {  // a JS value could not be made (the environment is shutting down)
        }
      });
    } else {
      uv_poll_stop(poll_);
    }
  }
  // Busy (a login, a logout, commands): the handles keep the loop alive.
  bool busy = phase_ != Phase::kReady || !commands_.empty();
  if (busy != referenced_) {
    referenced_ = busy;
    if (busy) {
      uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
      uv_ref(reinterpret_cast<uv_handle_t*>(timer_));
    } else {
      uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
      uv_unref(reinterpret_cast<uv_handle_t*>(timer_));
    }
  }
  std::optional<Clock::time_point> next;
  if (phase_ == Phase::kConnecting || phase_ == Phase::kLoggingIn || phase_ == Phase::kDiscovering) next = loginDeadline_;
  if (phase_ == Phase::kLoggingOut) next = logoutDeadline_;
  if (!commands_.empty() && (!next || commands_.front()->deadline < *next)) next = commands_.front()->deadline;
  if (!next) {
    if (armed_) uv_timer_stop(timer_);
    armed_ = false;
  } else if (!armed_ || *next != armedAt_) {
    armed_ = true;
    armedAt_ = *next;
    uv_timer_start(timer_, [](uv_timer_t* h) {
      auto* e = static_cast<Engine*>(h->data);
      if (!e || !e->registry_) return;
      UvScope scope(e->env_, e->registry_->async, &e->registry_->scope);
      try {
        e->OnTimer();
      } catch (...) {
      }
    }, uint64_t(MsUntil(*next)), 0);
  }
}

// A deadline passed: the login, the logout, or the oldest commands.
void Engine::OnTimer() {
  auto self = shared_from_this();
  armed_ = false;
  const Clock::time_point now = Clock::now();
  switch (phase_) {
    case Phase::kConnecting:
      if (now >= loginDeadline_)
        return LoginFailed({"timeout", "connect", "TCP connection to " + portal_ + " not established within " + Ms(timeoutMs_)});
      break;
    case Phase::kLoggingIn:
      if (now >= loginDeadline_) return LoginFailed({"timeout", "login", "login to " + where_ + " not answered within " + Ms(timeoutMs_)});
      break;
    case Phase::kDiscovering:
      if (now >= loginDeadline_) {
        discoveryFailure_ = Failure{"timeout", "discovery", "SendTargets on " + portal_ + " not answered within " + Ms(timeoutMs_)};
        return Finish();
      }
      break;
    case Phase::kLoggingOut:
      if (now >= logoutDeadline_) return Finish();
      break;
    default:
      break;
  }
  std::vector<Command*> expired;
  for (auto& c : commands_) {
    if (c->deadline > now) break;
    expired.push_back(c.get());
  }
  for (Command* c : expired) {
    if (phase_ == Phase::kDead) break;
    c->timedOut = true;
    // The callback runs at once (status CANCELLED) and settles the command as a timeout.
    Enter();
    int r = iscsi_scsi_cancel_task(ctx_, c->task);
    bool destroying = destroyPending_;
    if (r != 0 && c->engine && !destroying) {
      Settle(Take(c), Failure{"timeout", c->op, std::string(c->op) + " on " + where_ + " not answered within " + Ms(timeoutMs_)});
    }
    Leave();
    if (destroying) return;
  }
  Update();
}

}  // namespace iscsi
}  // namespace virtkit
