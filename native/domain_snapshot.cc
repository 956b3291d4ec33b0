#include "domain_snapshot.h"
#include "addon.h"

namespace virtkit {

const napi_type_tag DomainSnapshotTraits::kTag = {0x7669727463756e6bULL, 0x536e617073686f74ULL};

Napi::FunctionReference& DomainSnapshot::Constructor(Napi::Env env) { return AddonData::Get(env)->domainSnapshotClass; }

Napi::Function DomainSnapshot::Init(Napi::Env env) {
  return DefineHandleClass(env, "DomainSnapshot",
                           {
                               InstanceMethod<&DomainSnapshot::GetName>("getName"),
                               InstanceMethod<&DomainSnapshot::GetXMLDesc>("getXMLDesc"),
                               InstanceMethod<&DomainSnapshot::GetParent>("getParent"),
                               InstanceMethod<&DomainSnapshot::ListAllChildren>("listAllChildren"),
                               InstanceMethod<&DomainSnapshot::Delete>("delete"),
                               InstanceMethod<&DomainSnapshot::IsCurrent>("isCurrent"),
                               InstanceMethod<&DomainSnapshot::HasMetadata>("hasMetadata"),
                               InstanceMethod<&DomainSnapshot::Revert>("revert"),
                           });
}

// https://libvirt.org/html/libvirt-libvirt-domain-snapshot.html#virDomainSnapshotGetName (local)
Napi::Value DomainSnapshot::GetName(const Napi::CallbackInfo& info) { return LocalString<virDomainSnapshotGetName>(info); }

// https://libvirt.org/html/libvirt-libvirt-domain-snapshot.html#virDomainSnapshotGetXMLDesc
Napi::Value DomainSnapshot::GetXMLDesc(const Napi::CallbackInfo& info) {
  unsigned int flags = ArgFlags(info, 0);
  return Call(info, [flags](virDomainSnapshotPtr s) { return TakeString(virDomainSnapshotGetXMLDesc(s, flags)); });
}

// https://libvirt.org/html/libvirt-libvirt-domain-snapshot.html#virDomainSnapshotGetParent
// (VIR_ERR_NO_DOMAIN_SNAPSHOT for a root)
Napi::Value DomainSnapshot::GetParent(const Napi::CallbackInfo& info) {
  unsigned int flags = ArgFlags(info, 0);
  return Call(info, [flags](virDomainSnapshotPtr s) {
    virDomainSnapshotPtr parent = virDomainSnapshotGetParent(s, flags);
    if (!parent) ThrowLastError();
    return Hold<DomainSnapshotTraits>::Adopt(parent);
  });
}

// https://libvirt.org/html/libvirt-libvirt-domain-snapshot.html#virDomainSnapshotListAllChildren
Napi::Value DomainSnapshot::ListAllChildren(const Napi::CallbackInfo& info) {
  return Call(info, ListAllResult<DomainSnapshotTraits>(virDomainSnapshotListAllChildren, ArgFlags(info, 0)));
}

// https://libvirt.org/html/libvirt-libvirt-domain-snapshot.html#virDomainSnapshotDelete
Napi::Value DomainSnapshot::Delete(const Napi::CallbackInfo& info) {
  return Call(info, VoidResult(virDomainSnapshotDelete, ArgFlags(info, 0)));
}

// https://libvirt.org/html/libvirt-libvirt-domain-snapshot.html#virDomainSnapshotIsCurrent
Napi::Value DomainSnapshot::IsCurrent(const Napi::CallbackInfo& info) {
  unsigned int flags = ArgFlags(info, 0);
  return Call(info, BoolResult([flags](virDomainSnapshotPtr s) { return virDomainSnapshotIsCurrent(s, flags); }));
}

// https://libvirt.org/html/libvirt-libvirt-domain-snapshot.html#virDomainSnapshotHasMetadata
Napi::Value DomainSnapshot::HasMetadata(const Napi::CallbackInfo& info) {
  unsigned int flags = ArgFlags(info, 0);
  return Call(info, BoolResult([flags](virDomainSnapshotPtr s) { return virDomainSnapshotHasMetadata(s, flags); }));
}

// https://libvirt.org/html/libvirt-libvirt-domain-snapshot.html#virDomainRevertToSnapshot
Napi::Value DomainSnapshot::Revert(const Napi::CallbackInfo& info) {
  return Call(info, VoidResult(virDomainRevertToSnapshot, ArgFlags(info, 0)));
}

}  // namespace virtkit
