// Module init: libvirt initialisation, a silent error handler, per-instance addon data.
#include <napi.h>
#include <libvirt/libvirt.h>
#include "addon.h"
#include "connect.h"
#include "domain.h"
#include "domain_checkpoint.h"
#include "domain_snapshot.h"
#include "secret.h"
#include "stream.h"
#include "storage_pool.h"
#include "storage_vol.h"
#include "convert.h"
#include "diagnostics.h"
#include "errors.h"
#include "event_loop.h"
#include "events.h"
#include "iscsi.h"
#include "worker.h"

namespace virtkit {

// setErrorClass(LibvirtError): the class native code instantiates for every failure.
static Napi::Value SetErrorClass(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsFunction())
    throw Napi::TypeError::New(info.Env(), "setErrorClass expects a class");
  AddonData::Get(info.Env())->libvirtError = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

// https://libvirt.org/html/libvirt-libvirt-host.html#virGetVersion (local, no I/O)
static Napi::Value GetVersion(const Napi::CallbackInfo& info) {
  unsigned long lib = 0;
  if (virGetVersion(&lib, nullptr, nullptr) < 0)
    throw Napi::Error::New(info.Env(), "virGetVersion failed");
  return Napi::Number::New(info.Env(), double(lib));
}

// startEventLoop(): registers libvirt's default event loop and starts its thread (once per
// process). Connections opened afterwards can use keepalive and events.
static Napi::Value StartEventLoop(const Napi::CallbackInfo& info) {
  if (!EnsureEventLoop()) ThrowJs(info.Env(), Failure::FromLastError());
  return info.Env().Undefined();
}

static Napi::Value EventLoopRunning(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), EventLoopStarted());
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  if (virInitialize() < 0) throw Napi::Error::New(env, "virInitialize failed");
  InstallSilentErrorHandler();
  auto* data = new AddonData();
  env.SetInstanceData(data);  // deleted with the environment
  InitDispatcher(env);

  Napi::Function connect = Connect::Init(env);
  data->connectClass = Napi::Persistent(connect);
  data->storagePoolClass = Napi::Persistent(StoragePool::Init(env));
  data->storageVolClass = Napi::Persistent(StorageVol::Init(env));
  data->domainClass = Napi::Persistent(Domain::Init(env));
  data->secretClass = Napi::Persistent(Secret::Init(env));
  data->streamClass = Napi::Persistent(Stream::Init(env));
  data->domainSnapshotClass = Napi::Persistent(DomainSnapshot::Init(env));
  data->domainCheckpointClass = Napi::Persistent(DomainCheckpoint::Init(env));

  exports.Set("setErrorClass", Napi::Function::New(env, SetErrorClass, "setErrorClass"));
  exports.Set("getVersion", Napi::Function::New(env, GetVersion, "getVersion"));
  exports.Set("openConnect", Napi::Function::New(env, Connect::Open, "openConnect"));
  exports.Set("startEventLoop", Napi::Function::New(env, StartEventLoop, "startEventLoop"));
  exports.Set("holdEvents", Napi::Function::New(env, HoldEvents, "holdEvents"));
  exports.Set("setEventDispatcher", Napi::Function::New(env, SetEventDispatcher, "setEventDispatcher"));
  exports.Set("eventLoopRunning", Napi::Function::New(env, EventLoopRunning, "eventLoopRunning"));
  exports.Set("liveObjects", Napi::Function::New(env, LiveObjects, "liveObjects"));
  exports.Set("Connect", connect);
  InitIscsi(env, exports);
  return exports;
}

}  // namespace virtkit

static Napi::Object InitVirtkit(Napi::Env env, Napi::Object exports) { return virtkit::Init(env, exports); }

NODE_API_MODULE(virtkit, InitVirtkit)
