// The libiscsi driver behind native/iscsi.cc: one libiscsi context per session, driven from the
// JS thread's libuv loop, so a session costs no thread and carries many commands at once.
//
// How a context is driven: a uv_poll watches iscsi_get_fd() for iscsi_which_events(); when it
// fires, iscsi_service() reads and writes what it can (the socket is non-blocking) and runs the
// callbacks of the commands that completed, which settle their promises. A uv_timer fires at the
// earliest deadline of what is pending and cancels it (iscsi_scsi_cancel_task) as a timeout.
// Nothing here blocks: libiscsi's only blocking call, getaddrinfo inside iscsi_connect_async, is
// given numeric addresses only (lib/iscsi resolves host names with dns.lookup first).
//
// Why not libiscsi's *_sync calls on the call pool (the first design): they hold a thread per
// session for the whole call, carry one command at a time, have no TCP-connect timeout and scan
// timeouts in whole seconds.
//
// Everything in this file runs on the JS thread of the environment that made the engine; uv
// callbacks open a callback scope so the promises they settle run their reactions at once.
// The handles are unref'd while a session is idle: an open, idle session does not keep the
// process alive, a command in flight does.
#pragma once
#include <napi.h>
#include <uv.h>
#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <vector>
#include "convert.h"
#include "worker.h"  // Deferred
extern "C" {
#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>
}

namespace virtkit {
namespace iscsi {

// ---------------------------------------------------------------------------------------------
// failures

// A plain description of an iSCSI failure; becomes an IscsiError (lib/iscsi/errors.ts).
struct Failure {
  Failure() = default;
  Failure(std::string k, std::string o, std::string m) : kind(std::move(k)), op(std::move(o)), message(std::move(m)) {}
  std::string kind;  // auth | connect | timeout | scsi | protocol | closed
  std::string op;    // what was being done: "login", "READ(16)" …
  std::string message;
  int status = -1;  // SCSI status of the command, when there is one
  int senseKey = -1, asc = -1, ascq = -1;
  std::string senseKeyName, ascqName;
  int loginStatus = -1;  // iSCSI login response status-class << 8 | status-detail
};

class Failed : public std::exception {
 public:
  explicit Failed(Failure f) : failure(std::move(f)) {}
  const char* what() const noexcept override { return failure.message.c_str(); }
  Failure failure;
};

[[noreturn]] void Fail(const char* kind, std::string op, std::string message);
Napi::Value MakeError(Napi::Env env, const Failure& f);
Napi::Promise Rejected(Napi::Env env, const char* kind, const char* op, const char* message);

using Clock = std::chrono::steady_clock;

// ---------------------------------------------------------------------------------------------
// login

struct LoginOptions {
  std::string portal;  // numeric host:port or [v6]:port
  std::string target;  // empty for discovery
  std::string initiator;
  std::optional<std::string> chapUser, mutualUser;
  std::unique_ptr<SecretString> chapPassword, mutualPassword;
  long long timeoutMs = 30000;
  int headerDigest = 0;
  bool discovery = false;
};

// ---------------------------------------------------------------------------------------------
// commands

class Engine;

// One SCSI command in flight on an engine, with its promise. issue() queues the task on the
// context (with Engine's callback and this command as private data); result() turns a GOOD
// task into the JS value the promise resolves with (it may throw Failed).
struct Command {
  const char* op = "";
  // allocation length for commands whose data may not fit: retried once with the full size
  int alloc = 0, maxAlloc = 0;
  std::function<struct scsi_task*(struct iscsi_context*, Command*)> issue;
  std::function<Napi::Value(Napi::Env, Command&)> result;
  // data buffers the command owns (READ: filled in place; WRITE: a copy of the caller's data)
  uint8_t* data = nullptr;
  size_t size = 0;
  // a caller's buffer the command reads into (readInto): kept alive until the command is over
  Napi::Reference<Napi::Uint8Array> target;
  struct scsi_iovec iov = {nullptr, 0};  // libiscsi keeps a pointer to it while the task runs
  ~Command();

