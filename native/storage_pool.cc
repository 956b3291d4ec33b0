#include "storage_pool.h"
#include "addon.h"
#include "storage_vol.h"

namespace virtkit {

const napi_type_tag StoragePoolTraits::kTag = {0x7669727463756e6bULL, 0x53746f72506f6f6cULL};

namespace {
struct PoolInfo {
  virStoragePoolInfo v;
};

Napi::Value ToJs(Napi::Env env, PoolInfo&& i) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("state", i.v.state);
  o.Set("capacity", double(i.v.capacity));
  o.Set("allocation", double(i.v.allocation));
  o.Set("available", double(i.v.available));
  return o;
}

}  // namespace

Napi::FunctionReference& StoragePool::Constructor(Napi::Env env) { return AddonData::Get(env)->storagePoolClass; }

Napi::Function StoragePool::Init(Napi::Env env) {
  return DefineHandleClass(env, "StoragePool",
                     {
                         InstanceMethod<&StoragePool::GetName>("getName"),
                         InstanceMethod<&StoragePool::GetUUIDString>("getUUIDString"),
                         InstanceMethod<&StoragePool::GetInfo>("getInfo"),
                         InstanceMethod<&StoragePool::GetXMLDesc>("getXMLDesc"),
                         InstanceMethod<&StoragePool::IsActive>("isActive"),
                         InstanceMethod<&StoragePool::IsPersistent>("isPersistent"),
                         InstanceMethod<&StoragePool::GetAutostart>("getAutostart"),
                         InstanceMethod<&StoragePool::ListAllVolumes>("listAllVolumes"),
                         InstanceMethod<&StoragePool::Build>("build"),
                         InstanceMethod<&StoragePool::Create>("create"),
                         InstanceMethod<&StoragePool::Delete>("delete"),
                         InstanceMethod<&StoragePool::Destroy>("destroy"),
                         InstanceMethod<&StoragePool::Undefine>("undefine"),
                         InstanceMethod<&StoragePool::Refresh>("refresh"),
                         InstanceMethod<&StoragePool::SetAutostart>("setAutostart"),
                         InstanceMethod<&StoragePool::StorageVolCreateXML>("storageVolCreateXML"),
                         InstanceMethod<&StoragePool::StorageVolCreateXMLFrom>("storageVolCreateXMLFrom"),
                         InstanceMethod<&StoragePool::StorageVolLookupByName>("storageVolLookupByName"),
                         InstanceMethod<&StoragePool::ListAllVolumesWithInfo>("listAllVolumesWithInfo"),
                     });
}

// https://libvirt.org/html/libvirt-libvirt-storage.html#virStoragePoolGetName (local)
Napi::Value StoragePool::GetName(const Napi::CallbackInfo& info) { return LocalString<virStoragePoolGetName>(info); }

// https://libvirt.org/html/libvirt-libvirt-storage.html#virStoragePoolGetUUIDString (local)
Napi::Value StoragePool::GetUUIDString(const Napi::CallbackInfo& info) {
  return LocalUUID<virStoragePoolGetUUIDString>(info);
}

// https://libvirt.org/html/libvirt-libvirt-storage.html#virStoragePoolGetInfo
Napi::Value StoragePool::GetInfo(const Napi::CallbackInfo& info) {
  return Call(info, [](virStoragePoolPtr p) {
    PoolInfo i{};
    if (virStoragePoolGetInfo(p, &i.v) < 0) ThrowLastError();
    return i;
  });
}

// https://libvirt.org/html/libvirt-libvirt-storage.html#virStoragePoolGetXMLDesc
Napi::Value StoragePool::GetXMLDesc(const Napi::CallbackInfo& info) {
  unsigned int flags = ArgFlags(info, 0);
  return Call(info, [flags](virStoragePoolPtr p) { return TakeString(virStoragePoolGetXMLDesc(p, flags)); });
}

// https://libvirt.org/html/libvirt-libvirt-storage.html#virStoragePoolIsActive
Napi::Value StoragePool::IsActive(const Napi::CallbackInfo& info) { return Call(info, BoolResult(virStoragePoolIsActive)); }

// https://libvirt.org/html/libvirt-libvirt-storage.html#virStoragePoolIsPersistent
Napi::Value StoragePool::IsPersistent(const Napi::CallbackInfo& info) {
  return Call(info, BoolResult(virStoragePoolIsPersistent));
}

// https://libvirt.org/html/libvirt-libvirt-storage.html#virStoragePoolGetAutostart
Napi::Value StoragePool::GetAutostart(const Napi::CallbackInfo& info) {
  return Call(info, [](virStoragePoolPtr p) {
    int autostart = 0;
    if (virStoragePoolGetAutostart(p, &autostart) < 0) ThrowLastError();
    return autostart != 0;
  });
}

// https://libvirt.org/html/libvirt-libvirt-storage.html#virStoragePoolListAllVolumes
Napi::Value StoragePool::ListAllVolumes(const Napi::CallbackInfo& info) {
  return Call(info, ListAllResult<StorageVolTraits>(virStoragePoolListAllVolumes, ArgFlags(info, 0)));
}

// https://libvirt.org/html/libvirt-libvirt-storage.html#virStoragePoolBuild
Napi::Value StoragePool::Build(const Napi::CallbackInfo& info) {
  return Call(info, VoidResult(virStoragePoolBuild, ArgFlags(info, 0)));
}

