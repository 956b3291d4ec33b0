#include "domain.h"
#include "addon.h"
#include <cstring>
#include "domain_checkpoint.h"
#include "domain_snapshot.h"
#include "typed_params.h"

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
                         InstanceMethod<&Domain::AttachDeviceFlags>("attachDeviceFlags"),
                         InstanceMethod<&Domain::DetachDeviceFlags>("detachDeviceFlags"),
                         InstanceMethod<&Domain::DetachDeviceAlias>("detachDeviceAlias"),
                         InstanceMethod<&Domain::UpdateDeviceFlags>("updateDeviceFlags"),
                         InstanceMethod<&Domain::GetBlockInfo>("getBlockInfo"),
                         InstanceMethod<&Domain::BlockStats>("blockStats"),
                         InstanceMethod<&Domain::BlockStatsFlags>("blockStatsFlags"),
                         InstanceMethod<&Domain::BlockResize>("blockResize"),
                         InstanceMethod<&Domain::InterfaceStats>("interfaceStats"),
                         InstanceMethod<&Domain::MemoryStats>("memoryStats"),
                         InstanceMethod<&Domain::GetCPUStats>("getCPUStats"),
                         InstanceMethod<&Domain::GetDiskErrors>("getDiskErrors"),
                         InstanceMethod<&Domain::GetGuestInfo>("getGuestInfo"),
                         InstanceMethod<&Domain::GetFSInfo>("getFSInfo"),
                         InstanceMethod<&Domain::InterfaceAddresses>("interfaceAddresses"),
                         InstanceMethod<&Domain::GetMessages>("getMessages"),
                         InstanceMethod<&Domain::SaveFlags>("saveFlags"),
                         InstanceMethod<&Domain::ManagedSaveGetXMLDesc>("managedSaveGetXMLDesc"),
                         InstanceMethod<&Domain::ManagedSaveDefineXML>("managedSaveDefineXML"),
                         InstanceMethod<&Domain::SnapshotCreateXML>("snapshotCreateXML"),
                         InstanceMethod<&Domain::ListAllSnapshots>("listAllSnapshots"),
                         InstanceMethod<&Domain::SnapshotLookupByName>("snapshotLookupByName"),
                         InstanceMethod<&Domain::SnapshotCurrent>("snapshotCurrent"),
                         InstanceMethod<&Domain::HasCurrentSnapshot>("hasCurrentSnapshot"),
                         InstanceMethod<&Domain::CheckpointCreateXML>("checkpointCreateXML"),
                         InstanceMethod<&Domain::ListAllCheckpoints>("listAllCheckpoints"),
                         InstanceMethod<&Domain::CheckpointLookupByName>("checkpointLookupByName"),
                         InstanceMethod<&Domain::GetMetadata>("getMetadata"),
                         InstanceMethod<&Domain::SetMetadata>("setMetadata"),
                         InstanceMethod<&Domain::GetTime>("getTime"),
                         InstanceMethod<&Domain::SetTime>("setTime"),
                         InstanceMethod<&Domain::GetVcpus>("getVcpus"),
                         InstanceMethod<&Domain::GetVcpuPinInfo>("getVcpuPinInfo"),
                         InstanceMethod<&Domain::GetEmulatorPinInfo>("getEmulatorPinInfo"),
                         InstanceMethod<&Domain::GetJobInfo>("getJobInfo"),
                         InstanceMethod<&Domain::GetJobStats>("getJobStats"),
                         InstanceMethod<&Domain::AbortJobFlags>("abortJobFlags"),
                         InstanceMethod<&Domain::GetSchedulerType>("getSchedulerType"),
                         InstanceMethod<&Domain::GetControlInfo>("getControlInfo"),
                         InstanceMethod<&Domain::GetMemoryParameters>("getMemoryParameters"),
                         InstanceMethod<&Domain::GetBlkioParameters>("getBlkioParameters"),
                         InstanceMethod<&Domain::GetSchedulerParametersFlags>("getSchedulerParametersFlags"),
                         InstanceMethod<&Domain::GetNumaParameters>("getNumaParameters"),
                         InstanceMethod<&Domain::GetBlockIoTune>("getBlockIoTune"),
                         InstanceMethod<&Domain::GetInterfaceParameters>("getInterfaceParameters"),
                         InstanceMethod<&Domain::GetGuestVcpus>("getGuestVcpus"),
                         InstanceMethod<&Domain::GetIOThreadInfo>("getIOThreadInfo"),
                         InstanceMethod<&Domain::GetSecurityLabel>("getSecurityLabel"),
                         InstanceMethod<&Domain::SetMaxMemory>("setMaxMemory"),
                         InstanceMethod<&Domain::SetMemoryStatsPeriod>("setMemoryStatsPeriod"),
                         InstanceMethod<&Domain::Rename>("rename"),
                         InstanceMethod<&Domain::InjectNMI>("injectNMI"),
                         InstanceMethod<&Domain::SendKey>("sendKey"),
                         InstanceMethod<&Domain::CoreDumpWithFormat>("coreDumpWithFormat"),
                         InstanceMethod<&Domain::PMSuspendForDuration>("pmSuspendForDuration"),
                         InstanceMethod<&Domain::PMWakeup>("pmWakeup"),
                         InstanceMethod<&Domain::FSTrim>("fsTrim"),
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


// ---- Results of the device, statistics, snapshot and tuning calls -------------------------

