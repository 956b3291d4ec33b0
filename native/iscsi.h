// iSCSI initiator over libiscsi: discovery, one session object, SCSI commands. Not a libvirt
// object: its failures are IscsiErrors (lib/iscsi/errors.ts), not LibvirtErrors.
//
// The sessions are driven from the JS thread's libuv loop (native/iscsi_engine.h): no thread
// per session, any number of commands in flight on one session.
#pragma once
#include <napi.h>
#include <memory>
#include "diagnostics.h"

namespace virtkit {

namespace iscsi {
class Engine;
}

// Traits of the session handle, shaped like the libvirt handles' (native/handle.h).
struct IscsiSessionTraits {
  static constexpr const char* kName = "IscsiSession";
  static const napi_type_tag kTag;
};

// The session wrap. Shares one logged-in engine with the commands in flight; logout() or the
// finalizer logs it out.
class IscsiSession : public Napi::ObjectWrap<IscsiSession> {
 public:
  static Napi::Function Init(Napi::Env env);
  static Napi::Object Wrap(Napi::Env env, std::shared_ptr<iscsi::Engine> engine);
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
  Napi::Value Read16Into(const Napi::CallbackInfo& info);
  Napi::Value Write16(const Napi::CallbackInfo& info);
  Napi::Value Logout(const Napi::CallbackInfo& info);
  Napi::Value IsClosed(const Napi::CallbackInfo& info);

  std::shared_ptr<iscsi::Engine> engine_;
  LiveCount<IscsiSessionTraits> live_;  // diagnostics.liveObjects()
};

// Adds iscsiSetErrorClass, iscsiDiscover, iscsiConnect and the IscsiSession class to exports.
void InitIscsi(Napi::Env env, Napi::Object exports);

}  // namespace virtkit
