// virConnectPtr: the connection wrap. Methods mirror virConnect* / virNode* functions.
#pragma once
#include <napi.h>
#include <libvirt/libvirt.h>
#include "handle.h"

namespace virtkit {

class Connect;

struct ConnectTraits {
  using Ptr = virConnectPtr;
  using Class = Connect;
  static constexpr const char* kName = "Connect";
  static constexpr int kInvalid = VIR_ERR_INVALID_CONN;
  static constexpr const char* kFreed = "the connection is closed";
  static const napi_type_tag kTag;
  static int Ref(Ptr p) { return virConnectRef(p); }
  static void Unref(Ptr p) { CloseConnection(p); }
  // The connection whose calls it makes (no reference taken): for CallGate().
  static virConnectPtr Conn(Ptr p) { return p; }
};

class Connect : public Handle<Connect, ConnectTraits> {
 public:
  static Napi::Function Init(Napi::Env env);
  // openConnect(uri|null, flags, username|null, password|null) -> Promise<Connect>
  static Napi::Value Open(const Napi::CallbackInfo& info);
  static Napi::FunctionReference& Constructor(Napi::Env env);

  explicit Connect(const Napi::CallbackInfo& info) : Handle(info) {}

 private:
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value IsClosed(const Napi::CallbackInfo& info);
  Napi::Value IsAlive(const Napi::CallbackInfo& info);
  Napi::Value IsSecure(const Napi::CallbackInfo& info);
  Napi::Value IsEncrypted(const Napi::CallbackInfo& info);
  Napi::Value GetURI(const Napi::CallbackInfo& info);
  Napi::Value GetHostname(const Napi::CallbackInfo& info);
  Napi::Value GetType(const Napi::CallbackInfo& info);
  Napi::Value GetVersion(const Napi::CallbackInfo& info);
  Napi::Value GetLibVersion(const Napi::CallbackInfo& info);
  Napi::Value GetCapabilities(const Napi::CallbackInfo& info);
  Napi::Value GetSysinfo(const Napi::CallbackInfo& info);
  Napi::Value GetMaxVcpus(const Napi::CallbackInfo& info);
  Napi::Value NodeGetInfo(const Napi::CallbackInfo& info);
  Napi::Value SetKeepAlive(const Napi::CallbackInfo& info);
  Napi::Value ListAllStoragePools(const Napi::CallbackInfo& info);
  Napi::Value ListAllDomains(const Napi::CallbackInfo& info);
  Napi::Value StoragePoolLookupByName(const Napi::CallbackInfo& info);
  Napi::Value StoragePoolLookupByUUIDString(const Napi::CallbackInfo& info);
  Napi::Value DomainLookupByName(const Napi::CallbackInfo& info);
  Napi::Value DomainLookupByUUIDString(const Napi::CallbackInfo& info);
  Napi::Value DomainLookupByID(const Napi::CallbackInfo& info);
  Napi::Value DomainDefineXMLFlags(const Napi::CallbackInfo& info);
  Napi::Value DomainCreateXML(const Napi::CallbackInfo& info);
  Napi::Value DomainRestoreFlags(const Napi::CallbackInfo& info);
  Napi::Value DomainSaveImageGetXMLDesc(const Napi::CallbackInfo& info);
  Napi::Value DomainSaveImageDefineXML(const Napi::CallbackInfo& info);
  Napi::Value GetAllDomainStats(const Napi::CallbackInfo& info);
  Napi::Value DomainListGetStats(const Napi::CallbackInfo& info);
  Napi::Value GetDomainCapabilities(const Napi::CallbackInfo& info);
  Napi::Value DomainXMLFromNative(const Napi::CallbackInfo& info);
  Napi::Value DomainXMLToNative(const Napi::CallbackInfo& info);
  Napi::Value ListAllSecrets(const Napi::CallbackInfo& info);
  Napi::Value StoragePoolDefineXML(const Napi::CallbackInfo& info);
  Napi::Value StorageVolLookupByKey(const Napi::CallbackInfo& info);
  Napi::Value StorageVolLookupByPath(const Napi::CallbackInfo& info);
  Napi::Value StoragePoolCreateXML(const Napi::CallbackInfo& info);
  Napi::Value StoragePoolLookupByTargetPath(const Napi::CallbackInfo& info);
  Napi::Value FindStoragePoolSources(const Napi::CallbackInfo& info);
  Napi::Value GetStoragePoolCapabilities(const Napi::CallbackInfo& info);
  Napi::Value SecretDefineXML(const Napi::CallbackInfo& info);
  Napi::Value SecretLookupByUUIDString(const Napi::CallbackInfo& info);
  Napi::Value SecretLookupByUsage(const Napi::CallbackInfo& info);
  // Event registration (defined in native/events.cc).
  Napi::Value DomainEventRegisterAny(const Napi::CallbackInfo& info);
  Napi::Value DomainEventDeregisterAny(const Napi::CallbackInfo& info);
  Napi::Value StoragePoolEventRegisterAny(const Napi::CallbackInfo& info);
  Napi::Value StoragePoolEventDeregisterAny(const Napi::CallbackInfo& info);
  Napi::Value SecretEventRegisterAny(const Napi::CallbackInfo& info);
  Napi::Value SecretEventDeregisterAny(const Napi::CallbackInfo& info);
  Napi::Value RegisterCloseCallback(const Napi::CallbackInfo& info);
  Napi::Value UnregisterCloseCallback(const Napi::CallbackInfo& info);
};

}  // namespace virtkit