namespace {

using virtkit::ToJs;  // the generic overloads (vectors, strings), hidden by the ones below otherwise

// Numbers libvirt reports as long long with -1 for "not supported by this hypervisor".
Napi::Value StatToJs(Napi::Env env, long long v) { return v < 0 ? env.Null() : Napi::Number::New(env, double(v)); }

struct BlockInfo {
  virDomainBlockInfo v;
};
Napi::Value ToJs(Napi::Env env, BlockInfo&& i) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("capacity", double(i.v.capacity));
  o.Set("allocation", double(i.v.allocation));
  o.Set("physical", double(i.v.physical));
  return o;
}

struct BlockStatsResult {
  virDomainBlockStatsStruct v;
};
Napi::Value ToJs(Napi::Env env, BlockStatsResult&& s) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("rd_req", StatToJs(env, s.v.rd_req));
  o.Set("rd_bytes", StatToJs(env, s.v.rd_bytes));
  o.Set("wr_req", StatToJs(env, s.v.wr_req));
  o.Set("wr_bytes", StatToJs(env, s.v.wr_bytes));
  o.Set("errs", StatToJs(env, s.v.errs));
  return o;
}

struct InterfaceStatsResult {
  virDomainInterfaceStatsStruct v;
};
Napi::Value ToJs(Napi::Env env, InterfaceStatsResult&& s) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("rx_bytes", StatToJs(env, s.v.rx_bytes));
  o.Set("rx_packets", StatToJs(env, s.v.rx_packets));
  o.Set("rx_errs", StatToJs(env, s.v.rx_errs));
  o.Set("rx_drop", StatToJs(env, s.v.rx_drop));
  o.Set("tx_bytes", StatToJs(env, s.v.tx_bytes));
  o.Set("tx_packets", StatToJs(env, s.v.tx_packets));
  o.Set("tx_errs", StatToJs(env, s.v.tx_errs));
  o.Set("tx_drop", StatToJs(env, s.v.tx_drop));
  return o;
}

// [[tag, value], ...] as libvirt filled them in.
struct MemoryStatsResult {
  std::vector<virDomainMemoryStatStruct> v;
};
Napi::Value ToJs(Napi::Env env, MemoryStatsResult&& s) {
  Napi::Array a = Napi::Array::New(env, s.v.size());
  for (size_t i = 0; i < s.v.size(); i++) {
    Napi::Array pair = Napi::Array::New(env, 2);
    pair.Set(0u, s.v[i].tag);
    pair.Set(1u, double(s.v[i].val));
    a.Set(uint32_t(i), pair);
  }
  return a;
}

struct DiskError {
  std::string disk;
  int error;
};
Napi::Value ToJs(Napi::Env env, DiskError&& e) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("disk", e.disk);
  o.Set("error", e.error);
  return o;
}

struct FSInfo {
  std::string mountpoint, name, fstype;
  std::vector<std::string> devAlias;
};
Napi::Value ToJs(Napi::Env env, FSInfo&& f) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("mountpoint", f.mountpoint);
  o.Set("name", f.name);
  o.Set("fstype", f.fstype);
  o.Set("devAlias", ToJs(env, std::move(f.devAlias)));
  return o;
}

struct IPAddress {
  int type;
  std::string addr;
  unsigned int prefix;
};
Napi::Value ToJs(Napi::Env env, IPAddress&& a) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("type", a.type);
  o.Set("addr", a.addr);
  o.Set("prefix", a.prefix);
  return o;
}

struct InterfaceAddrs {
  std::string name;
  std::optional<std::string> hwaddr;
  std::vector<IPAddress> addrs;
};
Napi::Value ToJs(Napi::Env env, InterfaceAddrs&& i) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", i.name);
  o.Set("hwaddr", i.hwaddr ? Napi::Value(Napi::String::New(env, *i.hwaddr)) : env.Null());
  o.Set("addrs", ToJs(env, std::move(i.addrs)));
  return o;
}

struct TimeResult {
  long long seconds;
  unsigned int nseconds;
};
Napi::Value ToJs(Napi::Env env, TimeResult&& t) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("seconds", double(t.seconds));
  o.Set("nseconds", t.nseconds);
  return o;
}

// Host CPU numbers set in a libvirt CPU map of maplen bytes.
std::vector<int> CpuMapToList(const unsigned char* map, int maplen, int hostCpus) {
  std::vector<int> cpus;
  for (int c = 0; c < hostCpus && c / 8 < maplen; c++)
    if (map[c / 8] & (1 << (c % 8))) cpus.push_back(c);
  return cpus;
}

// The number of host CPUs a CPU map covers (the node's CPU count).
int HostCpus(virDomainPtr d) {
  // virNodeGetCPUMap counts every host CPU, online or not (the cpumaps' real width);
  // VIR_NODEINFO_MAXCPUS is only an estimate from the topology. Fall back to it for drivers
  // without the call.
  int n = virNodeGetCPUMap(virDomainGetConnect(d), nullptr, nullptr, 0);
  if (n > 0) return n;
  virResetLastError();
  virNodeInfo node;
  if (virNodeGetInfo(virDomainGetConnect(d), &node) < 0) ThrowLastError();
  n = int(VIR_NODEINFO_MAXCPUS(node));
  return n > 0 ? n : 1;
}

struct VcpuInfoResult {
  virVcpuInfo v;
  std::vector<int> affinity;
};
Napi::Value ToJs(Napi::Env env, VcpuInfoResult&& i) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("number", i.v.number);
  o.Set("state", i.v.state);
  o.Set("cpuTime", double(i.v.cpuTime));
  o.Set("cpu", i.v.cpu);
  o.Set("affinity", ToJs(env, std::move(i.affinity)));
  return o;
}

