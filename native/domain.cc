#include "domain.h"
#include "addon.h"

namespace virtkit {

const napi_type_tag DomainTraits::kTag = {0x7669727463756e6bULL, 0x446f6d61696e3031ULL};

namespace {
struct DomainInfo {
  virDomainInfo v;
};

Napi::Value ToJs(Napi::Env env, DomainInfo&& i) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("state", i.v.state);
  o.Set("maxMem", double(i.v.maxMem));
  o.Set("memory", double(i.v.memory));
  o.Set("nrVirtCpu", i.v.nrVirtCpu);
  o.Set("cpuTime", double(i.v.cpuTime));
  return o;
}

struct DomainState {
  int state = 0;
  int reason = 0;
};

Napi::Value ToJs(Napi::Env env, DomainState&& s) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("state", s.state);
  o.Set("reason", s.reason);
  return o;
}
}  // namespace

Napi::FunctionReference& Domain::Constructor(Napi::Env env) { return AddonData::Get(env)->domainClass; }

Napi::Function Domain::Init(Napi::Env env) {
  return DefineHandleClass(env, "Domain",
                     {
                         InstanceMethod<&Domain::GetName>("getName"),
                         InstanceMethod<&Domain::GetUUIDString>("getUUIDString"),
                         InstanceMethod<&Domain::GetID>("getID"),
                         InstanceMethod<&Domain::GetState>("getState"),
                         InstanceMethod<&Domain::GetInfo>("getInfo"),
                         InstanceMethod<&Domain::GetXMLDesc>("getXMLDesc"),
                     });
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainGetName (local)
Napi::Value Domain::GetName(const Napi::CallbackInfo& info) { return LocalString<virDomainGetName>(info); }

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainGetUUIDString (local)
Napi::Value Domain::GetUUIDString(const Napi::CallbackInfo& info) { return LocalUUID<virDomainGetUUIDString>(info); }

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainGetID (local: the id the
// handle was obtained with; -1 for an inactive domain)
Napi::Value Domain::GetID(const Napi::CallbackInfo& info) {
  return Local(info, [](Napi::Env env, virDomainPtr d) -> Napi::Value {
    unsigned int id = virDomainGetID(d);
    return Napi::Number::New(env, id == (unsigned int)-1 ? -1.0 : double(id));
  });
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainGetState
Napi::Value Domain::GetState(const Napi::CallbackInfo& info) {
  unsigned int flags = ArgFlags(info, 0);
  return Call(info, [flags](virDomainPtr d) {
    DomainState s;
    if (virDomainGetState(d, &s.state, &s.reason, flags) < 0) ThrowLastError();
    return s;
  });
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainGetInfo
Napi::Value Domain::GetInfo(const Napi::CallbackInfo& info) {
  return Call(info, [](virDomainPtr d) {
    DomainInfo i{};
    if (virDomainGetInfo(d, &i.v) < 0) ThrowLastError();
    return i;
  });
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainGetXMLDesc
Napi::Value Domain::GetXMLDesc(const Napi::CallbackInfo& info) {
  unsigned int flags = ArgFlags(info, 0);
  return Call(info, [flags](virDomainPtr d) { return TakeString(virDomainGetXMLDesc(d, flags)); });
}

}  // namespace virtkit
