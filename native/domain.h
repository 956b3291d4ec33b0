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
  Napi::Value CreateWithFlags(const Napi::CallbackInfo& info);
  Napi::Value DestroyFlags(const Napi::CallbackInfo& info);
  Napi::Value ShutdownFlags(const Napi::CallbackInfo& info);
  Napi::Value Reboot(const Napi::CallbackInfo& info);
  Napi::Value Reset(const Napi::CallbackInfo& info);
  Napi::Value Suspend(const Napi::CallbackInfo& info);
  Napi::Value Resume(const Napi::CallbackInfo& info);
  Napi::Value UndefineFlags(const Napi::CallbackInfo& info);
  Napi::Value IsActive(const Napi::CallbackInfo& info);
  Napi::Value IsPersistent(const Napi::CallbackInfo& info);
  Napi::Value IsUpdated(const Napi::CallbackInfo& info);
  Napi::Value GetAutostart(const Napi::CallbackInfo& info);
  Napi::Value SetAutostart(const Napi::CallbackInfo& info);
  Napi::Value GetOSType(const Napi::CallbackInfo& info);
  Napi::Value GetMaxMemory(const Napi::CallbackInfo& info);
  Napi::Value GetMaxVcpus(const Napi::CallbackInfo& info);
  Napi::Value SetMemoryFlags(const Napi::CallbackInfo& info);
  Napi::Value SetVcpusFlags(const Napi::CallbackInfo& info);
  Napi::Value GetVcpusFlags(const Napi::CallbackInfo& info);
  Napi::Value ManagedSave(const Napi::CallbackInfo& info);
  Napi::Value HasManagedSaveImage(const Napi::CallbackInfo& info);
  Napi::Value ManagedSaveRemove(const Napi::CallbackInfo& info);
  Napi::Value GetHostname(const Napi::CallbackInfo& info);
};

}  // namespace virtkit
