// iSCSI initiator over libiscsi: discovery, one session object, SCSI commands. Not a libvirt
// object: its failures are IscsiErrors (lib/iscsi/errors.ts), not LibvirtErrors.
//
// Threading (this slice): every libiscsi call runs on virtkit's call pool (native/worker.h),
// never on the JS thread. A call drives libiscsi's task API to completion on that thread with
// a small poll loop (Drive() in iscsi.cc): poll(iscsi_get_fd, iscsi_which_events), then
// iscsi_service, until the task's callback has run or the call's deadline has passed. Why not
// libiscsi's own *_sync wrappers: they have no TCP-connect timeout, scan timeouts in whole
// seconds, and when their loop fails mid-command they return while the task's callback still
// points at their stack frame (a later iscsi_destroy_context would call it). Our loop keeps
// the callback state alive until the task has completed or has been cancelled.
// A libiscsi context is not thread-safe: each session has a mutex, held for the whole of a
// call, so one session is driven by one thread at a time (lib/ also queues calls per session,
// so waiting calls do not each hold a pool thread).
//
// Planned next step, for hundreds of sessions: the same callbacks, driven from the JS thread's
// libuv loop by a uv_poll on iscsi_get_fd (events from iscsi_which_events, iscsi_service on
// readiness, a uv_timer for iscsi_service(ctx, 0) timeout scans), so sessions cost no threads.
#pragma once
#include <napi.h>
#include <memory>

struct iscsi_context;

namespace virtkit {

struct IscsiSessionState;

// Traits of the session handle, shaped like the libvirt handles' (native/handle.h).
struct IscsiSessionTraits {
  static constexpr const char* kName = "IscsiSession";
  static const napi_type_tag kTag;
};

// The session wrap. Owns one logged-in libiscsi context (shared with the calls in flight);
// logout() or the finalizer logs out and frees it on the call pool.
class IscsiSession : public Napi::ObjectWrap<IscsiSession> {
 public:
  static Napi::Function Init(Napi::Env env);
  static Napi::Object Wrap(Napi::Env env, std::shared_ptr<IscsiSessionState> state);
  explicit IscsiSession(const Napi::CallbackInfo& info);
  ~IscsiSession() override;

 private:
  Napi::Value ReportLuns(const Napi::CallbackInfo& info);
  Napi::Value Inquiry(const Napi::CallbackInfo& info);
  Napi::Value InquirySerial(const Napi::CallbackInfo& info);
  Napi::Value InquiryDeviceId(const Napi::CallbackInfo& info);
  Napi::Value ReadCapacity16(const Napi::CallbackInfo& info);
  Napi::Value ReadCapacity10(const Napi::CallbackInfo& info);
  Napi::Value TestUnitReady(const Napi::CallbackInfo& info);
  Napi::Value Read16(const Napi::CallbackInfo& info);
  Napi::Value Write16(const Napi::CallbackInfo& info);
  Napi::Value Logout(const Napi::CallbackInfo& info);
  Napi::Value IsClosed(const Napi::CallbackInfo& info);
  template <typename Fn>
  Napi::Value Call(const Napi::CallbackInfo& info, const char* op, Fn fn);

  std::shared_ptr<IscsiSessionState> state_;
};

// Adds iscsiSetErrorClass, iscsiDiscover, iscsiConnect and the IscsiSession class to exports.
void InitIscsi(Napi::Env env, Napi::Object exports);

}  // namespace virtkit
