// iSCSI over libiscsi. See iscsi.h for the threading design. Methods mirror libiscsi calls
// (reportLuns → iscsi_reportluns_task, read16 → iscsi_read16_iov_task …); lib/iscsi/ owns
// names, defaults, argument checks and the fallbacks between commands.
#include "iscsi.h"
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/random.h>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>
extern "C" {
#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>
}
#include "addon.h"
#include "convert.h"
#include "handle.h"
#include "worker.h"

namespace virtkit {

const napi_type_tag IscsiSessionTraits::kTag = {0x7669727463756e6bULL, 0x4973637369533031ULL};

namespace {

// ---------------------------------------------------------------------------------------------
// failures

// A plain C++ description of an iSCSI failure: safe to move between threads. Becomes an
// IscsiError (lib/iscsi/errors.ts) on the main thread.
struct IscsiFailure {
  std::string kind;  // auth | connect | timeout | scsi | protocol | closed
  std::string op;    // what was being done: "login", "READ(16)" …
  std::string message;
  int status = -1;  // SCSI status of the command, when there is one
  int senseKey = -1, asc = -1, ascq = -1;
  std::string senseKeyName, ascqName;
  int loginStatus = -1;  // iSCSI login response status-class << 8 | status-detail
};

class IscsiFailed : public std::exception {
 public:
  explicit IscsiFailed(IscsiFailure f) : failure(std::move(f)) {}
  const char* what() const noexcept override { return failure.message.c_str(); }
  IscsiFailure failure;
};

[[noreturn]] void Fail(const char* kind, std::string op, std::string message) {
  IscsiFailure f;
  f.kind = kind;
  f.op = std::move(op);
  f.message = std::move(message);
  throw IscsiFailed(std::move(f));
}

Napi::Value MakeIscsiError(Napi::Env env, const IscsiFailure& f) {
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

// Replaces every occurrence of a secret in s (a defence: libiscsi's messages are not known to
// quote passwords, and must never be able to).
void Scrub(std::string& s, const SecretString* secret) {
  if (!secret || secret->size() == 0) return;
  std::string needle(secret->c_str(), secret->size());
  for (size_t at; (at = s.find(needle)) != std::string::npos;) s.replace(at, needle.size(), "***");
  explicit_bzero(needle.data(), needle.size());
}

// ---------------------------------------------------------------------------------------------
// the promise job: worker.h's FnJob, with failures that become IscsiErrors

struct IscsiFailures {
  using Failure = IscsiFailure;
  using Thrown = IscsiFailed;
  static Failure FromException(const std::exception& e) {
    IscsiFailure f;
    f.kind = "protocol";
    f.message = e.what();
    return f;
  }
  static Napi::Value Make(Napi::Env env, const Failure& f) { return MakeIscsiError(env, f); }
};

template <typename Fn>
Napi::Promise QueueIscsi(Napi::Env env, Fn fn) {
  return Queue<IscsiFailures>(env, std::move(fn));
}

Napi::Promise RejectedIscsi(Napi::Env env, const char* kind, const char* op, const char* message) {
  IscsiFailure f;
  f.kind = kind;
  f.op = op;
  f.message = message;
  auto deferred = Napi::Promise::Deferred::New(env);
  deferred.Reject(MakeIscsiError(env, f));
  return deferred.Promise();
}

// ---------------------------------------------------------------------------------------------
// driving libiscsi on the calling (pool) thread

const char* Str(const char* s) { return s ? s : ""; }

using Clock = std::chrono::steady_clock;

struct Deadline {
  Clock::time_point at;
  explicit Deadline(long long ms) : at(Clock::now() + std::chrono::milliseconds(ms)) {}
  long long RemainingMs() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(at - Clock::now()).count();
  }
};

// The state one libiscsi callback fills in. Lives until its task has completed or has been
// cancelled (or its context destroyed): libiscsi holds a pointer to it until then.
struct Waiter {
  bool done = false;
  int status = -1;
  void* data = nullptr;
  std::string error;  // iscsi_get_error at the moment the callback failed
  // Discovery only: the targets, copied inside the callback (libiscsi frees them after it).
  std::vector<std::pair<std::string, std::vector<std::string>>> targets;
};

void OnDone(struct iscsi_context* iscsi, int status, void* data, void* priv) {
  auto* w = static_cast<Waiter*>(priv);
  if (!w) return;
  w->done = true;
  w->status = status;
  w->data = data;
  if (status != SCSI_STATUS_GOOD) {
    const char* e = iscsi_get_error(iscsi);
    w->error = e ? e : "";
  }
}

void OnDiscovery(struct iscsi_context* iscsi, int status, void* data, void* priv) {
  auto* w = static_cast<Waiter*>(priv);
  if (status == SCSI_STATUS_GOOD && w) {
    for (auto* a = static_cast<struct iscsi_discovery_address*>(data); a; a = a->next) {
      std::vector<std::string> portals;
      for (auto* p = a->portals; p; p = p->next) portals.emplace_back(p->portal ? p->portal : "");
      w->targets.emplace_back(a->target_name ? a->target_name : "", std::move(portals));
    }
  }
  OnDone(iscsi, status, nullptr, priv);
}

enum class Drove { kDone, kTimedOut, kBroken };

// Services ctx until w's callback has run or the deadline has passed. Wakes at least once a
// second so libiscsi scans its own PDU timeouts (iscsi_set_timeout). kBroken: the connection
// failed before the callback ran; *why says how.
Drove Drive(struct iscsi_context* ctx, Waiter& w, const Deadline& deadline, std::string* why) {
  while (!w.done) {
    long long ms = deadline.RemainingMs();
    if (ms <= 0) return Drove::kTimedOut;
    struct pollfd pfd;
    pfd.fd = iscsi_get_fd(ctx);
    pfd.events = short(iscsi_which_events(ctx));
    pfd.revents = 0;
    if (pfd.fd < 0) {
      *why = "not connected";
      return Drove::kBroken;
    }
    int r = poll(&pfd, 1, int(ms < 1000 ? ms : 1000));
    if (r < 0) {
      if (errno == EINTR) continue;
      *why = std::string("poll failed: ") + strerror(errno);
      return Drove::kBroken;
    }
    if (iscsi_service(ctx, r > 0 ? pfd.revents : 0) < 0) {
      if (w.done) break;  // the failure was reported to the callback (w.error has it)
      const char* e = iscsi_get_error(ctx);
      *why = e && *e ? e : "connection failed";
      return Drove::kBroken;
    }
  }
  return Drove::kDone;
}

// One libiscsi context and the waiter of its TCP connect, whose callback libiscsi may call
// again whenever the connection fails later: both live and die together, on a pool thread.
struct Context {
  struct iscsi_context* ctx = nullptr;
  Waiter connected;
  ~Context() {
    if (ctx) iscsi_destroy_context(ctx);  // cancels whatever is still queued
  }
};

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

struct LoginOptions {
  std::string portal;  // host:port or [v6]:port, as libiscsi takes it
  std::string target;  // empty for discovery
  std::string initiator;
  std::optional<std::string> chapUser, mutualUser;
  std::unique_ptr<SecretString> chapPassword, mutualPassword;
  long long timeoutMs = 30000;
  int headerDigest = ISCSI_HEADER_DIGEST_NONE_CRC32C;
  bool discovery = false;
};

// A login failure, classified from what libiscsi reports: its "Status: <text>(<code>)" carries
// the target's login status class and detail (class 2 detail 1/2: authentication/
// authorization failure); CHAP answers it could not verify are reported in words.
IscsiFailure LoginFailure(const std::string& where, std::string message) {
  IscsiFailure f;
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
  } else if (message.find("timed out") != std::string::npos) {
    f.kind = "timeout";
  } else {
    f.kind = "protocol";
  }
  f.message = f.kind == "timeout" ? "login to " + where + " timed out" : "login to " + where + " failed: " + message;
  return f;
}

// Creates a context, connects TCP and logs in, all within opt.timeoutMs. Throws IscsiFailed
// (with every password scrubbed from the message) on failure.
std::unique_ptr<Context> Login(LoginOptions& opt) {
  const Deadline deadline(opt.timeoutMs);
  const std::string where = opt.discovery ? opt.portal : opt.target + " at " + opt.portal;
  auto c = std::make_unique<Context>();
  try {
    c->ctx = iscsi_create_context(opt.initiator.c_str());
    if (!c->ctx) Fail("protocol", "connect", "libiscsi could not create a context for " + opt.initiator);
    struct iscsi_context* ctx = c->ctx;
    if (iscsi_set_session_type(ctx, opt.discovery ? ISCSI_SESSION_DISCOVERY : ISCSI_SESSION_NORMAL) != 0 ||
        (!opt.discovery && iscsi_set_targetname(ctx, opt.target.c_str()) != 0) ||
        iscsi_set_header_digest(ctx, static_cast<enum iscsi_header_digest>(opt.headerDigest)) != 0)
      Fail("protocol", "connect", Str(iscsi_get_error(ctx)));
    if (opt.chapUser && opt.chapPassword &&
        iscsi_set_initiator_username_pwd(ctx, opt.chapUser->c_str(), opt.chapPassword->c_str()) != 0)
      Fail("protocol", "connect", Str(iscsi_get_error(ctx)));
    if (opt.mutualUser && opt.mutualPassword &&
        iscsi_set_target_username_pwd(ctx, opt.mutualUser->c_str(), opt.mutualPassword->c_str()) != 0)
      Fail("protocol", "connect", Str(iscsi_get_error(ctx)));
    // A random ISID of our own (libiscsi's comes from rand(), reseeded process-wide by every
    // iscsi_create_context): two sessions of one initiator name with the same ISID would make
    // the target drop the older one (session reinstatement).
    uint32_t isid[2] = {0, 0};
    if (getrandom(isid, sizeof isid, 0) == sizeof isid) iscsi_set_isid_random(ctx, isid[0] & 0xffffff, isid[1] & 0xffff);
    // libiscsi's own PDU timeout (whole seconds) is a backstop behind our deadline.
    iscsi_set_timeout(ctx, int(opt.timeoutMs / 1000) + 2);
    // A dropped connection fails the calls in flight instead of reconnecting behind our back.
    iscsi_set_noautoreconnect(ctx, 1);

    // TCP connect (iscsi_connect_sync has no timeout of its own).
    std::string why;
    if (iscsi_connect_async(ctx, opt.portal.c_str(), OnDone, &c->connected) != 0)
      Fail("connect", "connect", std::string("cannot connect to ") + opt.portal + ": " + iscsi_get_error(ctx));
    Drove d = Drive(ctx, c->connected, deadline, &why);
    if (d == Drove::kTimedOut)
      Fail("timeout", "connect", "TCP connection to " + opt.portal + " not established within " + std::to_string(opt.timeoutMs) + " ms");
    if (d == Drove::kBroken || c->connected.status != SCSI_STATUS_GOOD) {
      std::string e = c->connected.error.empty() ? why : c->connected.error;
      Fail("connect", "connect", "cannot connect to " + opt.portal + ": " + e);
    }

    // Login. On failure the context is destroyed while the waiter is still alive.
    Waiter w;
    if (iscsi_login_async(ctx, OnDone, &w) != 0) {
      IscsiFailure f = LoginFailure(where, Str(iscsi_get_error(ctx)));
      c.reset();
      throw IscsiFailed(std::move(f));
    }
    d = Drive(ctx, w, deadline, &why);
    if (d == Drove::kTimedOut) {
      c.reset();
      Fail("timeout", "login", "login to " + where + " not answered within " + std::to_string(opt.timeoutMs) + " ms");
    }
    if (d == Drove::kBroken) {
      c.reset();
      Fail("connect", "login", "connection to " + where + " failed during login: " + why);
    }
    if (w.status != SCSI_STATUS_GOOD) {
      IscsiFailure f = LoginFailure(where, w.error.empty() ? std::string("no reason given") : w.error);
      c.reset();
      throw IscsiFailed(std::move(f));
    }
    WipeContextPasswords(ctx, bool(opt.chapPassword), bool(opt.mutualPassword));
    return c;
  } catch (IscsiFailed& e) {
    Scrub(e.failure.message, opt.chapPassword.get());
    Scrub(e.failure.message, opt.mutualPassword.get());
    throw;
  }
}

// Logs out (bounded by the deadline) and frees the context. Never throws.
void LogoutAndFree(std::unique_ptr<Context>& c, long long timeoutMs, bool logout) {
  if (!c) return;
  if (logout && c->ctx && iscsi_is_logged_in(c->ctx)) {
    Waiter w;
    std::string why;
    if (iscsi_logout_async(c->ctx, OnDone, &w) == 0) Drive(c->ctx, w, Deadline(timeoutMs), &why);
    c.reset();  // while w is alive: a logout still queued is cancelled into it
    return;
  }
  c.reset();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// the session

struct IscsiSessionState {
  std::mutex mu;                  // one thread drives the context at a time
  std::unique_ptr<Context> conn;  // null once closed
  std::atomic<bool> open{true};   // false once close() or the finalizer has taken over
  std::string broken;             // why the connection is unusable; empty while it is fine
  long long timeoutMs = 30000;
  std::string where;  // "<target> at <portal>", for messages

  ~IscsiSessionState() {
    // Normally closed on the pool by close() or the finalizer; if a state dies with its
    // context still here (a wrap that could not be made), free it off the JS thread.
    if (conn) {
      Context* c = conn.release();
      RunOffThread([c] { delete c; });
    }
  }
};

namespace {

void CloseSession(IscsiSessionState& s) {
  std::lock_guard<std::mutex> lock(s.mu);
  LogoutAndFree(s.conn, s.timeoutMs, s.broken.empty());
}

struct TaskFree {
  void operator()(struct scsi_task* t) const { scsi_free_scsi_task(t); }
};
using Task = std::unique_ptr<struct scsi_task, TaskFree>;

// The largest single READ/WRITE virtkit issues (lib/ splits nothing: it refuses more).
constexpr size_t kMaxTransfer = size_t(1) << 30;

// Runs one SCSI command on a session (its mutex held by the caller): issue(ctx, waiter)
// queues it with OnDone. A UNIT ATTENTION (reported once after login, reset or a change on the
// target) is retried, as initiators do; the whole call is bounded by the session timeout.
template <typename Issue>
Task RunScsi(IscsiSessionState& s, const char* op, Issue issue) {
  if (!s.conn) Fail("closed", op, "the iSCSI session is closed");
  if (!s.broken.empty()) Fail("connect", op, "the connection to " + s.where + " was lost: " + s.broken);
  struct iscsi_context* ctx = s.conn->ctx;
  const Deadline deadline(s.timeoutMs);
  for (int attempt = 0;; attempt++) {
    Waiter w;
    struct scsi_task* raw = issue(ctx, &w);
    if (!raw) Fail("protocol", op, std::string("cannot queue ") + op + ": " + Str(iscsi_get_error(ctx)));
    Task task(raw);
    std::string why;
    Drove d = Drive(ctx, w, deadline, &why);
    if (d != Drove::kDone) {
      iscsi_scsi_cancel_task(ctx, raw);  // runs the callback into w, which is still alive
      if (d == Drove::kTimedOut)
        Fail("timeout", op, std::string(op) + " on " + s.where + " not answered within " + std::to_string(s.timeoutMs) + " ms");
      s.broken = why;
      Fail("connect", op, "the connection to " + s.where + " was lost: " + why);
    }
    switch (w.status) {
      case SCSI_STATUS_GOOD:
        return task;
      case SCSI_STATUS_TIMEOUT:
        Fail("timeout", op, std::string(op) + " on " + s.where + " timed out");
      case SCSI_STATUS_CANCELLED:
      case SCSI_STATUS_ERROR: {
        // Without automatic reconnects libiscsi cancels what is in flight when the
        // connection drops.
        std::string e = w.error.empty() ? "connection failed" : w.error;
        if (!iscsi_is_logged_in(ctx) || w.status == SCSI_STATUS_CANCELLED) s.broken = e;
        Fail("connect", op, "the connection to " + s.where + " was lost: " + e);
      }
      case SCSI_STATUS_CHECK_CONDITION:
        if (raw->sense.key == SCSI_SENSE_UNIT_ATTENTION && attempt < 5 && deadline.RemainingMs() > 0) continue;
        [[fallthrough]];
      default: {
        IscsiFailure f;
        f.kind = "scsi";
        f.op = op;
        f.status = w.status;
        if (w.status == SCSI_STATUS_CHECK_CONDITION) {
          f.senseKey = raw->sense.key;
          f.senseKeyName = Str(scsi_sense_key_str(raw->sense.key));
          f.asc = (raw->sense.ascq >> 8) & 0xff;
          f.ascq = raw->sense.ascq & 0xff;
          f.ascqName = Str(scsi_sense_ascq_str(raw->sense.ascq));
          f.message = std::string(op) + " on " + s.where + " failed: " + f.senseKeyName + ", " + f.ascqName;
        } else {
          f.message = std::string(op) + " on " + s.where + " failed with SCSI status " + std::to_string(w.status);
        }
        throw IscsiFailed(std::move(f));
      }
    }
  }
}

// Reissues a command whose data did not fit (allocation length too small), once.
template <typename Issue>
Task RunScsiSized(IscsiSessionState& s, const char* op, int initial, int max, Issue issue) {
  Task t = RunScsi(s, op, [&](struct iscsi_context* ctx, Waiter* w) { return issue(ctx, initial, w); });
  int full = scsi_datain_getfullsize(t.get());
  if (full > t->datain.size && full > initial) {
    int size = full < max ? full : max;
    t = RunScsi(s, op, [&](struct iscsi_context* ctx, Waiter* w) { return issue(ctx, size, w); });
  }
  return t;
}

template <typename T>
T* Unmarshall(struct scsi_task* t, const char* op) {
  auto* v = static_cast<T*>(scsi_datain_unmarshall(t));
  if (!v) Fail("protocol", op, std::string("cannot parse the data of ") + op);
  return v;
}

// Results on their way to JS.
struct Bytes {
  std::vector<uint8_t> v;
};
Napi::Value ToJs(Napi::Env env, Bytes&& b) { return Napi::Buffer<uint8_t>::Copy(env, b.v.data(), b.v.size()); }

struct StandardInquiry {
  int qualifier, deviceType, removable, version;
  std::string deviceTypeName, vendor, product, revision;
};
Napi::Value ToJs(Napi::Env env, StandardInquiry&& q) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("qualifier", q.qualifier);
  o.Set("deviceType", q.deviceType);
  o.Set("deviceTypeName", q.deviceTypeName);
  o.Set("removable", q.removable != 0);
  o.Set("version", q.version);
  o.Set("vendor", q.vendor);
  o.Set("product", q.product);
  o.Set("revision", q.revision);
  return o;
}

struct Designator {
  int protocolIdentifier, codeSet, piv, association, type;
  std::string typeName, associationName;
  std::vector<uint8_t> value;
};
Napi::Value ToJs(Napi::Env env, Designator&& d) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("type", d.type);
  o.Set("typeName", d.typeName);
  o.Set("codeSet", d.codeSet);
  o.Set("association", d.association);
  o.Set("associationName", d.associationName);
  o.Set("protocolIdentifier", d.protocolIdentifier);
  o.Set("piv", d.piv != 0);
  o.Set("value", Napi::Buffer<uint8_t>::Copy(env, d.value.data(), d.value.size()));
  return o;
}

struct Capacity {
  unsigned long long returnedLba;
  unsigned int blockLength;
  int lbpme = -1, lbprz = -1, lbppbe = -1;
};
Napi::Value ToJs(Napi::Env env, Capacity&& c) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("returnedLba", double(c.returnedLba));  // exact below 2^53 blocks
  o.Set("blockLength", c.blockLength);
  if (c.lbpme >= 0) {
    o.Set("lbpme", c.lbpme != 0);
    o.Set("lbprz", c.lbprz != 0);
    o.Set("lbppbe", c.lbppbe);
  }
  return o;
}