  // engine's bookkeeping
  std::optional<Deferred> deferred;
  struct scsi_task* task = nullptr;
  Clock::time_point deadline;
  int attempts = 0;     // UNIT ATTENTION retries
  bool resized = false;  // reissued with the full allocation length
  bool timedOut = false;
  Engine* engine = nullptr;
  std::list<std::unique_ptr<Command>>::iterator pos;
};

// ---------------------------------------------------------------------------------------------
// the engine

// Targets found by SendTargets: (name, ["addr:port,tpgt", …]).
using Targets = std::vector<std::pair<std::string, std::vector<std::string>>>;

class Engine : public std::enable_shared_from_this<Engine> {
 public:
  // A normal session: resolves `deferred` with onReady(engine) once logged in.
  static void Login(Napi::Env env, LoginOptions options, Deferred deferred,
                    std::function<Napi::Value(Napi::Env, std::shared_ptr<Engine>)> onReady);
  // A discovery session: login, SendTargets, logout; resolves `deferred` with onTargets(targets).
  static void Discover(Napi::Env env, LoginOptions options, Deferred deferred,
                       std::function<Napi::Value(Napi::Env, Targets&&)> onTargets);

  // Queues a command; its promise settles when it completes, fails or times out.
  Napi::Promise Submit(Napi::Env env, std::unique_ptr<Command> command);
  // Logs out (after the commands in flight) and frees the context. Resolves `done` (if given)
  // when that is over; never fails. Idempotent: later calls resolve at once.
  void Close(std::optional<Deferred> done);
  // close() was called (or the wrap was dropped).
  bool closed() const { return closing_; }
  const std::string& where() const { return where_; }

  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // internal: the registry and libiscsi's callbacks
  struct Registry;
  explicit Engine(Napi::Env env, Registry* registry);
  static void OnConnected(struct iscsi_context* ctx, int status, void* data, void* priv);
  static void OnLoggedIn(struct iscsi_context* ctx, int status, void* data, void* priv);
  static void OnDiscovered(struct iscsi_context* ctx, int status, void* data, void* priv);
  static void OnLoggedOut(struct iscsi_context* ctx, int status, void* data, void* priv);
  static void OnCommand(struct iscsi_context* ctx, int status, void* data, void* priv);
  void Teardown();  // environment teardown: frees everything, settles nothing

 private:
  enum class Phase { kConnecting, kLoggingIn, kReady, kDiscovering, kLoggingOut, kDead };

  void Start(LoginOptions options, Deferred deferred);
  void LoginFailed(Failure f);
  void Ready();
  void CommandDone(Command* c, int status, struct scsi_task* task);
  void Settle(std::unique_ptr<Command> c, std::optional<Failure> failure);
  void Broken(std::string why);
  void LogoutNow();
  void Finish();  // logs out done (or skipped): destroys the context, resolves close promises
  void Destroy();
  void Service(int revents);
  void Flush();
  void Js();  // about to touch JS: inside a uv callback, opens its scope
  // Around libiscsi calls that run callbacks (iscsi_service, iscsi_scsi_cancel_task): a
  // Destroy() asked for inside them waits until they have returned.
  void Enter() { depth_++; }
  void Leave();
  void Update();  // poll events, refs and the timer, after anything changed
  void OnTimer();
  std::unique_ptr<Command> Take(Command* c);
  Failure ScrubbedLoginFailure(Failure f);

  Napi::Env env_;
  Registry* registry_;
  struct iscsi_context* ctx_ = nullptr;
  uv_poll_t* poll_ = nullptr;
  uv_timer_t* timer_ = nullptr;
  int polledFd_ = -1, polledEvents_ = 0;
  bool referenced_ = false;
  int depth_ = 0;
  bool destroyPending_ = false;
  Phase phase_ = Phase::kConnecting;
  bool closing_ = false;
  std::string where_, portal_, broken_;
  long long timeoutMs_ = 30000;
  // login (and for discovery, the whole session)
  std::optional<Deferred> login_;
  Clock::time_point loginDeadline_;
  std::unique_ptr<SecretString> chapPassword_, mutualPassword_;
  std::function<Napi::Value(Napi::Env, std::shared_ptr<Engine>)> onReady_;
  std::function<Napi::Value(Napi::Env, Targets&&)> onTargets_;
  std::optional<Targets> targets_;
  std::optional<Failure> discoveryFailure_;
  // commands in flight, oldest (earliest deadline) first
  std::list<std::unique_ptr<Command>> commands_;
  // close
  std::vector<Deferred> closeWaiters_;
  Clock::time_point logoutDeadline_;
  Clock::time_point armedAt_;
  bool armed_ = false;
};

}  // namespace iscsi
}  // namespace virtkit
