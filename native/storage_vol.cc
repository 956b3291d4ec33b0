#include "storage_vol.h"
#include "addon.h"
#include "storage_pool.h"
#include "stream.h"

namespace virtkit {

const napi_type_tag StorageVolTraits::kTag = {0x7669727463756e6bULL, 0x53746f72566f6c31ULL};

namespace {
struct VolInfo {
  virStorageVolInfo v;
};

Napi::Object InfoObject(Napi::Env env, const virStorageVolInfo& v) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("type", v.type);
  o.Set("capacity", double(v.capacity));
  o.Set("allocation", double(v.allocation));
  return o;
}

Napi::Value ToJs(Napi::Env env, VolInfo&& i) { return InfoObject(env, i.v); }

}  // namespace

Napi::Value ToJs(Napi::Env env, VolumeWithInfo&& v) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("handle", ToJs(env, std::move(v.vol)));
  o.Set("info", InfoObject(env, v.info));
  o.Set("path", v.path);
  return o;
}

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
                         InstanceMethod<&StorageVol::GetInfoFlags>("getInfoFlags"),
                         InstanceMethod<&StorageVol::Delete>("delete"),
                         InstanceMethod<&StorageVol::Wipe>("wipe"),
                         InstanceMethod<&StorageVol::WipePattern>("wipePattern"),
                         InstanceMethod<&StorageVol::Resize>("resize"),
                         InstanceMethod<&StorageVol::Upload>("upload"),
                         InstanceMethod<&StorageVol::Download>("download"),
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

// https://libvirt.org/html/libvirt-libvirt-storage.html#virStorageVolGetInfoFlags
Napi::Value StorageVol::GetInfoFlags(const Napi::CallbackInfo& info) {
  unsigned int flags = ArgFlags(info, 0);
  return Call(info, [flags](virStorageVolPtr v) {
    VolInfo i{};
    if (virStorageVolGetInfoFlags(v, &i.v, flags) < 0) ThrowLastError();
    return i;
  });
}

// https://libvirt.org/html/libvirt-libvirt-storage.html#virStorageVolDelete
Napi::Value StorageVol::Delete(const Napi::CallbackInfo& info) {
  return Call(info, VoidResult(virStorageVolDelete, ArgFlags(info, 0)));
}

// https://libvirt.org/html/libvirt-libvirt-storage.html#virStorageVolWipe
Napi::Value StorageVol::Wipe(const Napi::CallbackInfo& info) {
  return Call(info, VoidResult(virStorageVolWipe, ArgFlags(info, 0)));
}

// https://libvirt.org/html/libvirt-libvirt-storage.html#virStorageVolWipePattern
Napi::Value StorageVol::WipePattern(const Napi::CallbackInfo& info) {
  unsigned int algorithm = ArgUint(info, 0, "algorithm");
  return Call(info, VoidResult(virStorageVolWipePattern, algorithm, ArgFlags(info, 1)));
}

// https://libvirt.org/html/libvirt-libvirt-storage.html#virStorageVolResize
Napi::Value StorageVol::Resize(const Napi::CallbackInfo& info) {
  auto capacity = (unsigned long long)ArgNumberInRange(info, 0, "capacity", 0, 9007199254740991.0);
  return Call(info, VoidResult(virStorageVolResize, capacity, ArgFlags(info, 1)));
}

// Opens a transfer stream: virStreamNew on the volume's connection, then `start` on it.
static auto OpenTransfer(int (*start)(virStorageVolPtr, virStreamPtr, unsigned long long, unsigned long long, unsigned int),
                         unsigned long long offset, unsigned long long length, unsigned int flags) {
  return [start, offset, length, flags](virStorageVolPtr v) {
    virConnectPtr conn = virStorageVolGetConnect(v);  // borrowed: the volume holds it
    if (!conn) ThrowLastError();
    Hold<StreamTraits> stream = Hold<StreamTraits>::Adopt(virStreamNew(conn, 0));
    if (!stream) ThrowLastError();
    if (start(v, stream.get(), offset, length, flags) < 0) ThrowLastError();
    return stream;
  };
}

// https://libvirt.org/html/libvirt-libvirt-storage.html#virStorageVolUpload
// upload(offset, length, flags) -> Promise<Stream> to send the data on.
Napi::Value StorageVol::Upload(const Napi::CallbackInfo& info) {
  auto offset = (unsigned long long)ArgNumberInRange(info, 0, "offset", 0, 9007199254740991.0);
  auto length = (unsigned long long)ArgNumberInRange(info, 1, "length", 0, 9007199254740991.0);
  return Call(info, OpenTransfer(virStorageVolUpload, offset, length, ArgFlags(info, 2)));
}

// https://libvirt.org/html/libvirt-libvirt-storage.html#virStorageVolDownload
// download(offset, length, flags) -> Promise<Stream> to receive the data from.
Napi::Value StorageVol::Download(const Napi::CallbackInfo& info) {
  auto offset = (unsigned long long)ArgNumberInRange(info, 0, "offset", 0, 9007199254740991.0);
  auto length = (unsigned long long)ArgNumberInRange(info, 1, "length", 0, 9007199254740991.0);
  return Call(info, OpenTransfer(virStorageVolDownload, offset, length, ArgFlags(info, 2)));
}

}  // namespace virtkit