struct JobInfoResult {
  virDomainJobInfo v;
};
Napi::Value ToJs(Napi::Env env, JobInfoResult&& j) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("type", j.v.type);
  o.Set("timeElapsed", double(j.v.timeElapsed));
  o.Set("timeRemaining", double(j.v.timeRemaining));
  o.Set("dataTotal", double(j.v.dataTotal));
  o.Set("dataProcessed", double(j.v.dataProcessed));
  o.Set("dataRemaining", double(j.v.dataRemaining));
  o.Set("memTotal", double(j.v.memTotal));
  o.Set("memProcessed", double(j.v.memProcessed));
  o.Set("memRemaining", double(j.v.memRemaining));
  o.Set("fileTotal", double(j.v.fileTotal));
  o.Set("fileProcessed", double(j.v.fileProcessed));
  o.Set("fileRemaining", double(j.v.fileRemaining));
  return o;
}

struct JobStatsResult {
  int type;
  TypedParams params;
};
Napi::Value ToJs(Napi::Env env, JobStatsResult&& j) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("type", j.type);
  o.Set("params", ToJs(env, std::move(j.params)));
  return o;
}

struct SchedulerType {
  std::string type;
  int nparams;
};
Napi::Value ToJs(Napi::Env env, SchedulerType&& t) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("type", t.type);
  o.Set("nparams", t.nparams);
  return o;
}

struct ControlInfo {
  virDomainControlInfo v;
};
Napi::Value ToJs(Napi::Env env, ControlInfo&& c) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("state", c.v.state);
  o.Set("details", c.v.details);
  o.Set("stateTime", double(c.v.stateTime));
  return o;
}

struct IOThreadInfo {
  unsigned int id;
  std::vector<int> cpus;
};
Napi::Value ToJs(Napi::Env env, IOThreadInfo&& t) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("id", t.id);
  o.Set("cpus", ToJs(env, std::move(t.cpus)));
  return o;
}

struct SecurityLabel {
  std::string label;
  bool enforcing;
};
Napi::Value ToJs(Napi::Env env, SecurityLabel&& l) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("label", l.label);
  o.Set("enforcing", l.enforcing);
  return o;
}

// A new or looked-up child object of the domain (null with the error set) as an owned reference.
template <typename T, typename Fn>
auto NewChild(Fn fn) {
  return [fn](virDomainPtr d) {
    typename T::Ptr p = fn(d);
    if (!p) ThrowLastError();
    return Hold<T>::Adopt(p);
  };
}

}  // namespace

