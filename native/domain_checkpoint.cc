#include "domain_checkpoint.h"
#include "addon.h"

namespace virtkit {

const napi_type_tag DomainCheckpointTraits::kTag = {0x7669727463756e6bULL, 0x436865636b707431ULL};

Napi::FunctionReference& DomainCheckpoint::Constructor(Napi::Env env) { return AddonData::Get(env)->domainCheckpointClass; }

Napi::Function DomainCheckpoint::Init(Napi::Env env) {
  return DefineHandleClass(env, "DomainCheckpoint",
                           {
                               InstanceMethod<&DomainCheckpoint::GetName>("getName"),
                               InstanceMethod<&DomainCheckpoint::GetXMLDesc>("getXMLDesc"),
                               InstanceMethod<&DomainCheckpoint::GetParent>("getParent"),
                               InstanceMethod<&DomainCheckpoint::ListAllChildren>("listAllChildren"),
                               InstanceMethod<&DomainCheckpoint::Delete>("delete"),
                           });
}

// https://libvirt.org/html/libvirt-libvirt-domain-checkpoint.html#virDomainCheckpointGetName (local)
Napi::Value DomainCheckpoint::GetName(const Napi::CallbackInfo& info) { return LocalString<virDomainCheckpointGetName>(info); }

// https://libvirt.org/html/libvirt-libvirt-domain-checkpoint.html#virDomainCheckpointGetXMLDesc
Napi::Value DomainCheckpoint::GetXMLDesc(const Napi::CallbackInfo& info) {
  unsigned int flags = ArgFlags(info, 0);
  return Call(info, [flags](virDomainCheckpointPtr c) { return TakeString(virDomainCheckpointGetXMLDesc(c, flags)); });
}

// https://libvirt.org/html/libvirt-libvirt-domain-checkpoint.html#virDomainCheckpointGetParent
// (VIR_ERR_NO_DOMAIN_CHECKPOINT for a root)
Napi::Value DomainCheckpoint::GetParent(const Napi::CallbackInfo& info) {
  unsigned int flags = ArgFlags(info, 0);
  return Call(info, [flags](virDomainCheckpointPtr c) {
    virDomainCheckpointPtr parent = virDomainCheckpointGetParent(c, flags);
    if (!parent) ThrowLastError();
    return Hold<DomainCheckpointTraits>::Adopt(parent);
  });
}

// https://libvirt.org/html/libvirt-libvirt-domain-checkpoint.html#virDomainCheckpointListAllChildren
Napi::Value DomainCheckpoint::ListAllChildren(const Napi::CallbackInfo& info) {
  return Call(info, ListAllResult<DomainCheckpointTraits>(virDomainCheckpointListAllChildren, ArgFlags(info, 0)));
}

// https://libvirt.org/html/libvirt-libvirt-domain-checkpoint.html#virDomainCheckpointDelete
Napi::Value DomainCheckpoint::Delete(const Napi::CallbackInfo& info) {
  return Call(info, VoidResult(virDomainCheckpointDelete, ArgFlags(info, 0)));
}

}  // namespace virtkit
