// virDomainSnapshotPtr: the domain snapshot wrap. Methods mirror virDomainSnapshot* functions
// that take a snapshot; those that take the domain (create, list, lookup) are on the Domain wrap.
#pragma once
#include <napi.h>
#include <libvirt/libvirt.h>
#include "handle.h"

namespace virtkit {

class DomainSnapshot;

struct DomainSnapshotTraits {
  using Ptr = virDomainSnapshotPtr;
  using Class = DomainSnapshot;
  static constexpr const char* kName = "DomainSnapshot";
  static constexpr int kInvalid = VIR_ERR_INVALID_DOMAIN_SNAPSHOT;
  static constexpr const char* kFreed = "the domain snapshot handle has been freed";
  static const napi_type_tag kTag;
  static int Ref(Ptr p) { return virDomainSnapshotRef(p); }
  static void Unref(Ptr p) { virDomainSnapshotFree(p); }
  // The connection whose calls it makes (no reference taken): for CallGate().
  static virConnectPtr Conn(Ptr p) { return virDomainSnapshotGetConnect(p); }
};

class DomainSnapshot : public Handle<DomainSnapshot, DomainSnapshotTraits> {
 public:
  static Napi::Function Init(Napi::Env env);
  static Napi::FunctionReference& Constructor(Napi::Env env);
  explicit DomainSnapshot(const Napi::CallbackInfo& info) : Handle(info) {}

 private:
  Napi::Value GetName(const Napi::CallbackInfo& info);
  Napi::Value GetXMLDesc(const Napi::CallbackInfo& info);
  Napi::Value GetParent(const Napi::CallbackInfo& info);
  Napi::Value ListAllChildren(const Napi::CallbackInfo& info);
  Napi::Value Delete(const Napi::CallbackInfo& info);
  Napi::Value IsCurrent(const Napi::CallbackInfo& info);
  Napi::Value HasMetadata(const Napi::CallbackInfo& info);
  Napi::Value Revert(const Napi::CallbackInfo& info);
};

}  // namespace virtkit
