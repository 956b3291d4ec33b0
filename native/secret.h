// virSecretPtr: the secret wrap. Methods mirror virSecret* functions. Secret values cross
// this layer only in buffers that are wiped when they go.
#pragma once
#include <napi.h>
#include <libvirt/libvirt.h>
#include "handle.h"

namespace virtkit {

class Secret;

struct SecretTraits {
  using Ptr = virSecretPtr;
  using Class = Secret;
  static constexpr const char* kName = "Secret";
  static constexpr int kInvalid = VIR_ERR_INVALID_SECRET;
  static constexpr const char* kFreed = "the secret handle has been freed";
  static const napi_type_tag kTag;
  static int Ref(Ptr p) { return virSecretRef(p); }
  static void Unref(Ptr p) { virSecretFree(p); }
  // The connection whose calls it makes (no reference taken): for CallGate().
  static virConnectPtr Conn(Ptr p) { return virSecretGetConnect(p); }
};

class Secret : public Handle<Secret, SecretTraits> {
 public:
  static Napi::Function Init(Napi::Env env);
  static Napi::FunctionReference& Constructor(Napi::Env env);
  explicit Secret(const Napi::CallbackInfo& info) : Handle(info) {}

 private:
  Napi::Value GetUUIDString(const Napi::CallbackInfo& info);
  Napi::Value GetUsageType(const Napi::CallbackInfo& info);
  Napi::Value GetUsageID(const Napi::CallbackInfo& info);
  Napi::Value GetXMLDesc(const Napi::CallbackInfo& info);
  Napi::Value SetValue(const Napi::CallbackInfo& info);
  Napi::Value GetValue(const Napi::CallbackInfo& info);
  Napi::Value Undefine(const Napi::CallbackInfo& info);
};

}  // namespace virtkit
