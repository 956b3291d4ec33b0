// Per-instance addon state (one per Node environment: main thread or worker thread).
// Holds no static JS references, so the addon loads in several worker threads at once.
#pragma once
#include <napi.h>
#include <memory>

namespace virtkit {

struct AddonData {
  Napi::FunctionReference libvirtError;  // lib/errors.ts LibvirtError, set at start-up
  // Wrap constructors, one per libvirt object type.
  Napi::FunctionReference connectClass;
  Napi::FunctionReference storagePoolClass;
  Napi::FunctionReference storageVolClass;
  Napi::FunctionReference domainClass;
  Napi::FunctionReference secretClass;
  Napi::FunctionReference streamClass;
  Napi::FunctionReference domainSnapshotClass;
  Napi::FunctionReference domainCheckpointClass;
  // iSCSI (native/iscsi.cc): lib/iscsi/errors.ts IscsiError, set at start-up, and the session wrap.
  Napi::FunctionReference iscsiError;
  Napi::FunctionReference iscsiSessionClass;
  // Delivery of finished calls to this environment (native/worker.cc).
  std::shared_ptr<void> dispatcher;
  // Delivery of libvirt events to this environment (native/events.cc).
  std::shared_ptr<void> events;
  // This environment's iSCSI sessions (native/iscsi_engine.cc); freed by its own cleanup hook.
  void* iscsi = nullptr;

  static AddonData* Get(Napi::Env env) { return env.GetInstanceData<AddonData>(); }
};

}  // namespace virtkit
