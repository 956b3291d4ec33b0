// virDomainCheckpointPtr: the domain checkpoint wrap. Methods mirror virDomainCheckpoint* functions
// that take a checkpoint; those that take the domain (create, list, lookup) are on the Domain wrap.
#pragma once
#include <napi.h>
#include <libvirt/libvirt.h>
#include "handle.h"

namespace virtkit {

class DomainCheckpoint;

struct DomainCheckpointTraits {
  using Ptr = virDomainCheckpointPtr;
  using Class = DomainCheckpoint;
  static constexpr const char* kName = "DomainCheckpoint";
  static constexpr int kInvalid = VIR_ERR_INVALID_DOMAIN_CHECKPOINT;
  static constexpr const char* kFreed = "the domain checkpoint handle has been freed";
  static const napi_type_tag kTag;
  static int Ref(Ptr p) { return virDomainCheckpointRef(p); }
  static void Unref(Ptr p) { virDomainCheckpointFree(p); }
  // The connection whose calls it makes (no reference taken): for CallGate().
  static virConnectPtr Conn(Ptr p) { return virDomainCheckpointGetConnect(p); }
};

class DomainCheckpoint : public Handle<DomainCheckpoint, DomainCheckpointTraits> {
 public:
  static Napi::Function Init(Napi::Env env);
  static Napi::FunctionReference& Constructor(Napi::Env env);
  explicit DomainCheckpoint(const Napi::CallbackInfo& info) : Handle(info) {}

 private:
  Napi::Value GetName(const Napi::CallbackInfo& info);
  Napi::Value GetXMLDesc(const Napi::CallbackInfo& info);
  Napi::Value GetParent(const Napi::CallbackInfo& info);
  Napi::Value ListAllChildren(const Napi::CallbackInfo& info);
  Napi::Value Delete(const Napi::CallbackInfo& info);
};

}  // namespace virtkit