// https://libvirt.org/html/libvirt-libvirt-storage.html#virStoragePoolCreate (starts it)
Napi::Value StoragePool::Create(const Napi::CallbackInfo& info) {
  return Call(info, VoidResult(virStoragePoolCreate, ArgFlags(info, 0)));
}

// https://libvirt.org/html/libvirt-libvirt-storage.html#virStoragePoolDelete
Napi::Value StoragePool::Delete(const Napi::CallbackInfo& info) {
  return Call(info, VoidResult(virStoragePoolDelete, ArgFlags(info, 0)));
}

// https://libvirt.org/html/libvirt-libvirt-storage.html#virStoragePoolDestroy (stops it)
Napi::Value StoragePool::Destroy(const Napi::CallbackInfo& info) { return Call(info, VoidResult(virStoragePoolDestroy)); }

// https://libvirt.org/html/libvirt-libvirt-storage.html#virStoragePoolUndefine
Napi::Value StoragePool::Undefine(const Napi::CallbackInfo& info) { return Call(info, VoidResult(virStoragePoolUndefine)); }

// https://libvirt.org/html/libvirt-libvirt-storage.html#virStoragePoolRefresh
Napi::Value StoragePool::Refresh(const Napi::CallbackInfo& info) {
  return Call(info, VoidResult(virStoragePoolRefresh, ArgFlags(info, 0)));
}

// https://libvirt.org/html/libvirt-libvirt-storage.html#virStoragePoolSetAutostart
Napi::Value StoragePool::SetAutostart(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsBoolean()) throw Napi::TypeError::New(info.Env(), "autostart must be a boolean");
  int autostart = info[0].As<Napi::Boolean>().Value() ? 1 : 0;
  return Call(info, VoidResult(virStoragePoolSetAutostart, autostart));
}

// A new or looked-up volume (null with the error set) as an owned reference.
template <typename Fn>
static auto NewVolume(Fn fn) {
  return [fn](virStoragePoolPtr p) {
    virStorageVolPtr v = fn(p);
    if (!v) ThrowLastError();
    return Hold<StorageVolTraits>::Adopt(v);
  };
}

// https://libvirt.org/html/libvirt-libvirt-storage.html#virStorageVolCreateXML
Napi::Value StoragePool::StorageVolCreateXML(const Napi::CallbackInfo& info) {
  std::string xml = ArgString(info, 0, "xml");
  unsigned int flags = ArgFlags(info, 1);
  return Call(info, NewVolume([xml, flags](virStoragePoolPtr p) { return virStorageVolCreateXML(p, xml.c_str(), flags); }));
}

// https://libvirt.org/html/libvirt-libvirt-storage.html#virStorageVolCreateXMLFrom
Napi::Value StoragePool::StorageVolCreateXMLFrom(const Napi::CallbackInfo& info) {
  std::string xml = ArgString(info, 0, "xml");
  StorageVol* clone = StorageVol::FromValue(info.Length() > 1 ? info[1] : info.Env().Undefined(), "clone");
  if (!clone->ptr()) return RejectedPromise(info.Env(), StorageVol::FreedFailure());
  auto source = std::make_shared<Hold<StorageVolTraits>>(Hold<StorageVolTraits>::Take(clone->ptr()));
  if (!*source) return RejectedPromise(info.Env(), Failure::FromLastError());
  unsigned int flags = ArgFlags(info, 2);
  return Call(info, NewVolume([xml, source, flags](virStoragePoolPtr p) {
    return virStorageVolCreateXMLFrom(p, xml.c_str(), source->get(), flags);
  }));
}

// https://libvirt.org/html/libvirt-libvirt-storage.html#virStorageVolLookupByName
Napi::Value StoragePool::StorageVolLookupByName(const Napi::CallbackInfo& info) {
  std::string name = ArgString(info, 0, "name");
  return Call(info, NewVolume([name](virStoragePoolPtr p) { return virStorageVolLookupByName(p, name.c_str()); }));
}

// virStoragePoolListAllVolumes, then virStorageVolGetInfo and virStorageVolGetPath for each,
// all in one call on the pool: one thread hop for the whole listing. A volume deleted in
// between is left out.
Napi::Value StoragePool::ListAllVolumesWithInfo(const Napi::CallbackInfo& info) {
  unsigned int flags = ArgFlags(info, 0);
  return Call(info, [flags](virStoragePoolPtr p) {
    virStorageVolPtr* list = nullptr;
    int n = virStoragePoolListAllVolumes(p, &list, flags);
    std::vector<Hold<StorageVolTraits>> vols = TakeList<StorageVolTraits>(list, n);
    std::vector<VolumeWithInfo> out;
    out.reserve(vols.size());
    for (auto& vol : vols) {
      VolumeWithInfo v{std::move(vol), {}, {}};
      if (virStorageVolGetInfo(v.vol.get(), &v.info) < 0) {
        virErrorPtr e = virGetLastError();
        if (e && e->code == VIR_ERR_NO_STORAGE_VOL) continue;
        ThrowLastError();
      }
      char* path = virStorageVolGetPath(v.vol.get());
      if (!path) ThrowLastError();
      v.path = path;
      free(path);
      out.push_back(std::move(v));
    }
    return out;
  });
}

}  // namespace virtkit
