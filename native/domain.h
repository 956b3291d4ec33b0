// virDomainPtr: the domain wrap. Methods mirror virDomain* functions.
#pragma once
#include <napi.h>
#include <libvirt/libvirt.h>
#include "handle.h"

namespace virtkit {

class Domain;

struct DomainTraits {
  using Ptr = virDomainPtr;
  using Class = Domain;
  static constexpr const char* kName = "Domain";
  static constexpr int kInvalid = VIR_ERR_INVALID_DOMAIN;
  static constexpr const char* kFreed = "the domain handle has been freed";
  static const napi_type_tag kTag;
  static int Ref(Ptr p) { return virDomainRef(p); }
  static void Unref(Ptr p) { virDomainFree(p); }
};

class Domain : public Handle<Domain, DomainTraits> {
 public:
  static Napi::Function Init(Napi::Env env);
  static Napi::FunctionReference& Constructor(Napi::Env env);
  explicit Domain(const Napi::CallbackInfo& info) : Handle(info) {}

 private:
  Napi::Value GetName(const Napi::CallbackInfo& info);
  Napi::Value GetUUIDString(const Napi::CallbackInfo& info);
  Napi::Value GetID(const Napi::CallbackInfo& info);
  Napi::Value GetState(const Napi::CallbackInfo& info);
  Napi::Value GetInfo(const Napi::CallbackInfo& info);
  Napi::Value GetXMLDesc(const Napi::CallbackInfo& info);
};

}  // namespace virtkit
