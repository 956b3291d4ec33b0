// virStorageVolPtr: the storage volume wrap. Methods mirror virStorageVol* functions.
#pragma once
#include <napi.h>
#include <libvirt/libvirt.h>
#include <string>
#include "handle.h"

namespace virtkit {

class StorageVol;

struct StorageVolTraits {
  using Ptr = virStorageVolPtr;
  using Class = StorageVol;
  static constexpr const char* kName = "StorageVol";
  static constexpr int kInvalid = VIR_ERR_INVALID_STORAGE_VOL;
  static constexpr const char* kFreed = "the storage volume handle has been freed";
  static const napi_type_tag kTag;
  static int Ref(Ptr p) { return virStorageVolRef(p); }
  static void Unref(Ptr p) { virStorageVolFree(p); }
  // The connection whose calls it makes (no reference taken): for CallGate().
  static virConnectPtr Conn(Ptr p) { return virStorageVolGetConnect(p); }
};

// One volume with its info and path, fetched together (StoragePool.listAllVolumesWithInfo).
struct VolumeWithInfo {
  Hold<StorageVolTraits> vol;
  virStorageVolInfo info;
  std::string path;
};
Napi::Value ToJs(Napi::Env env, VolumeWithInfo&& v);

class StorageVol : public Handle<StorageVol, StorageVolTraits> {
 public:
  static Napi::Function Init(Napi::Env env);
  static Napi::FunctionReference& Constructor(Napi::Env env);
  explicit StorageVol(const Napi::CallbackInfo& info) : Handle(info) {}

 private:
  Napi::Value GetName(const Napi::CallbackInfo& info);
  Napi::Value GetKey(const Napi::CallbackInfo& info);
  Napi::Value GetPath(const Napi::CallbackInfo& info);
  Napi::Value GetInfo(const Napi::CallbackInfo& info);
  Napi::Value GetXMLDesc(const Napi::CallbackInfo& info);
  Napi::Value StoragePoolLookupByVolume(const Napi::CallbackInfo& info);
  Napi::Value GetInfoFlags(const Napi::CallbackInfo& info);
  Napi::Value Delete(const Napi::CallbackInfo& info);
  Napi::Value Wipe(const Napi::CallbackInfo& info);
  Napi::Value WipePattern(const Napi::CallbackInfo& info);
  Napi::Value Resize(const Napi::CallbackInfo& info);
  Napi::Value Upload(const Napi::CallbackInfo& info);
  Napi::Value Download(const Napi::CallbackInfo& info);
};

}  // namespace virtkit
