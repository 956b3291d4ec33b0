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
                         InstanceMethod<&Domain::CreateWithFlags>("createWithFlags"),
                         InstanceMethod<&Domain::DestroyFlags>("destroyFlags"),
                         InstanceMethod<&Domain::ShutdownFlags>("shutdownFlags"),
                         InstanceMethod<&Domain::Reboot>("reboot"),
                         InstanceMethod<&Domain::Reset>("reset"),
                         InstanceMethod<&Domain::Suspend>("suspend"),
                         InstanceMethod<&Domain::Resume>("resume"),
                         InstanceMethod<&Domain::UndefineFlags>("undefineFlags"),
                         InstanceMethod<&Domain::IsActive>("isActive"),
                         InstanceMethod<&Domain::IsPersistent>("isPersistent"),
                         InstanceMethod<&Domain::IsUpdated>("isUpdated"),
                         InstanceMethod<&Domain::GetAutostart>("getAutostart"),
                         InstanceMethod<&Domain::SetAutostart>("setAutostart"),
                         InstanceMethod<&Domain::GetOSType>("getOSType"),
                         InstanceMethod<&Domain::GetMaxMemory>("getMaxMemory"),
                         InstanceMethod<&Domain::GetMaxVcpus>("getMaxVcpus"),
                         InstanceMethod<&Domain::SetMemoryFlags>("setMemoryFlags"),
                         InstanceMethod<&Domain::SetVcpusFlags>("setVcpusFlags"),
                         InstanceMethod<&Domain::GetVcpusFlags>("getVcpusFlags"),
                         InstanceMethod<&Domain::ManagedSave>("managedSave"),
                         InstanceMethod<&Domain::HasManagedSaveImage>("hasManagedSaveImage"),
                         InstanceMethod<&Domain::ManagedSaveRemove>("managedSaveRemove"),
                         InstanceMethod<&Domain::GetHostname>("getHostname"),
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

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainCreateWithFlags (starts a defined domain)
Napi::Value Domain::CreateWithFlags(const Napi::CallbackInfo& info) {
  return Call(info, VoidResult(virDomainCreateWithFlags, ArgFlags(info, 0)));
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainDestroyFlags (hard stop)
Napi::Value Domain::DestroyFlags(const Napi::CallbackInfo& info) {
  return Call(info, VoidResult(virDomainDestroyFlags, ArgFlags(info, 0)));
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainShutdownFlags (asks the guest)
Napi::Value Domain::ShutdownFlags(const Napi::CallbackInfo& info) {
  return Call(info, VoidResult(virDomainShutdownFlags, ArgFlags(info, 0)));
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainReboot
Napi::Value Domain::Reboot(const Napi::CallbackInfo& info) { return Call(info, VoidResult(virDomainReboot, ArgFlags(info, 0))); }

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainReset
Napi::Value Domain::Reset(const Napi::CallbackInfo& info) { return Call(info, VoidResult(virDomainReset, ArgFlags(info, 0))); }

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainSuspend
Napi::Value Domain::Suspend(const Napi::CallbackInfo& info) { return Call(info, VoidResult(virDomainSuspend)); }

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainResume
Napi::Value Domain::Resume(const Napi::CallbackInfo& info) { return Call(info, VoidResult(virDomainResume)); }

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainUndefineFlags
Napi::Value Domain::UndefineFlags(const Napi::CallbackInfo& info) {
  return Call(info, VoidResult(virDomainUndefineFlags, ArgFlags(info, 0)));
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainIsActive
Napi::Value Domain::IsActive(const Napi::CallbackInfo& info) { return Call(info, BoolResult(virDomainIsActive)); }

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainIsPersistent
Napi::Value Domain::IsPersistent(const Napi::CallbackInfo& info) { return Call(info, BoolResult(virDomainIsPersistent)); }

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainIsUpdated
Napi::Value Domain::IsUpdated(const Napi::CallbackInfo& info) { return Call(info, BoolResult(virDomainIsUpdated)); }

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainGetAutostart
Napi::Value Domain::GetAutostart(const Napi::CallbackInfo& info) {
  return Call(info, [](virDomainPtr d) {
    int autostart = 0;
    if (virDomainGetAutostart(d, &autostart) < 0) ThrowLastError();
    return autostart != 0;
  });
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainSetAutostart
Napi::Value Domain::SetAutostart(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsBoolean()) throw Napi::TypeError::New(info.Env(), "autostart must be a boolean");
  return Call(info, VoidResult(virDomainSetAutostart, info[0].As<Napi::Boolean>().Value() ? 1 : 0));
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainGetOSType
Napi::Value Domain::GetOSType(const Napi::CallbackInfo& info) {
  return Call(info, [](virDomainPtr d) { return TakeString(virDomainGetOSType(d)); });
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainGetMaxMemory (KiB; 0 on error)
Napi::Value Domain::GetMaxMemory(const Napi::CallbackInfo& info) {
  return Call(info, [](virDomainPtr d) {
    unsigned long kib = virDomainGetMaxMemory(d);
    if (kib == 0) ThrowLastError();
    return kib;
  });
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainGetMaxVcpus
Napi::Value Domain::GetMaxVcpus(const Napi::CallbackInfo& info) {
  return Call(info, [](virDomainPtr d) {
    int n = virDomainGetMaxVcpus(d);
    if (n < 0) ThrowLastError();
    return n;
  });
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainSetMemoryFlags (KiB)
Napi::Value Domain::SetMemoryFlags(const Napi::CallbackInfo& info) {
  auto kib = (unsigned long)ArgNumberInRange(info, 0, "memory", 0, 9007199254740991.0);
  return Call(info, VoidResult(virDomainSetMemoryFlags, kib, ArgFlags(info, 1)));
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainSetVcpusFlags
Napi::Value Domain::SetVcpusFlags(const Napi::CallbackInfo& info) {
  unsigned int n = ArgUint(info, 0, "vcpus");
  return Call(info, VoidResult(virDomainSetVcpusFlags, n, ArgFlags(info, 1)));
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainGetVcpusFlags
Napi::Value Domain::GetVcpusFlags(const Napi::CallbackInfo& info) {
  unsigned int flags = ArgFlags(info, 0);
  return Call(info, [flags](virDomainPtr d) {
    int n = virDomainGetVcpusFlags(d, flags);
    if (n < 0) ThrowLastError();
    return n;
  });
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainManagedSave
Napi::Value Domain::ManagedSave(const Napi::CallbackInfo& info) {
  return Call(info, VoidResult(virDomainManagedSave, ArgFlags(info, 0)));
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainHasManagedSaveImage
Napi::Value Domain::HasManagedSaveImage(const Napi::CallbackInfo& info) {
  unsigned int flags = ArgFlags(info, 0);
  return Call(info, [flags](virDomainPtr d) {
    int r = virDomainHasManagedSaveImage(d, flags);
    if (r < 0) ThrowLastError();
    return r == 1;
  });
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainManagedSaveRemove
Napi::Value Domain::ManagedSaveRemove(const Napi::CallbackInfo& info) {
  return Call(info, VoidResult(virDomainManagedSaveRemove, ArgFlags(info, 0)));
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainGetHostname (needs the guest agent or DHCP leases)
Napi::Value Domain::GetHostname(const Napi::CallbackInfo& info) {
  unsigned int flags = ArgFlags(info, 0);
  return Call(info, [flags](virDomainPtr d) { return TakeString(virDomainGetHostname(d, flags)); });
}

}  // namespace virtkit
