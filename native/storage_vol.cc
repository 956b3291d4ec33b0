#include "storage_vol.h"
#include "addon.h"
#include "storage_pool.h"

namespace virtkit {

const napi_type_tag StorageVolTraits::kTag = {0x7669727463756e6bULL, 0x53746f72566f6c31ULL};

namespace {
struct VolInfo {
  virStorageVolInfo v;
};

Napi::Value ToJs(Napi::Env env, VolInfo&& i) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("type", i.v.type);
  o.Set("capacity", double(i.v.capacity));
  o.Set("allocation", double(i.v.allocation));
  return o;
}

}  // namespace

Napi::FunctionReference& StorageVol::Constructor(Napi::Env env) { return AddonData::Get(env)->storageVolClass; }

Napi::Function StorageVol::Init(Napi::Env env) {
  return DefineHandleClass(env, "StorageVol",
                     {
                         InstanceMethod<&StorageVol::GetName>("getName"),
                         InstanceMethod<&StorageVol::GetKey>("getKey"),
                         InstanceMethod<&StorageVol::GetPath>("getPath"),
                         InstanceMethod<&StorageVol::GetInfo>("getInfo"),
                         InstanceMethod<&StorageVol::GetXMLDesc>("getXMLDesc"),
                         InstanceMethod<&StorageVol::StoragePoolLookupByVolume>("storagePoolLookupByVolume"),
                     });
}

// https://libvirt.org/html/libvirt-libvirt-storage.html#virStorageVolGetName (local)
Napi::Value StorageVol::GetName(const Napi::CallbackInfo& info) { return LocalString<virStorageVolGetName>(info); }

// https://libvirt.org/html/libvirt-libvirt-storage.html#virStorageVolGetKey (local)
Napi::Value StorageVol::GetKey(const Napi::CallbackInfo& info) { return LocalString<virStorageVolGetKey>(info); }

// https://libvirt.org/html/libvirt-libvirt-storage.html#virStorageVolGetPath (asks the driver)
Napi::Value StorageVol::GetPath(const Napi::CallbackInfo& info) {
  return Call(info, [](virStorageVolPtr v) { return TakeString(virStorageVolGetPath(v)); });
}

// https://libvirt.org/html/libvirt-libvirt-storage.html#virStorageVolGetInfo
Napi::Value StorageVol::GetInfo(const Napi::CallbackInfo& info) {
  return Call(info, [](virStorageVolPtr v) {
    VolInfo i{};
    if (virStorageVolGetInfo(v, &i.v) < 0) ThrowLastError();
    return i;
  });
}

// https://libvirt.org/html/libvirt-libvirt-storage.html#virStorageVolGetXMLDesc
Napi::Value StorageVol::GetXMLDesc(const Napi::CallbackInfo& info) {
  unsigned int flags = ArgFlags(info, 0);
  return Call(info, [flags](virStorageVolPtr v) { return TakeString(virStorageVolGetXMLDesc(v, flags)); });
}

// https://libvirt.org/html/libvirt-libvirt-storage.html#virStoragePoolLookupByVolume
Napi::Value StorageVol::StoragePoolLookupByVolume(const Napi::CallbackInfo& info) {
  return Call(info, [](virStorageVolPtr v) {
    virStoragePoolPtr p = virStoragePoolLookupByVolume(v);
    if (!p) ThrowLastError();
    return Hold<StoragePoolTraits>::Adopt(p);
  });
}

}  // namespace virtkit