struct Discovered {
  std::vector<std::pair<std::string, std::vector<std::string>>> targets;
};
Napi::Value ToJs(Napi::Env env, Discovered&& d) {
  Napi::Array a = Napi::Array::New(env, d.targets.size());
  for (size_t i = 0; i < d.targets.size(); i++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("target", d.targets[i].first);
    Napi::Array p = Napi::Array::New(env, d.targets[i].second.size());
    for (size_t j = 0; j < d.targets[i].second.size(); j++) p.Set(uint32_t(j), d.targets[i].second[j]);
    o.Set("portals", p);
    a.Set(uint32_t(i), o);
  }
  return a;
}

struct NewSession {
  std::shared_ptr<IscsiSessionState> state;
};
Napi::Value ToJs(Napi::Env env, NewSession&& s) { return IscsiSession::Wrap(env, std::move(s.state)); }

int ArgLun(const Napi::CallbackInfo& info, size_t i) { return int(ArgNumberInRange(info, i, "lun", 0, 65535)); }

LoginOptions ReadLoginOptions(const Napi::CallbackInfo& info, bool discovery) {
  // discovery: (portal, initiator, chapUser, chapPassword, timeoutMs, headerDigest)
  // session:   (portal, target, initiator, chapUser, chapPassword, mutualUser, mutualPassword,
  //             timeoutMs, headerDigest)
  LoginOptions o;
  size_t i = 0;
  o.discovery = discovery;
  o.portal = ArgString(info, i++, "portal");
  if (!discovery) o.target = ArgString(info, i++, "target");
  o.initiator = ArgString(info, i++, "initiatorIqn");
  o.chapUser = ArgOptString(info, i++, "chap.username");
  o.chapPassword = ArgOptSecret(info, i++, "chap.password");
  if (!discovery) {
    o.mutualUser = ArgOptString(info, i++, "mutualChap.username");
    o.mutualPassword = ArgOptSecret(info, i++, "mutualChap.password");
  }
  o.timeoutMs = (long long)ArgNumberInRange(info, i++, "timeoutMs", 1, 2147483647.0);
  o.headerDigest = int(ArgNumberInRange(info, i++, "headerDigest", 0, ISCSI_HEADER_DIGEST_LAST));
  return o;
}

