// diagnostics.liveObjects(): the wrap counters (native/diagnostics.h) and this environment's
// calls in flight. Synchronous, no libvirt call.
#include "diagnostics.h"
#include "connect.h"
#include "handle.h"
#include "domain.h"
#include "domain_checkpoint.h"
#include "domain_snapshot.h"
#include "iscsi.h"
#include "secret.h"
#include "storage_pool.h"
#include "storage_vol.h"
#include "stream.h"
#include "worker.h"

namespace virtkit {

Napi::Value LiveObjects(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("connections", double(LiveCount<ConnectTraits>::Get()));
  o.Set("domains", double(LiveCount<DomainTraits>::Get()));
  o.Set("storagePools", double(LiveCount<StoragePoolTraits>::Get()));
  o.Set("storageVolumes", double(LiveCount<StorageVolTraits>::Get()));
  o.Set("secrets", double(LiveCount<SecretTraits>::Get()));
  o.Set("streams", double(LiveCount<StreamTraits>::Get()));
  o.Set("domainSnapshots", double(LiveCount<DomainSnapshotTraits>::Get()));
  o.Set("domainCheckpoints", double(LiveCount<DomainCheckpointTraits>::Get()));
  o.Set("iscsiSessions", double(LiveCount<IscsiSessionTraits>::Get()));
  o.Set("pendingCalls", double(PendingCalls(env)));
  o.Set("keepaliveGates", double(CallGateCount()));
  return o;
}

}  // namespace virtkit