// ---- Devices --------------------------------------------------------------------------------

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainAttachDeviceFlags
Napi::Value Domain::AttachDeviceFlags(const Napi::CallbackInfo& info) {
  std::string xml = ArgString(info, 0, "xml");
  unsigned int flags = ArgFlags(info, 1);
  return Call(info, [xml, flags](virDomainPtr d) {
    if (virDomainAttachDeviceFlags(d, xml.c_str(), flags) < 0) ThrowLastError();
  });
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainDetachDeviceFlags
Napi::Value Domain::DetachDeviceFlags(const Napi::CallbackInfo& info) {
  std::string xml = ArgString(info, 0, "xml");
  unsigned int flags = ArgFlags(info, 1);
  return Call(info, [xml, flags](virDomainPtr d) {
    if (virDomainDetachDeviceFlags(d, xml.c_str(), flags) < 0) ThrowLastError();
  });
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainDetachDeviceAlias
Napi::Value Domain::DetachDeviceAlias(const Napi::CallbackInfo& info) {
  std::string alias = ArgString(info, 0, "alias");
  unsigned int flags = ArgFlags(info, 1);
  return Call(info, [alias, flags](virDomainPtr d) {
    if (virDomainDetachDeviceAlias(d, alias.c_str(), flags) < 0) ThrowLastError();
  });
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainUpdateDeviceFlags
Napi::Value Domain::UpdateDeviceFlags(const Napi::CallbackInfo& info) {
  std::string xml = ArgString(info, 0, "xml");
  unsigned int flags = ArgFlags(info, 1);
  return Call(info, [xml, flags](virDomainPtr d) {
    if (virDomainUpdateDeviceFlags(d, xml.c_str(), flags) < 0) ThrowLastError();
  });
}

// ---- Statistics -----------------------------------------------------------------------------

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainGetBlockInfo (bytes)
Napi::Value Domain::GetBlockInfo(const Napi::CallbackInfo& info) {
  std::string disk = ArgString(info, 0, "disk");
  unsigned int flags = ArgFlags(info, 1);
  return Call(info, [disk, flags](virDomainPtr d) {
    BlockInfo i{};
    if (virDomainGetBlockInfo(d, disk.c_str(), &i.v, flags) < 0) ThrowLastError();
    return i;
  });
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainBlockStats (-1 fields → null)
Napi::Value Domain::BlockStats(const Napi::CallbackInfo& info) {
  std::string disk = ArgString(info, 0, "disk");
  return Call(info, [disk](virDomainPtr d) {
    BlockStatsResult s{};
    if (virDomainBlockStats(d, disk.c_str(), &s.v, sizeof s.v) < 0) ThrowLastError();
    return s;
  });
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainBlockStatsFlags (typed parameters)
Napi::Value Domain::BlockStatsFlags(const Napi::CallbackInfo& info) {
  std::string disk = ArgString(info, 0, "disk");
  unsigned int flags = ArgFlags(info, 1);
  return Call(info, [disk, flags](virDomainPtr d) {
    return FillTypedParams([&](virTypedParameterPtr p, int* n) { return virDomainBlockStatsFlags(d, disk.c_str(), p, n, flags); });
  });
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainBlockResize (KiB, or bytes with
// VIR_DOMAIN_BLOCK_RESIZE_BYTES)
Napi::Value Domain::BlockResize(const Napi::CallbackInfo& info) {
  std::string disk = ArgString(info, 0, "disk");
  auto size = (unsigned long long)ArgNumberInRange(info, 1, "size", 0, 9007199254740991.0);
  unsigned int flags = ArgFlags(info, 2);
  return Call(info, [disk, size, flags](virDomainPtr d) {
    if (virDomainBlockResize(d, disk.c_str(), size, flags) < 0) ThrowLastError();
  });
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainInterfaceStats (-1 fields → null)
Napi::Value Domain::InterfaceStats(const Napi::CallbackInfo& info) {
  std::string device = ArgString(info, 0, "device");
  return Call(info, [device](virDomainPtr d) {
    InterfaceStatsResult s{};
    if (virDomainInterfaceStats(d, device.c_str(), &s.v, sizeof s.v) < 0) ThrowLastError();
    return s;
  });
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainMemoryStats
Napi::Value Domain::MemoryStats(const Napi::CallbackInfo& info) {
  unsigned int flags = ArgFlags(info, 0);
  return Call(info, [flags](virDomainPtr d) {
    MemoryStatsResult s;
    s.v.resize(VIR_DOMAIN_MEMORY_STAT_NR);
    int n = virDomainMemoryStats(d, s.v.data(), VIR_DOMAIN_MEMORY_STAT_NR, flags);
    if (n < 0) ThrowLastError();
    s.v.resize(n);
    return s;
  });
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainGetCPUStats
// getCPUStats(startCpu, ncpus, flags): startCpu -1 gives the domain's total (one object);
// otherwise one object per host CPU from startCpu (ncpus 0: all of them), in chunks of 128
// (libvirt's limit per call).
Napi::Value Domain::GetCPUStats(const Napi::CallbackInfo& info) {
  int start = ArgInt(info, 0, "startCpu");
  unsigned int ncpus = ArgUint(info, 1, "ncpus");
  unsigned int flags = ArgFlags(info, 2);
  return Call(info, [start, ncpus, flags](virDomainPtr d) {
    std::vector<TypedParams> out;
    if (start < 0) {
      int nparams = virDomainGetCPUStats(d, nullptr, 0, -1, 1, flags);
      if (nparams < 0) ThrowLastError();
      if (nparams == 0) {  // nothing to report (libvirt refuses a non-NULL array of 0)
        out.emplace_back();
        return out;
      }
      std::vector<virTypedParameter> params(nparams);
      int n = virDomainGetCPUStats(d, params.data(), nparams, -1, 1, flags);
      if (n < 0) ThrowLastError();
      out.push_back(CopyTypedParams(params.data(), n));
      virTypedParamsClear(params.data(), n);
      return out;
    }
    int hostCpus = virDomainGetCPUStats(d, nullptr, 0, 0, 0, flags);
    if (hostCpus < 0) ThrowLastError();
    unsigned int end = unsigned(hostCpus);
    if (ncpus > 0 && unsigned(start) + ncpus < end) end = unsigned(start) + ncpus;
    if (unsigned(start) >= end) return out;
    int nparams = virDomainGetCPUStats(d, nullptr, 0, start, 1, flags);
    if (nparams < 0) ThrowLastError();
    if (nparams == 0) return out;
    for (unsigned int cpu = unsigned(start); cpu < end;) {
      unsigned int chunk = std::min(end - cpu, 128u);
      std::vector<virTypedParameter> params(size_t(nparams) * chunk);
      int n = virDomainGetCPUStats(d, params.data(), nparams, int(cpu), chunk, flags);
      if (n < 0) ThrowLastError();
      for (unsigned int i = 0; i < chunk; i++) out.push_back(CopyTypedParams(&params[size_t(i) * nparams], nparams));
      virTypedParamsClear(params.data(), nparams * int(chunk));
      cpu += chunk;
    }
    return out;
  });
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainGetDiskErrors
Napi::Value Domain::GetDiskErrors(const Napi::CallbackInfo& info) {
  unsigned int flags = ArgFlags(info, 0);
  return Call(info, [flags](virDomainPtr d) {
    std::vector<DiskError> out;
    int n = virDomainGetDiskErrors(d, nullptr, 0, flags);
    if (n < 0) ThrowLastError();
    if (n == 0) return out;
    std::vector<virDomainDiskError> errors(n);
    n = virDomainGetDiskErrors(d, errors.data(), unsigned(n), flags);
    if (n < 0) ThrowLastError();
    for (int i = 0; i < n; i++) {
      out.push_back({errors[i].disk ? errors[i].disk : "", errors[i].error});
      free(errors[i].disk);  // the caller owns each disk name
    }
    return out;
  });
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainGetGuestInfo (guest agent)
Napi::Value Domain::GetGuestInfo(const Napi::CallbackInfo& info) {
  unsigned int types = ArgUint(info, 0, "types");
  unsigned int flags = ArgFlags(info, 1);
  return Call(info, [types, flags](virDomainPtr d) {
    virTypedParameterPtr params = nullptr;
    int n = 0;
    if (virDomainGetGuestInfo(d, types, &params, &n, flags) < 0) ThrowLastError();
    return TakeTypedParams(params, n);
  });
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainGetFSInfo (guest agent)
Napi::Value Domain::GetFSInfo(const Napi::CallbackInfo& info) {
  unsigned int flags = ArgFlags(info, 0);
  return Call(info, [flags](virDomainPtr d) {
    virDomainFSInfoPtr* list = nullptr;
    int n = virDomainGetFSInfo(d, &list, flags);
    if (n < 0) ThrowLastError();
    std::vector<FSInfo> out;
    for (int i = 0; i < n; i++) {
      virDomainFSInfoPtr f = list[i];
      FSInfo fs{f->mountpoint ? f->mountpoint : "", f->name ? f->name : "", f->fstype ? f->fstype : "", {}};
      for (size_t j = 0; j < f->ndevAlias; j++) fs.devAlias.emplace_back(f->devAlias[j] ? f->devAlias[j] : "");
      out.push_back(std::move(fs));
      virDomainFSInfoFree(f);
    }
    free(list);
    return out;
  });
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainInterfaceAddresses
Napi::Value Domain::InterfaceAddresses(const Napi::CallbackInfo& info) {
  unsigned int source = ArgUint(info, 0, "source");
  unsigned int flags = ArgFlags(info, 1);
  return Call(info, [source, flags](virDomainPtr d) {
    virDomainInterfacePtr* list = nullptr;
    int n = virDomainInterfaceAddresses(d, &list, source, flags);
    if (n < 0) ThrowLastError();
    std::vector<InterfaceAddrs> out;
    for (int i = 0; i < n; i++) {
      virDomainInterfacePtr iface = list[i];
      InterfaceAddrs a{iface->name ? iface->name : "", std::nullopt, {}};
      if (iface->hwaddr) a.hwaddr = iface->hwaddr;
      for (unsigned int j = 0; j < iface->naddrs; j++)
        a.addrs.push_back({iface->addrs[j].type, iface->addrs[j].addr ? iface->addrs[j].addr : "", iface->addrs[j].prefix});
      out.push_back(std::move(a));
      virDomainInterfaceFree(iface);
    }
    free(list);
    return out;
  });
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainGetMessages
Napi::Value Domain::GetMessages(const Napi::CallbackInfo& info) {
  unsigned int flags = ArgFlags(info, 0);
  return Call(info, [flags](virDomainPtr d) {
    char** msgs = nullptr;
    int n = virDomainGetMessages(d, &msgs, flags);
    if (n < 0) ThrowLastError();
    std::vector<std::string> out;
    for (int i = 0; i < n; i++) {
      out.emplace_back(msgs[i] ? msgs[i] : "");
      free(msgs[i]);
    }
    free(msgs);
    return out;
  });
}

// ---- Save images ----------------------------------------------------------------------------

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainSaveFlags (the file is written
// by the daemon, on its host)
Napi::Value Domain::SaveFlags(const Napi::CallbackInfo& info) {
  std::string to = ArgString(info, 0, "to");
  auto dxml = ArgOptString(info, 1, "dxml");
  unsigned int flags = ArgFlags(info, 2);
  return Call(info, [to, dxml, flags](virDomainPtr d) {
    if (virDomainSaveFlags(d, to.c_str(), dxml ? dxml->c_str() : nullptr, flags) < 0) ThrowLastError();
  });
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainManagedSaveGetXMLDesc
Napi::Value Domain::ManagedSaveGetXMLDesc(const Napi::CallbackInfo& info) {
  unsigned int flags = ArgFlags(info, 0);
  return Call(info, [flags](virDomainPtr d) { return TakeString(virDomainManagedSaveGetXMLDesc(d, flags)); });
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainManagedSaveDefineXML
Napi::Value Domain::ManagedSaveDefineXML(const Napi::CallbackInfo& info) {
  auto dxml = ArgOptString(info, 0, "dxml");
  unsigned int flags = ArgFlags(info, 1);
  return Call(info, [dxml, flags](virDomainPtr d) {
    if (virDomainManagedSaveDefineXML(d, dxml ? dxml->c_str() : nullptr, flags) < 0) ThrowLastError();
  });
}

// ---- Snapshots and checkpoints --------------------------------------------------------------

// https://libvirt.org/html/libvirt-libvirt-domain-snapshot.html#virDomainSnapshotCreateXML
Napi::Value Domain::SnapshotCreateXML(const Napi::CallbackInfo& info) {
  std::string xml = ArgString(info, 0, "xml");
  unsigned int flags = ArgFlags(info, 1);
  return Call(info, NewChild<DomainSnapshotTraits>([xml, flags](virDomainPtr d) { return virDomainSnapshotCreateXML(d, xml.c_str(), flags); }));
}

// https://libvirt.org/html/libvirt-libvirt-domain-snapshot.html#virDomainListAllSnapshots
Napi::Value Domain::ListAllSnapshots(const Napi::CallbackInfo& info) {
  return Call(info, ListAllResult<DomainSnapshotTraits>(virDomainListAllSnapshots, ArgFlags(info, 0)));
}

// https://libvirt.org/html/libvirt-libvirt-domain-snapshot.html#virDomainSnapshotLookupByName
Napi::Value Domain::SnapshotLookupByName(const Napi::CallbackInfo& info) {
  std::string name = ArgString(info, 0, "name");
  unsigned int flags = ArgFlags(info, 1);
  return Call(info, NewChild<DomainSnapshotTraits>([name, flags](virDomainPtr d) { return virDomainSnapshotLookupByName(d, name.c_str(), flags); }));
}

// https://libvirt.org/html/libvirt-libvirt-domain-snapshot.html#virDomainSnapshotCurrent
// (VIR_ERR_NO_DOMAIN_SNAPSHOT when there is none)
Napi::Value Domain::SnapshotCurrent(const Napi::CallbackInfo& info) {
  unsigned int flags = ArgFlags(info, 0);
  return Call(info, NewChild<DomainSnapshotTraits>([flags](virDomainPtr d) { return virDomainSnapshotCurrent(d, flags); }));
}

// https://libvirt.org/html/libvirt-libvirt-domain-snapshot.html#virDomainHasCurrentSnapshot
Napi::Value Domain::HasCurrentSnapshot(const Napi::CallbackInfo& info) {
  unsigned int flags = ArgFlags(info, 0);
  return Call(info, BoolResult([flags](virDomainPtr d) { return virDomainHasCurrentSnapshot(d, flags); }));
}

// https://libvirt.org/html/libvirt-libvirt-domain-checkpoint.html#virDomainCheckpointCreateXML
Napi::Value Domain::CheckpointCreateXML(const Napi::CallbackInfo& info) {
  std::string xml = ArgString(info, 0, "xml");
  unsigned int flags = ArgFlags(info, 1);
  return Call(info, NewChild<DomainCheckpointTraits>([xml, flags](virDomainPtr d) { return virDomainCheckpointCreateXML(d, xml.c_str(), flags); }));
}

// https://libvirt.org/html/libvirt-libvirt-domain-checkpoint.html#virDomainListAllCheckpoints
Napi::Value Domain::ListAllCheckpoints(const Napi::CallbackInfo& info) {
  return Call(info, ListAllResult<DomainCheckpointTraits>(virDomainListAllCheckpoints, ArgFlags(info, 0)));
}

// https://libvirt.org/html/libvirt-libvirt-domain-checkpoint.html#virDomainCheckpointLookupByName
Napi::Value Domain::CheckpointLookupByName(const Napi::CallbackInfo& info) {
  std::string name = ArgString(info, 0, "name");
  unsigned int flags = ArgFlags(info, 1);
  return Call(info, NewChild<DomainCheckpointTraits>([name, flags](virDomainPtr d) { return virDomainCheckpointLookupByName(d, name.c_str(), flags); }));
}

// ---- Metadata, time, vCPUs, jobs, tuning ----------------------------------------------------

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainGetMetadata
Napi::Value Domain::GetMetadata(const Napi::CallbackInfo& info) {
  int type = ArgInt(info, 0, "type");
  auto uri = ArgOptString(info, 1, "uri");
  unsigned int flags = ArgFlags(info, 2);
  return Call(info, [type, uri, flags](virDomainPtr d) {
    return TakeString(virDomainGetMetadata(d, type, uri ? uri->c_str() : nullptr, flags));
  });
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainSetMetadata
Napi::Value Domain::SetMetadata(const Napi::CallbackInfo& info) {
  int type = ArgInt(info, 0, "type");
  auto metadata = ArgOptString(info, 1, "metadata");
  auto key = ArgOptString(info, 2, "key");
  auto uri = ArgOptString(info, 3, "uri");
  unsigned int flags = ArgFlags(info, 4);
  return Call(info, [type, metadata, key, uri, flags](virDomainPtr d) {
    if (virDomainSetMetadata(d, type, metadata ? metadata->c_str() : nullptr, key ? key->c_str() : nullptr,
                             uri ? uri->c_str() : nullptr, flags) < 0)
      ThrowLastError();
  });
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainGetTime (guest agent)
Napi::Value Domain::GetTime(const Napi::CallbackInfo& info) {
  unsigned int flags = ArgFlags(info, 0);
  return Call(info, [flags](virDomainPtr d) {
    TimeResult t{};
    if (virDomainGetTime(d, &t.seconds, &t.nseconds, flags) < 0) ThrowLastError();
    return t;
  });
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainSetTime (guest agent)
Napi::Value Domain::SetTime(const Napi::CallbackInfo& info) {
  auto seconds = (long long)ArgNumberInRange(info, 0, "seconds", -9007199254740991.0, 9007199254740991.0);
  unsigned int nseconds = ArgUint(info, 1, "nseconds");
  unsigned int flags = ArgFlags(info, 2);
  return Call(info, VoidResult(virDomainSetTime, seconds, nseconds, flags));
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainGetVcpus (with each vCPU's
// host CPU affinity)
Napi::Value Domain::GetVcpus(const Napi::CallbackInfo& info) {
  return Call(info, [](virDomainPtr d) {
    int hostCpus = HostCpus(d);
    int maplen = VIR_CPU_MAPLEN(hostCpus);
    virDomainInfo di;
    if (virDomainGetInfo(d, &di) < 0) ThrowLastError();
    int max = di.nrVirtCpu > 0 ? di.nrVirtCpu : 1;
    std::vector<virVcpuInfo> infos(max);
    std::vector<unsigned char> maps(size_t(max) * maplen);
    int n = virDomainGetVcpus(d, infos.data(), max, maps.data(), maplen);
    if (n < 0) ThrowLastError();
    std::vector<VcpuInfoResult> out;
    for (int i = 0; i < n; i++) out.push_back({infos[i], CpuMapToList(VIR_GET_CPUMAP(maps.data(), maplen, i), maplen, hostCpus)});
    return out;
  });
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainGetVcpuPinInfo (host CPUs per vCPU)
Napi::Value Domain::GetVcpuPinInfo(const Napi::CallbackInfo& info) {
  unsigned int flags = ArgFlags(info, 0);
  return Call(info, [flags](virDomainPtr d) {
    int hostCpus = HostCpus(d);
    int maplen = VIR_CPU_MAPLEN(hostCpus);
    int vcpus = virDomainGetVcpusFlags(d, (flags & VIR_DOMAIN_AFFECT_CONFIG) ? VIR_DOMAIN_VCPU_CONFIG | VIR_DOMAIN_VCPU_MAXIMUM
                                                                             : VIR_DOMAIN_VCPU_MAXIMUM | (flags & VIR_DOMAIN_AFFECT_LIVE));
    if (vcpus < 0) ThrowLastError();
    std::vector<unsigned char> maps(size_t(vcpus > 0 ? vcpus : 1) * maplen);
    int n = virDomainGetVcpuPinInfo(d, vcpus, maps.data(), maplen, flags);
    if (n < 0) ThrowLastError();
    std::vector<std::vector<int>> out;
    for (int i = 0; i < n; i++) out.push_back(CpuMapToList(VIR_GET_CPUMAP(maps.data(), maplen, i), maplen, hostCpus));
    return out;
  });
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainGetEmulatorPinInfo
Napi::Value Domain::GetEmulatorPinInfo(const Napi::CallbackInfo& info) {
  unsigned int flags = ArgFlags(info, 0);
  return Call(info, [flags](virDomainPtr d) {
    int hostCpus = HostCpus(d);
    int maplen = VIR_CPU_MAPLEN(hostCpus);
    std::vector<unsigned char> map(maplen);
    int r = virDomainGetEmulatorPinInfo(d, map.data(), maplen, flags);
    if (r < 0) ThrowLastError();
    return CpuMapToList(map.data(), maplen, hostCpus);
  });
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainGetJobInfo
Napi::Value Domain::GetJobInfo(const Napi::CallbackInfo& info) {
  return Call(info, [](virDomainPtr d) {
    JobInfoResult j{};
    if (virDomainGetJobInfo(d, &j.v) < 0) ThrowLastError();
    return j;
  });
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainGetJobStats
Napi::Value Domain::GetJobStats(const Napi::CallbackInfo& info) {
  unsigned int flags = ArgFlags(info, 0);
  return Call(info, [flags](virDomainPtr d) {
    JobStatsResult j{};
    virTypedParameterPtr params = nullptr;
    int n = 0;
    if (virDomainGetJobStats(d, &j.type, &params, &n, flags) < 0) ThrowLastError();
    j.params = TakeTypedParams(params, n);
    return j;
  });
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainAbortJobFlags
Napi::Value Domain::AbortJobFlags(const Napi::CallbackInfo& info) {
  return Call(info, VoidResult(virDomainAbortJobFlags, ArgFlags(info, 0)));
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainGetSchedulerType
Napi::Value Domain::GetSchedulerType(const Napi::CallbackInfo& info) {
  return Call(info, [](virDomainPtr d) {
    SchedulerType t{};
    t.type = TakeString(virDomainGetSchedulerType(d, &t.nparams));
    return t;
  });
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainGetControlInfo
Napi::Value Domain::GetControlInfo(const Napi::CallbackInfo& info) {
  unsigned int flags = ArgFlags(info, 0);
  return Call(info, [flags](virDomainPtr d) {
    ControlInfo c{};
    if (virDomainGetControlInfo(d, &c.v, flags) < 0) ThrowLastError();
    return c;
  });
}

// The "count, then fill" typed-parameter getters.
#define VIRTKIT_FILL_GETTER(Method, fn)                                                        \
  Napi::Value Domain::Method(const Napi::CallbackInfo& info) {                                 \
    unsigned int flags = ArgFlags(info, 0);                                                    \
    return Call(info, [flags](virDomainPtr d) {                                                \
      return FillTypedParams([&](virTypedParameterPtr p, int* n) { return fn(d, p, n, flags); }); \
    });                                                                                        \
  }

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainGetMemoryParameters
VIRTKIT_FILL_GETTER(GetMemoryParameters, virDomainGetMemoryParameters)
// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainGetBlkioParameters
VIRTKIT_FILL_GETTER(GetBlkioParameters, virDomainGetBlkioParameters)
// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainGetNumaParameters
VIRTKIT_FILL_GETTER(GetNumaParameters, virDomainGetNumaParameters)
#undef VIRTKIT_FILL_GETTER

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainGetSchedulerParametersFlags
// (it does not report its count with a NULL array: virDomainGetSchedulerType does)
Napi::Value Domain::GetSchedulerParametersFlags(const Napi::CallbackInfo& info) {
  unsigned int flags = ArgFlags(info, 0);
  return Call(info, [flags](virDomainPtr d) {
    int n = 0;
    TakeString(virDomainGetSchedulerType(d, &n));  // the name is not needed, only n
    if (n <= 0) return TypedParams{};
    std::vector<virTypedParameter> params(n);
    if (virDomainGetSchedulerParametersFlags(d, params.data(), &n, flags) < 0) ThrowLastError();
    TypedParams out = CopyTypedParams(params.data(), n);
    virTypedParamsClear(params.data(), n);
    return out;
  });
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainGetBlockIoTune
Napi::Value Domain::GetBlockIoTune(const Napi::CallbackInfo& info) {
  std::string disk = ArgString(info, 0, "disk");
  unsigned int flags = ArgFlags(info, 1);
  return Call(info, [disk, flags](virDomainPtr d) {
    return FillTypedParams([&](virTypedParameterPtr p, int* n) { return virDomainGetBlockIoTune(d, disk.c_str(), p, n, flags); });
  });
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainGetInterfaceParameters
Napi::Value Domain::GetInterfaceParameters(const Napi::CallbackInfo& info) {
  std::string device = ArgString(info, 0, "device");
  unsigned int flags = ArgFlags(info, 1);
  return Call(info, [device, flags](virDomainPtr d) {
    return FillTypedParams([&](virTypedParameterPtr p, int* n) { return virDomainGetInterfaceParameters(d, device.c_str(), p, n, flags); });
  });
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainGetGuestVcpus (guest agent)
Napi::Value Domain::GetGuestVcpus(const Napi::CallbackInfo& info) {
  unsigned int flags = ArgFlags(info, 0);
  return Call(info, [flags](virDomainPtr d) {
    virTypedParameterPtr params = nullptr;
    unsigned int n = 0;
    if (virDomainGetGuestVcpus(d, &params, &n, flags) < 0) ThrowLastError();
    return TakeTypedParams(params, int(n));
  });
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainGetIOThreadInfo
Napi::Value Domain::GetIOThreadInfo(const Napi::CallbackInfo& info) {
  unsigned int flags = ArgFlags(info, 0);
  return Call(info, [flags](virDomainPtr d) {
    virDomainIOThreadInfoPtr* list = nullptr;
    int n = virDomainGetIOThreadInfo(d, &list, flags);
    if (n < 0) ThrowLastError();
    std::vector<IOThreadInfo> out;
    for (int i = 0; i < n; i++) {
      out.push_back({list[i]->iothread_id, CpuMapToList(list[i]->cpumap, list[i]->cpumaplen, list[i]->cpumaplen * 8)});
      virDomainIOThreadInfoFree(list[i]);
    }
    free(list);
    return out;
  });
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainGetSecurityLabel
Napi::Value Domain::GetSecurityLabel(const Napi::CallbackInfo& info) {
  return Call(info, [](virDomainPtr d) {
    virSecurityLabel l;
    memset(&l, 0, sizeof l);
    if (virDomainGetSecurityLabel(d, &l) < 0) ThrowLastError();
    return SecurityLabel{std::string(l.label, strnlen(l.label, sizeof l.label)), l.enforcing == 1};
  });
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainSetMaxMemory (KiB)
Napi::Value Domain::SetMaxMemory(const Napi::CallbackInfo& info) {
  auto kib = (unsigned long)ArgNumberInRange(info, 0, "memory", 0, 9007199254740991.0);
  return Call(info, VoidResult(virDomainSetMaxMemory, kib));
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainSetMemoryStatsPeriod (seconds)
Napi::Value Domain::SetMemoryStatsPeriod(const Napi::CallbackInfo& info) {
  int period = ArgInt(info, 0, "period");
  return Call(info, VoidResult(virDomainSetMemoryStatsPeriod, period, ArgFlags(info, 1)));
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainRename (an inactive domain)
Napi::Value Domain::Rename(const Napi::CallbackInfo& info) {
  std::string name = ArgString(info, 0, "name");
  unsigned int flags = ArgFlags(info, 1);
  return Call(info, [name, flags](virDomainPtr d) {
    if (virDomainRename(d, name.c_str(), flags) < 0) ThrowLastError();
  });
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainInjectNMI
Napi::Value Domain::InjectNMI(const Napi::CallbackInfo& info) { return Call(info, VoidResult(virDomainInjectNMI, ArgFlags(info, 0))); }

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainSendKey (keycodes: array of numbers)
Napi::Value Domain::SendKey(const Napi::CallbackInfo& info) {
  unsigned int codeset = ArgUint(info, 0, "codeset");
  unsigned int holdtime = ArgUint(info, 1, "holdtime");
  if (info.Length() < 3 || !info[2].IsArray()) throw Napi::TypeError::New(info.Env(), "keycodes must be an array of numbers");
  Napi::Array a = info[2].As<Napi::Array>();
  std::vector<unsigned int> keycodes;
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Value v = a.Get(i);
    if (!v.IsNumber()) throw Napi::TypeError::New(info.Env(), "keycodes must be an array of numbers");
    double k = v.As<Napi::Number>().DoubleValue();
    if (!(k >= 0 && k <= 4294967295.0) || k != double((unsigned int)k)) throw Napi::RangeError::New(info.Env(), "keycode is out of range");
    keycodes.push_back((unsigned int)k);
  }
  unsigned int flags = ArgFlags(info, 3);
  return Call(info, [codeset, holdtime, keycodes, flags](virDomainPtr d) mutable {
    if (virDomainSendKey(d, codeset, holdtime, keycodes.data(), int(keycodes.size()), flags) < 0) ThrowLastError();
  });
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainCoreDumpWithFormat (file on the
// daemon's host)
Napi::Value Domain::CoreDumpWithFormat(const Napi::CallbackInfo& info) {
  std::string to = ArgString(info, 0, "to");
  unsigned int format = ArgUint(info, 1, "format");
  unsigned int flags = ArgFlags(info, 2);
  return Call(info, [to, format, flags](virDomainPtr d) {
    if (virDomainCoreDumpWithFormat(d, to.c_str(), format, flags) < 0) ThrowLastError();
  });
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainPMSuspendForDuration
Napi::Value Domain::PMSuspendForDuration(const Napi::CallbackInfo& info) {
  unsigned int target = ArgUint(info, 0, "target");
  auto duration = (unsigned long long)ArgNumberInRange(info, 1, "duration", 0, 9007199254740991.0);
  return Call(info, VoidResult(virDomainPMSuspendForDuration, target, duration, ArgFlags(info, 2)));
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainPMWakeup
Napi::Value Domain::PMWakeup(const Napi::CallbackInfo& info) { return Call(info, VoidResult(virDomainPMWakeup, ArgFlags(info, 0))); }

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainFSTrim (guest agent)
Napi::Value Domain::FSTrim(const Napi::CallbackInfo& info) {
  auto mountPoint = ArgOptString(info, 0, "mountPoint");
  auto minimum = (unsigned long long)ArgNumberInRange(info, 1, "minimum", 0, 9007199254740991.0);
  unsigned int flags = ArgFlags(info, 2);
  return Call(info, [mountPoint, minimum, flags](virDomainPtr d) {
    if (virDomainFSTrim(d, mountPoint ? mountPoint->c_str() : nullptr, minimum, flags) < 0) ThrowLastError();
  });
}

}  // namespace virtkit