// iscsiSetErrorClass(IscsiError): the class native code instantiates for iSCSI failures.
Napi::Value SetErrorClass(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsFunction()) throw Napi::TypeError::New(info.Env(), "iscsiSetErrorClass expects a class");
  AddonData::Get(info.Env())->iscsiError = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

// iscsiDiscover(...): a discovery session: connect, login, SendTargets (iscsi_discovery_async),
// logout. Resolves [{ target, portals: ["addr:port,tpgt"] }].
Napi::Value Discover(const Napi::CallbackInfo& info) {
  auto opt = std::make_shared<LoginOptions>(ReadLoginOptions(info, true));
  return QueueIscsi(info.Env(), [opt]() {
    std::unique_ptr<Context> c = Login(*opt);
    const Deadline deadline(opt->timeoutMs);
    Waiter w;
    std::string why;
    Discovered out;
    if (iscsi_discovery_async(c->ctx, OnDiscovery, &w) != 0) {
      std::string e = Str(iscsi_get_error(c->ctx));
      LogoutAndFree(c, opt->timeoutMs, false);
      Fail("protocol", "discovery", "cannot start SendTargets discovery on " + opt->portal + ": " + e);
    }
    Drove d = Drive(c->ctx, w, deadline, &why);
    if (d != Drove::kDone || w.status != SCSI_STATUS_GOOD) {
      LogoutAndFree(c, opt->timeoutMs, false);  // destroys the context while w is alive
      if (d == Drove::kTimedOut)
        Fail("timeout", "discovery", "SendTargets on " + opt->portal + " not answered within " + std::to_string(opt->timeoutMs) + " ms");
      Fail(d == Drove::kBroken ? "connect" : "protocol", "discovery",
           "SendTargets discovery on " + opt->portal + " failed: " + (d == Drove::kBroken ? why : w.error));
    }
    out.targets = std::move(w.targets);
    LogoutAndFree(c, opt->timeoutMs, true);
    return out;
  });
}

