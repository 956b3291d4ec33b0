#include "errors.h"
#include "addon.h"

namespace virtkit {

static std::optional<std::string> OptString(const char* s) {
  if (!s) return std::nullopt;
  return std::string(s);
}

Failure Failure::FromLastError() {
  Failure f;
  virError err;
  memset(&err, 0, sizeof err);
  if (virCopyLastError(&err) > 0 && err.code != VIR_ERR_OK) {
    f.code = err.code;
    f.domain = err.domain;
    f.level = err.level;
    f.message = err.message ? err.message : "unknown libvirt error";
    f.str1 = OptString(err.str1);
    f.str2 = OptString(err.str2);
    f.str3 = OptString(err.str3);
    f.int1 = err.int1;
    f.int2 = err.int2;
  } else {
    f.message = "libvirt reported a failure without an error";
  }
  virResetError(&err);
  virResetLastError();
  return f;
}

Failure Failure::Local(int code, std::string message) {
  Failure f;
  f.code = code;
  f.message = std::move(message);
  return f;
}

void ThrowLastError() { throw CallFailed(Failure::FromLastError()); }

static void SetOptional(Napi::Object o, const char* key, const std::optional<std::string>& v) {
  if (v) o.Set(key, *v);
  else o.Set(key, o.Env().Null());
}

Napi::Value MakeError(Napi::Env env, const Failure& f) {
  Napi::Object info = Napi::Object::New(env);
  info.Set("code", f.code);
  info.Set("domain", f.domain);
  info.Set("level", f.level);
  info.Set("message", f.message);
  SetOptional(info, "str1", f.str1);
  SetOptional(info, "str2", f.str2);
  SetOptional(info, "str3", f.str3);
  info.Set("int1", f.int1);
  info.Set("int2", f.int2);
  AddonData* data = AddonData::Get(env);
  if (data && !data->libvirtError.IsEmpty()) return data->libvirtError.New({info});
  Napi::Error e = Napi::Error::New(env, f.message);
  e.Set("info", info);
  return e.Value();
}

void ThrowJs(Napi::Env env, const Failure& f) { throw Napi::Error(env, MakeError(env, f)); }

Napi::Promise RejectedPromise(Napi::Env env, const Failure& f) {
  auto deferred = Napi::Promise::Deferred::New(env);
  deferred.Reject(MakeError(env, f));
  return deferred.Promise();
}

static void SilentErrorFunc(void*, virErrorPtr) {}

void InstallSilentErrorHandler() { virSetErrorFunc(nullptr, SilentErrorFunc); }

}  // namespace virtkit
