// virDomainPtr: the domain wrap. Methods mirror virDomain* functions.
#pragma once
#include <napi.h>
#include <libvirt/libvirt.h>
#include "handle.h"

namespace virtkit {

class Domain;

struct DomainTraits {
  using Ptr = virDomainPtr;
  using Class = Domain;
  static constexpr const char* kName = "Domain";
  static constexpr int kInvalid = VIR_ERR_INVALID_DOMAIN;
  static constexpr const char* kFreed = "the domain handle has been freed";
  static const napi_type_tag kTag;
  static int Ref(Ptr p) { return virDomainRef(p); }
  static void Unref(Ptr p) { virDomainFree(p); }
  // The connection whose calls it makes (no reference taken): for CallGate().
  static virConnectPtr Conn(Ptr p) { return virDomainGetConnect(p); }
};

class Domain : public Handle<Domain, DomainTraits> {
 public:
  static Napi::Function Init(Napi::Env env);
  static Napi::FunctionReference& Constructor(Napi::Env env);
  explicit Domain(const Napi::CallbackInfo& info) : Handle(info) {}

 private:
  Napi::Value GetName(const Napi::CallbackInfo& info);
  Napi::Value GetUUIDString(const Napi::CallbackInfo& info);
  Napi::Value GetID(const Napi::CallbackInfo& info);
  Napi::Value GetState(const Napi::CallbackInfo& info);
  Napi::Value GetInfo(const Napi::CallbackInfo& info);
  Napi::Value GetXMLDesc(const Napi::CallbackInfo& info);
  Napi::Value CreateWithFlags(const Napi::CallbackInfo& info);
  Napi::Value DestroyFlags(const Napi::CallbackInfo& info);
  Napi::Value ShutdownFlags(const Napi::CallbackInfo& info);
  Napi::Value Reboot(const Napi::CallbackInfo& info);
  Napi::Value Reset(const Napi::CallbackInfo& info);
  Napi::Value Suspend(const Napi::CallbackInfo& info);
  Napi::Value Resume(const Napi::CallbackInfo& info);
  Napi::Value UndefineFlags(const Napi::CallbackInfo& info);
  Napi::Value IsActive(const Napi::CallbackInfo& info);
  Napi::Value IsPersistent(const Napi::CallbackInfo& info);
  Napi::Value IsUpdated(const Napi::CallbackInfo& info);
  Napi::Value GetAutostart(const Napi::CallbackInfo& info);
  Napi::Value SetAutostart(const Napi::CallbackInfo& info);
  Napi::Value GetOSType(const Napi::CallbackInfo& info);
  Napi::Value GetMaxMemory(const Napi::CallbackInfo& info);
  Napi::Value GetMaxVcpus(const Napi::CallbackInfo& info);
  Napi::Value SetMemoryFlags(const Napi::CallbackInfo& info);
  Napi::Value SetVcpusFlags(const Napi::CallbackInfo& info);
  Napi::Value GetVcpusFlags(const Napi::CallbackInfo& info);
  Napi::Value ManagedSave(const Napi::CallbackInfo& info);
  Napi::Value HasManagedSaveImage(const Napi::CallbackInfo& info);
  Napi::Value ManagedSaveRemove(const Napi::CallbackInfo& info);
  Napi::Value GetHostname(const Napi::CallbackInfo& info);
  // Devices
  Napi::Value AttachDeviceFlags(const Napi::CallbackInfo& info);
  Napi::Value DetachDeviceFlags(const Napi::CallbackInfo& info);
  Napi::Value DetachDeviceAlias(const Napi::CallbackInfo& info);
  Napi::Value UpdateDeviceFlags(const Napi::CallbackInfo& info);
  // Block, interface, memory and CPU statistics
  Napi::Value GetBlockInfo(const Napi::CallbackInfo& info);
  Napi::Value BlockStats(const Napi::CallbackInfo& info);
  Napi::Value BlockStatsFlags(const Napi::CallbackInfo& info);
  Napi::Value BlockResize(const Napi::CallbackInfo& info);
  Napi::Value InterfaceStats(const Napi::CallbackInfo& info);
  Napi::Value MemoryStats(const Napi::CallbackInfo& info);
  Napi::Value GetCPUStats(const Napi::CallbackInfo& info);
  Napi::Value GetDiskErrors(const Napi::CallbackInfo& info);
  Napi::Value GetGuestInfo(const Napi::CallbackInfo& info);
  Napi::Value GetFSInfo(const Napi::CallbackInfo& info);
  Napi::Value InterfaceAddresses(const Napi::CallbackInfo& info);
  Napi::Value GetMessages(const Napi::CallbackInfo& info);
  // Save images
  Napi::Value SaveFlags(const Napi::CallbackInfo& info);
  Napi::Value ManagedSaveGetXMLDesc(const Napi::CallbackInfo& info);
  Napi::Value ManagedSaveDefineXML(const Napi::CallbackInfo& info);
  // Snapshots and checkpoints (the calls that take the domain)
  Napi::Value SnapshotCreateXML(const Napi::CallbackInfo& info);
  Napi::Value ListAllSnapshots(const Napi::CallbackInfo& info);
  Napi::Value SnapshotLookupByName(const Napi::CallbackInfo& info);
  Napi::Value SnapshotCurrent(const Napi::CallbackInfo& info);
  Napi::Value HasCurrentSnapshot(const Napi::CallbackInfo& info);
  Napi::Value CheckpointCreateXML(const Napi::CallbackInfo& info);
  Napi::Value ListAllCheckpoints(const Napi::CallbackInfo& info);
  Napi::Value CheckpointLookupByName(const Napi::CallbackInfo& info);
  // Metadata, time, vCPUs, jobs, tuning parameters
  Napi::Value GetMetadata(const Napi::CallbackInfo& info);
  Napi::Value SetMetadata(const Napi::CallbackInfo& info);
  Napi::Value GetTime(const Napi::CallbackInfo& info);
  Napi::Value SetTime(const Napi::CallbackInfo& info);
  Napi::Value GetVcpus(const Napi::CallbackInfo& info);
  Napi::Value GetVcpuPinInfo(const Napi::CallbackInfo& info);
  Napi::Value GetEmulatorPinInfo(const Napi::CallbackInfo& info);
  Napi::Value GetJobInfo(const Napi::CallbackInfo& info);
  Napi::Value GetJobStats(const Napi::CallbackInfo& info);
  Napi::Value AbortJobFlags(const Napi::CallbackInfo& info);
  Napi::Value GetSchedulerType(const Napi::CallbackInfo& info);
  Napi::Value GetControlInfo(const Napi::CallbackInfo& info);
  Napi::Value GetMemoryParameters(const Napi::CallbackInfo& info);
  Napi::Value GetBlkioParameters(const Napi::CallbackInfo& info);
  Napi::Value GetSchedulerParametersFlags(const Napi::CallbackInfo& info);
  Napi::Value GetNumaParameters(const Napi::CallbackInfo& info);
  Napi::Value GetBlockIoTune(const Napi::CallbackInfo& info);
  Napi::Value GetInterfaceParameters(const Napi::CallbackInfo& info);
  Napi::Value GetGuestVcpus(const Napi::CallbackInfo& info);
  Napi::Value GetIOThreadInfo(const Napi::CallbackInfo& info);
  Napi::Value GetSecurityLabel(const Napi::CallbackInfo& info);
  Napi::Value SetMaxMemory(const Napi::CallbackInfo& info);
  Napi::Value SetMemoryStatsPeriod(const Napi::CallbackInfo& info);
  Napi::Value Rename(const Napi::CallbackInfo& info);
  Napi::Value InjectNMI(const Napi::CallbackInfo& info);
  Napi::Value SendKey(const Napi::CallbackInfo& info);
  Napi::Value CoreDumpWithFormat(const Napi::CallbackInfo& info);
  Napi::Value PMSuspendForDuration(const Napi::CallbackInfo& info);
  Napi::Value PMWakeup(const Napi::CallbackInfo& info);
  Napi::Value FSTrim(const Napi::CallbackInfo& info);
};

}  // namespace virtkit