// iscsiConnect(...): a normal session, logged in. Resolves an IscsiSession.
Napi::Value Connect(const Napi::CallbackInfo& info) {
  auto opt = std::make_shared<LoginOptions>(ReadLoginOptions(info, false));
  return QueueIscsi(info.Env(), [opt]() {
    auto state = std::make_shared<IscsiSessionState>();
    state->conn = Login(*opt);
    state->timeoutMs = opt->timeoutMs;
    state->where = opt->target + " at " + opt->portal;
    return NewSession{std::move(state)};
  });
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// the wrap

Napi::Function IscsiSession::Init(Napi::Env env) {
  return DefineClass(env, "IscsiSession",
                     {
                         InstanceMethod<&IscsiSession::ReportLuns>("reportLuns"),
                         InstanceMethod<&IscsiSession::Inquiry>("inquiry"),
                         InstanceMethod<&IscsiSession::InquirySerial>("inquirySerial"),
                         InstanceMethod<&IscsiSession::InquiryDeviceId>("inquiryDeviceId"),
                         InstanceMethod<&IscsiSession::ReadCapacity16>("readCapacity16"),
                         InstanceMethod<&IscsiSession::ReadCapacity10>("readCapacity10"),
                         InstanceMethod<&IscsiSession::TestUnitReady>("testUnitReady"),
                         InstanceMethod<&IscsiSession::Read16>("read16"),
                         InstanceMethod<&IscsiSession::Write16>("write16"),
                         InstanceMethod<&IscsiSession::Logout>("logout"),
                         InstanceMethod<&IscsiSession::IsClosed>("isClosed"),
                     });
}

Napi::Object IscsiSession::Wrap(Napi::Env env, std::shared_ptr<IscsiSessionState> state) {
  // The constructor copies the state out of the box; the box goes either way. If no wrap is
  // made, the state dies here and frees its context off the JS thread.
  std::unique_ptr<std::shared_ptr<IscsiSessionState>> box(new std::shared_ptr<IscsiSessionState>(std::move(state)));
  return AddonData::Get(env)->iscsiSessionClass.New(
      {Napi::External<int>::New(env, &kNativeConstructToken), Napi::External<void>::New(env, box.get())});
}

IscsiSession::IscsiSession(const Napi::CallbackInfo& info) : Napi::ObjectWrap<IscsiSession>(info) {
  Napi::Env env = info.Env();
  if (info.Length() != 2 || !info[0].IsExternal() || !info[1].IsExternal() ||
      info[0].As<Napi::External<int>>().Data() != &kNativeConstructToken)
    throw Napi::TypeError::New(env, "Illegal constructor: IscsiSession objects are created by virtkit only");
  state_ = *static_cast<std::shared_ptr<IscsiSessionState>*>(info[1].As<Napi::External<void>>().Data());
  napi_type_tag_object(env, info.This(), &IscsiSessionTraits::kTag);
}

// A session dropped without close(): logged out and freed on the call pool.
IscsiSession::~IscsiSession() {
  if (state_ && state_->open.exchange(false)) RunOffThread([s = std::move(state_)] { CloseSession(*s); });
}

// Queues fn(state, op) for a session call, with the session's mutex held on the pool thread;
// a closed session rejects without a thread hop.
template <typename Fn>
Napi::Value IscsiSession::Call(const Napi::CallbackInfo& info, const char* op, Fn fn) {
  if (!state_ || !state_->open) return RejectedIscsi(info.Env(), "closed", op, "the iSCSI session is closed");
  return QueueIscsi(info.Env(), [s = state_, op, fn = std::move(fn)]() mutable {
    std::lock_guard<std::mutex> lock(s->mu);
    return fn(*s, op);
  });
}

// iscsi_reportluns_task (select report 0). Resolves the LUNs as libiscsi addresses them: the
// first two bytes of each SAM LUN, which is the plain number below 256.
Napi::Value IscsiSession::ReportLuns(const Napi::CallbackInfo& info) {
  return Call(info, "REPORT LUNS", [](IscsiSessionState& st, const char* op) {
    Task t = RunScsiSized(st, op, 16 + 8 * 64, 16 + 8 * 16384, [](struct iscsi_context* ctx, int alloc, Waiter* w) {
      return iscsi_reportluns_task(ctx, 0, alloc, OnDone, w);
    });
    auto* list = Unmarshall<struct scsi_reportluns_list>(t.get(), op);
    std::vector<unsigned int> luns;
    for (uint32_t i = 0; i < list->num; i++) luns.push_back(list->luns[i]);
    return luns;
  });
}

// iscsi_inquiry_task: standard INQUIRY data.
Napi::Value IscsiSession::Inquiry(const Napi::CallbackInfo& info) {
  int lun = ArgLun(info, 0);
  return Call(info, "INQUIRY", [lun](IscsiSessionState& st, const char* op) {
    Task t = RunScsi(st, op, [lun](struct iscsi_context* ctx, Waiter* w) {
      return iscsi_inquiry_task(ctx, lun, 0, 0, 255, OnDone, w);
    });
    auto* q = Unmarshall<struct scsi_inquiry_standard>(t.get(), op);
    return StandardInquiry{q->qualifier, q->device_type, q->rmb, q->version,
                           Str(scsi_devtype_to_str(q->device_type)), q->vendor_identification,
                           q->product_identification, q->product_revision_level};
  });
}

// iscsi_inquiry_task: VPD page 0x80 (unit serial number).
Napi::Value IscsiSession::InquirySerial(const Napi::CallbackInfo& info) {
  int lun = ArgLun(info, 0);
  return Call(info, "INQUIRY (unit serial number)", [lun](IscsiSessionState& st, const char* op) {
    Task t = RunScsiSized(st, op, 255, 65535, [lun](struct iscsi_context* ctx, int alloc, Waiter* w) {
      return iscsi_inquiry_task(ctx, lun, 1, SCSI_INQUIRY_PAGECODE_UNIT_SERIAL_NUMBER, alloc, OnDone, w);
    });
    auto* p = Unmarshall<struct scsi_inquiry_unit_serial_number>(t.get(), op);
    return std::string(Str(p->usn));
  });
}

// iscsi_inquiry_task: VPD page 0x83 (device identification), every designator.
Napi::Value IscsiSession::InquiryDeviceId(const Napi::CallbackInfo& info) {
  int lun = ArgLun(info, 0);
  return Call(info, "INQUIRY (device identification)", [lun](IscsiSessionState& st, const char* op) {
    Task t = RunScsiSized(st, op, 255, 65535, [lun](struct iscsi_context* ctx, int alloc, Waiter* w) {
      return iscsi_inquiry_task(ctx, lun, 1, SCSI_INQUIRY_PAGECODE_DEVICE_IDENTIFICATION, alloc, OnDone, w);
    });
    auto* p = Unmarshall<struct scsi_inquiry_device_identification>(t.get(), op);
    std::vector<Designator> out;
    for (auto* d = p->designators; d; d = d->next) {
      Designator x{d->protocol_identifier, d->code_set, d->piv, d->association, d->designator_type,
                   Str(scsi_designator_type_to_str(d->designator_type)), Str(scsi_association_to_str(d->association)), {}};
      auto* bytes = reinterpret_cast<const uint8_t*>(d->designator);
      if (bytes && d->designator_length > 0) x.value.assign(bytes, bytes + d->designator_length);
      out.push_back(std::move(x));
    }
    return out;
  });
}

// iscsi_readcapacity16_task.
Napi::Value IscsiSession::ReadCapacity16(const Napi::CallbackInfo& info) {
  int lun = ArgLun(info, 0);
  return Call(info, "READ CAPACITY(16)", [lun](IscsiSessionState& st, const char* op) {
    Task t = RunScsi(st, op, [lun](struct iscsi_context* ctx, Waiter* w) {
      return iscsi_readcapacity16_task(ctx, lun, OnDone, w);
    });
    auto* c = Unmarshall<struct scsi_readcapacity16>(t.get(), op);
    return Capacity{c->returned_lba, c->block_length, c->lbpme, c->lbprz, c->lbppbe};
  });
}

// iscsi_readcapacity10_task.
Napi::Value IscsiSession::ReadCapacity10(const Napi::CallbackInfo& info) {
  int lun = ArgLun(info, 0);
  return Call(info, "READ CAPACITY(10)", [lun](IscsiSessionState& st, const char* op) {
    Task t = RunScsi(st, op, [lun](struct iscsi_context* ctx, Waiter* w) {
      return iscsi_readcapacity10_task(ctx, lun, 0, 0, OnDone, w);
    });
    auto* c = Unmarshall<struct scsi_readcapacity10>(t.get(), op);
    return Capacity{c->lba, c->block_size};
  });
}

// iscsi_testunitready_task.
Napi::Value IscsiSession::TestUnitReady(const Napi::CallbackInfo& info) {
  int lun = ArgLun(info, 0);
  return Call(info, "TEST UNIT READY", [lun](IscsiSessionState& st, const char* op) {
    RunScsi(st, op, [lun](struct iscsi_context* ctx, Waiter* w) { return iscsi_testunitready_task(ctx, lun, OnDone, w); });
  });
}

// read16(lun, lba, blocks, blockSize): iscsi_read16_iov_task, straight into our buffer.
Napi::Value IscsiSession::Read16(const Napi::CallbackInfo& info) {
  int lun = ArgLun(info, 0);
  double lba = ArgNumberInRange(info, 1, "lba", 0, 9007199254740991.0);
  unsigned int blocks = ArgUint(info, 2, "blocks");
  unsigned int blockSize = ArgUint(info, 3, "blockSize");
  if (blockSize == 0 || double(blocks) * blockSize > double(kMaxTransfer))
    throw Napi::RangeError::New(info.Env(), "read size is out of range");
  return Call(info, "READ(16)", [lun, lba, blocks, blockSize](IscsiSessionState& st, const char* op) {
    Bytes out;
    out.v.resize(size_t(blocks) * blockSize);
    struct scsi_iovec iov;
    iov.iov_base = out.v.data();
    iov.iov_len = out.v.size();
    Task t = RunScsi(st, op, [&](struct iscsi_context* ctx, Waiter* w) {
      return iscsi_read16_iov_task(ctx, lun, uint64_t(lba), uint32_t(out.v.size()), int(blockSize), 0, 0, 0, 0, 0,
                                   OnDone, w, &iov, 1);
    });
    if (t->residual_status == SCSI_RESIDUAL_UNDERFLOW && t->residual > 0)
      Fail("protocol", op, std::string(op) + " on " + st.where + " returned " + std::to_string(out.v.size() - t->residual) +
                               " of " + std::to_string(out.v.size()) + " bytes");
    return out;
  });
}

// write16(lun, lba, data, blockSize): iscsi_write16_task from a copy of data.
Napi::Value IscsiSession::Write16(const Napi::CallbackInfo& info) {
  int lun = ArgLun(info, 0);
  double lba = ArgNumberInRange(info, 1, "lba", 0, 9007199254740991.0);
  if (info.Length() < 3 || !info[2].IsTypedArray() || info[2].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    throw Napi::TypeError::New(info.Env(), "data must be a Uint8Array or Buffer");
  Napi::Uint8Array data = info[2].As<Napi::Uint8Array>();
  unsigned int blockSize = ArgUint(info, 3, "blockSize");
  if (blockSize == 0 || data.ByteLength() % blockSize != 0 || data.ByteLength() > kMaxTransfer)
    throw Napi::RangeError::New(info.Env(), "data must be a whole number of blocks, at most 1 GiB");
  auto in = std::make_shared<Bytes>();
  in->v.assign(data.Data(), data.Data() + data.ByteLength());
  return Call(info, "WRITE(16)", [lun, lba, blockSize, in](IscsiSessionState& st, const char* op) {
    RunScsi(st, op, [&](struct iscsi_context* ctx, Waiter* w) {
      return iscsi_write16_task(ctx, lun, uint64_t(lba), in->v.data(), uint32_t(in->v.size()), int(blockSize), 0, 0, 0, 0,
                                0, OnDone, w);
    });
  });
}

// logout(): iSCSI logout (bounded by the session timeout), then the context is freed. Calls
// queued before it finish first (they hold the session mutex); calls after it reject 'closed'.
// Idempotent.
Napi::Value IscsiSession::Logout(const Napi::CallbackInfo& info) {
  if (!state_ || !state_->open.exchange(false)) {
    auto d = Napi::Promise::Deferred::New(info.Env());
    d.Resolve(info.Env().Undefined());
    return d.Promise();
  }
  return QueueIscsi(info.Env(), [s = state_]() { CloseSession(*s); });
}

Napi::Value IscsiSession::IsClosed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), !state_ || !state_->open);
}

void InitIscsi(Napi::Env env, Napi::Object exports) {
  AddonData::Get(env)->iscsiSessionClass = Napi::Persistent(IscsiSession::Init(env));
  exports.Set("iscsiSetErrorClass", Napi::Function::New(env, SetErrorClass, "iscsiSetErrorClass"));
  exports.Set("iscsiDiscover", Napi::Function::New(env, Discover, "iscsiDiscover"));
  exports.Set("iscsiConnect", Napi::Function::New(env, Connect, "iscsiConnect"));
}

}  // namespace virtkit
