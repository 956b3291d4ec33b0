// virStoragePoolPtr: the storage pool wrap. Methods mirror virStoragePool* functions.
#pragma once
#include <napi.h>
#include <libvirt/libvirt.h>
#include "handle.h"

namespace virtkit {

class StoragePool;

struct StoragePoolTraits {
  using Ptr = virStoragePoolPtr;
  using Class = StoragePool;
  static constexpr const char* kName = "StoragePool";
  static constexpr int kInvalid = VIR_ERR_INVALID_STORAGE_POOL;
  static constexpr const char* kFreed = "the storage pool handle has been freed";
  static const napi_type_tag kTag;
  static int Ref(Ptr p) { return virStoragePoolRef(p); }
  static void Unref(Ptr p) { virStoragePoolFree(p); }
  // The connection whose calls it makes (no reference taken): for CallGate().
  static virConnectPtr Conn(Ptr p) { return virStoragePoolGetConnect(p); }
};

class StoragePool : public Handle<StoragePool, StoragePoolTraits> {
 public:
  static Napi::Function Init(Napi::Env env);
  static Napi::FunctionReference& Constructor(Napi::Env env);
  explicit StoragePool(const Napi::CallbackInfo& info) : Handle(info) {}

 private:
  Napi::Value GetName(const Napi::CallbackInfo& info);
  Napi::Value GetUUIDString(const Napi::CallbackInfo& info);
  Napi::Value GetInfo(const Napi::CallbackInfo& info);
  Napi::Value GetXMLDesc(const Napi::CallbackInfo& info);
  Napi::Value IsActive(const Napi::CallbackInfo& info);
  Napi::Value IsPersistent(const Napi::CallbackInfo& info);
  Napi::Value GetAutostart(const Napi::CallbackInfo& info);
  Napi::Value ListAllVolumes(const Napi::CallbackInfo& info);
  Napi::Value Build(const Napi::CallbackInfo& info);
  Napi::Value Create(const Napi::CallbackInfo& info);
  Napi::Value Delete(const Napi::CallbackInfo& info);
  Napi::Value Destroy(const Napi::CallbackInfo& info);
  Napi::Value Undefine(const Napi::CallbackInfo& info);
  Napi::Value Refresh(const Napi::CallbackInfo& info);
  Napi::Value SetAutostart(const Napi::CallbackInfo& info);
  Napi::Value StorageVolCreateXML(const Napi::CallbackInfo& info);
  Napi::Value StorageVolCreateXMLFrom(const Napi::CallbackInfo& info);
  Napi::Value StorageVolLookupByName(const Napi::CallbackInfo& info);
  Napi::Value ListAllVolumesWithInfo(const Napi::CallbackInfo& info);
};

}  // namespace virtkit
