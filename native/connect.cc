#include "connect.h"
#include <cstring>
#include <string.h>
#include "addon.h"
#include "domain.h"
#include "secret.h"
#include "storage_pool.h"
#include "storage_vol.h"
#include "typed_params.h"

namespace virtkit {

const napi_type_tag ConnectTraits::kTag = {0x7669727463756e6bULL, 0x436f6e6e65637431ULL};

namespace {

// Credentials answered through virConnectOpenAuth. Lives on the pool thread for the
// duration of the open; the password's memory is wiped when it goes away.
struct Credentials {
  std::optional<std::string> username;
  std::unique_ptr<SecretString> password;
};

int AnswerCredentials(virConnectCredentialPtr cred, unsigned int ncred, void* cbdata) {
  auto* creds = static_cast<Credentials*>(cbdata);
  for (unsigned int i = 0; i < ncred; i++) {
    const char* answer = nullptr;
    size_t length = 0;
    switch (cred[i].type) {
      case VIR_CRED_USERNAME:
      case VIR_CRED_AUTHNAME:
      case VIR_CRED_ECHOPROMPT:
        if (creds->username) answer = creds->username->c_str(), length = creds->username->size();
        break;
      case VIR_CRED_PASSPHRASE:
      case VIR_CRED_NOECHOPROMPT:  // libvirt asks for passwords (and passphrases) this way
        if (creds->password) answer = creds->password->c_str(), length = creds->password->size();
        break;
      default:
        break;
    }
    if (!answer) return -1;  // libvirt then fails the open with an auth error
    cred[i].result = strdup(answer);  // libvirt owns (and frees) the copy it asked for
    if (!cred[i].result) return -1;
    cred[i].resultlen = length;
  }
  return 0;
}

int kCredTypes[] = {VIR_CRED_USERNAME,   VIR_CRED_AUTHNAME,    VIR_CRED_PASSPHRASE,
                    VIR_CRED_ECHOPROMPT, VIR_CRED_NOECHOPROMPT};



struct NodeInfo {
  virNodeInfo v;
};

Napi::Value ToJs(Napi::Env env, NodeInfo&& n) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("model", std::string(n.v.model, strnlen(n.v.model, sizeof n.v.model)));
  o.Set("memory", double(n.v.memory));
  o.Set("cpus", n.v.cpus);
  o.Set("mhz", n.v.mhz);
  o.Set("nodes", n.v.nodes);
  o.Set("sockets", n.v.sockets);
  o.Set("cores", n.v.cores);
  o.Set("threads", n.v.threads);
  return o;
}

}  // namespace

Napi::FunctionReference& Connect::Constructor(Napi::Env env) { return AddonData::Get(env)->connectClass; }

Napi::Function Connect::Init(Napi::Env env) {
  return DefineClass(env, "Connect",
                     {
                         InstanceMethod<&Connect::Close>("close"),
                         InstanceMethod<&Connect::IsClosed>("isClosed"),
                         InstanceMethod<&Connect::IsAlive>("isAlive"),
                         InstanceMethod<&Connect::IsSecure>("isSecure"),
                         InstanceMethod<&Connect::IsEncrypted>("isEncrypted"),
                         InstanceMethod<&Connect::GetURI>("getURI"),
                         InstanceMethod<&Connect::GetHostname>("getHostname"),
                         InstanceMethod<&Connect::GetType>("getType"),
                         InstanceMethod<&Connect::GetVersion>("getVersion"),
                         InstanceMethod<&Connect::GetLibVersion>("getLibVersion"),
                         InstanceMethod<&Connect::GetCapabilities>("getCapabilities"),
                         InstanceMethod<&Connect::GetSysinfo>("getSysinfo"),
                         InstanceMethod<&Connect::GetMaxVcpus>("getMaxVcpus"),
                         InstanceMethod<&Connect::NodeGetInfo>("nodeGetInfo"),
                         InstanceMethod<&Connect::SetKeepAlive>("setKeepAlive"),
                         InstanceMethod<&Connect::ListAllStoragePools>("listAllStoragePools"),
                         InstanceMethod<&Connect::ListAllDomains>("listAllDomains"),
                         InstanceMethod<&Connect::StoragePoolLookupByName>("storagePoolLookupByName"),
                         InstanceMethod<&Connect::StoragePoolLookupByUUIDString>("storagePoolLookupByUUIDString"),
                         InstanceMethod<&Connect::DomainLookupByName>("domainLookupByName"),
                         InstanceMethod<&Connect::DomainLookupByUUIDString>("domainLookupByUUIDString"),
                         InstanceMethod<&Connect::DomainLookupByID>("domainLookupByID"),
                         InstanceMethod<&Connect::DomainDefineXMLFlags>("domainDefineXMLFlags"),
                         InstanceMethod<&Connect::DomainCreateXML>("domainCreateXML"),
                         InstanceMethod<&Connect::ListAllSecrets>("listAllSecrets"),
                         InstanceMethod<&Connect::StoragePoolDefineXML>("storagePoolDefineXML"),
                         InstanceMethod<&Connect::StorageVolLookupByKey>("storageVolLookupByKey"),
                         InstanceMethod<&Connect::StorageVolLookupByPath>("storageVolLookupByPath"),
                         InstanceMethod<&Connect::StoragePoolCreateXML>("storagePoolCreateXML"),
                         InstanceMethod<&Connect::StoragePoolLookupByTargetPath>("storagePoolLookupByTargetPath"),
                         InstanceMethod<&Connect::FindStoragePoolSources>("findStoragePoolSources"),
                         InstanceMethod<&Connect::GetStoragePoolCapabilities>("getStoragePoolCapabilities"),
                         InstanceMethod<&Connect::SecretDefineXML>("secretDefineXML"),
                         InstanceMethod<&Connect::SecretLookupByUUIDString>("secretLookupByUUIDString"),
                         InstanceMethod<&Connect::SecretLookupByUsage>("secretLookupByUsage"),
                         InstanceMethod<&Connect::DomainEventRegisterAny>("domainEventRegisterAny"),
                         InstanceMethod<&Connect::DomainEventDeregisterAny>("domainEventDeregisterAny"),
                         InstanceMethod<&Connect::StoragePoolEventRegisterAny>("storagePoolEventRegisterAny"),
                         InstanceMethod<&Connect::StoragePoolEventDeregisterAny>("storagePoolEventDeregisterAny"),
                         InstanceMethod<&Connect::SecretEventRegisterAny>("secretEventRegisterAny"),
                         InstanceMethod<&Connect::SecretEventDeregisterAny>("secretEventDeregisterAny"),
                         InstanceMethod<&Connect::RegisterCloseCallback>("registerCloseCallback"),
                         InstanceMethod<&Connect::UnregisterCloseCallback>("unregisterCloseCallback"),
                         InstanceMethod<&Connect::DomainRestoreFlags>("domainRestoreFlags"),
                         InstanceMethod<&Connect::DomainSaveImageGetXMLDesc>("domainSaveImageGetXMLDesc"),
                         InstanceMethod<&Connect::DomainSaveImageDefineXML>("domainSaveImageDefineXML"),
                         InstanceMethod<&Connect::GetAllDomainStats>("getAllDomainStats"),
                         InstanceMethod<&Connect::DomainListGetStats>("domainListGetStats"),
                         InstanceMethod<&Connect::GetDomainCapabilities>("getDomainCapabilities"),
                         InstanceMethod<&Connect::DomainXMLFromNative>("domainXMLFromNative"),
                         InstanceMethod<&Connect::DomainXMLToNative>("domainXMLToNative"),
                     });
}

// https://libvirt.org/html/libvirt-libvirt-host.html#virConnectOpenAuth
Napi::Value Connect::Open(const Napi::CallbackInfo& info) {
  auto uri = ArgOptString(info, 0, "uri");
  unsigned int flags = ArgFlags(info, 1);
  auto creds = std::make_unique<Credentials>();
  creds->username = ArgOptString(info, 2, "username");
  creds->password = ArgOptSecret(info, 3, "password");
  return Queue(info.Env(), [uri = std::move(uri), flags, creds = std::move(creds)]() {
    virConnectAuth auth = {kCredTypes, sizeof kCredTypes / sizeof kCredTypes[0], AnswerCredentials,
                           creds.get()};
    virConnectPtr c = virConnectOpenAuth(uri ? uri->c_str() : nullptr, &auth, flags);
    if (!c) ThrowLastError();
    DropCallGate(c);  // a gate left at this address belonged to a connection freed before
    return Hold<ConnectTraits>::Adopt(c);
  });
}

// https://libvirt.org/html/libvirt-libvirt-host.html#virConnectClose
Napi::Value Connect::Close(const Napi::CallbackInfo& info) {
  Hold<ConnectTraits> ref = Detach();
  if (!ref) return Queue(info.Env(), [] {});  // already closed: nothing to do
  return Queue(info.Env(), [ref = std::move(ref)]() mutable {
    int left = 0;
    CloseConnection(ref.Release(), &left);  // its gate stays while its objects keep it open
    if (left < 0) ThrowLastError();
  });
}

Napi::Value Connect::IsClosed(const Napi::CallbackInfo& info) { return IsFreed(info); }

// https://libvirt.org/html/libvirt-libvirt-host.html#virConnectIsAlive
Napi::Value Connect::IsAlive(const Napi::CallbackInfo& info) { return Call(info, BoolResult(virConnectIsAlive)); }

// https://libvirt.org/html/libvirt-libvirt-host.html#virConnectIsSecure
Napi::Value Connect::IsSecure(const Napi::CallbackInfo& info) { return Call(info, BoolResult(virConnectIsSecure)); }

// https://libvirt.org/html/libvirt-libvirt-host.html#virConnectIsEncrypted
Napi::Value Connect::IsEncrypted(const Napi::CallbackInfo& info) {
  return Call(info, BoolResult(virConnectIsEncrypted));
}

// https://libvirt.org/html/libvirt-libvirt-host.html#virConnectGetURI
Napi::Value Connect::GetURI(const Napi::CallbackInfo& info) {
  return Call(info, [](virConnectPtr c) { return TakeString(virConnectGetURI(c)); });
}

// https://libvirt.org/html/libvirt-libvirt-host.html#virConnectGetHostname
Napi::Value Connect::GetHostname(const Napi::CallbackInfo& info) {
  return Call(info, [](virConnectPtr c) { return TakeString(virConnectGetHostname(c)); });
}

// https://libvirt.org/html/libvirt-libvirt-host.html#virConnectGetType
Napi::Value Connect::GetType(const Napi::CallbackInfo& info) {
  return Call(info, [](virConnectPtr c) {
    const char* t = virConnectGetType(c);  // static string, not to be freed
    if (!t) ThrowLastError();
    return std::string(t);
  });
}

// https://libvirt.org/html/libvirt-libvirt-host.html#virConnectGetVersion
Napi::Value Connect::GetVersion(const Napi::CallbackInfo& info) {
  return Call(info, [](virConnectPtr c) {
    unsigned long v = 0;
    if (virConnectGetVersion(c, &v) < 0) ThrowLastError();
    return v;
  });
}

// https://libvirt.org/html/libvirt-libvirt-host.html#virConnectGetLibVersion
Napi::Value Connect::GetLibVersion(const Napi::CallbackInfo& info) {
  return Call(info, [](virConnectPtr c) {
    unsigned long v = 0;
    if (virConnectGetLibVersion(c, &v) < 0) ThrowLastError();
    return v;
  });
}

// https://libvirt.org/html/libvirt-libvirt-host.html#virConnectGetCapabilities
Napi::Value Connect::GetCapabilities(const Napi::CallbackInfo& info) {
  return Call(info, [](virConnectPtr c) { return TakeString(virConnectGetCapabilities(c)); });
}

// https://libvirt.org/html/libvirt-libvirt-host.html#virConnectGetSysinfo
Napi::Value Connect::GetSysinfo(const Napi::CallbackInfo& info) {
  unsigned int flags = ArgFlags(info, 0);
  return Call(info, [flags](virConnectPtr c) { return TakeString(virConnectGetSysinfo(c, flags)); });
}

// https://libvirt.org/html/libvirt-libvirt-host.html#virConnectGetMaxVcpus
Napi::Value Connect::GetMaxVcpus(const Napi::CallbackInfo& info) {
  auto type = ArgOptString(info, 0, "type");
  return Call(info, [type = std::move(type)](virConnectPtr c) {
    int n = virConnectGetMaxVcpus(c, type ? type->c_str() : nullptr);
    if (n < 0) ThrowLastError();
    return n;
  });
}

// https://libvirt.org/html/libvirt-libvirt-host.html#virNodeGetInfo
Napi::Value Connect::NodeGetInfo(const Napi::CallbackInfo& info) {
  return Call(info, [](virConnectPtr c) {
    NodeInfo n;
    memset(&n.v, 0, sizeof n.v);
    if (virNodeGetInfo(c, &n.v) < 0) ThrowLastError();
    return n;
  });
}

// https://libvirt.org/html/libvirt-libvirt-host.html#virConnectSetKeepAlive
Napi::Value Connect::SetKeepAlive(const Napi::CallbackInfo& info) {
  int interval = ArgInt(info, 0, "interval");
  unsigned int count = ArgUint(info, 1, "count");
  // Keepalive on: one call at a time (handle.h). The gate is in place before this call is
  // queued, so every call queued after it waits its turn; it goes again if keepalive ends up off.
  // A gate that was there already (keepalive set before) stays when this call fails.
  bool made = false;
  std::shared_ptr<Lane> gate = interval > 0 && ptr() ? OpenCallGate(ptr(), &made) : nullptr;
  return Call(info, [interval, count, gate, made](virConnectPtr c) {
    int r = virConnectSetKeepAlive(c, interval, count);
    if (interval <= 0 && r == 0) DropCallGate(c);  // keepalive off
    else if (r != 0 && made) DropCallGate(c, gate);
    if (r < 0) ThrowLastError();
    return r == 0;  // false: the other side does not support keepalive
  });
}

// https://libvirt.org/html/libvirt-libvirt-storage.html#virConnectListAllStoragePools
Napi::Value Connect::ListAllStoragePools(const Napi::CallbackInfo& info) {
  return Call(info, ListAllResult<StoragePoolTraits>(virConnectListAllStoragePools, ArgFlags(info, 0)));
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virConnectListAllDomains
Napi::Value Connect::ListAllDomains(const Napi::CallbackInfo& info) {
  return Call(info, ListAllResult<DomainTraits>(virConnectListAllDomains, ArgFlags(info, 0)));
}

// Runs a lookup that returns a new object (or null with the error set) off the main thread.
template <typename T, typename Fn>
static auto Lookup(Fn lookup) {
  return [lookup](virConnectPtr c) {
    typename T::Ptr p = lookup(c);
    if (!p) ThrowLastError();
    return Hold<T>::Adopt(p);
  };
}

// https://libvirt.org/html/libvirt-libvirt-storage.html#virStoragePoolLookupByName
Napi::Value Connect::StoragePoolLookupByName(const Napi::CallbackInfo& info) {
  std::string name = ArgString(info, 0, "name");
  return Call(info, Lookup<StoragePoolTraits>([name](virConnectPtr c) { return virStoragePoolLookupByName(c, name.c_str()); }));
}

// https://libvirt.org/html/libvirt-libvirt-storage.html#virStoragePoolLookupByUUIDString
Napi::Value Connect::StoragePoolLookupByUUIDString(const Napi::CallbackInfo& info) {
  std::string uuid = ArgString(info, 0, "uuid");
  return Call(info, Lookup<StoragePoolTraits>([uuid](virConnectPtr c) { return virStoragePoolLookupByUUIDString(c, uuid.c_str()); }));
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainLookupByName
Napi::Value Connect::DomainLookupByName(const Napi::CallbackInfo& info) {
  std::string name = ArgString(info, 0, "name");
  return Call(info, Lookup<DomainTraits>([name](virConnectPtr c) { return virDomainLookupByName(c, name.c_str()); }));
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainLookupByUUIDString
Napi::Value Connect::DomainLookupByUUIDString(const Napi::CallbackInfo& info) {
  std::string uuid = ArgString(info, 0, "uuid");
  return Call(info, Lookup<DomainTraits>([uuid](virConnectPtr c) { return virDomainLookupByUUIDString(c, uuid.c_str()); }));
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainLookupByID
Napi::Value Connect::DomainLookupByID(const Napi::CallbackInfo& info) {
  int id = ArgInt(info, 0, "id");
  return Call(info, Lookup<DomainTraits>([id](virConnectPtr c) { return virDomainLookupByID(c, id); }));
}

// https://libvirt.org/html/libvirt-libvirt-secret.html#virConnectListAllSecrets
Napi::Value Connect::ListAllSecrets(const Napi::CallbackInfo& info) {
  return Call(info, ListAllResult<SecretTraits>(virConnectListAllSecrets, ArgFlags(info, 0)));
}

// https://libvirt.org/html/libvirt-libvirt-secret.html#virSecretDefineXML
Napi::Value Connect::SecretDefineXML(const Napi::CallbackInfo& info) {
  std::string xml = ArgString(info, 0, "xml");
  unsigned int flags = ArgFlags(info, 1);
  return Call(info, Lookup<SecretTraits>([xml, flags](virConnectPtr c) { return virSecretDefineXML(c, xml.c_str(), flags); }));
}

// https://libvirt.org/html/libvirt-libvirt-secret.html#virSecretLookupByUUIDString
Napi::Value Connect::SecretLookupByUUIDString(const Napi::CallbackInfo& info) {
  std::string uuid = ArgString(info, 0, "uuid");
  return Call(info, Lookup<SecretTraits>([uuid](virConnectPtr c) { return virSecretLookupByUUIDString(c, uuid.c_str()); }));
}

// https://libvirt.org/html/libvirt-libvirt-secret.html#virSecretLookupByUsage
Napi::Value Connect::SecretLookupByUsage(const Napi::CallbackInfo& info) {
  int type = ArgInt(info, 0, "usageType");
  std::string usageID = ArgString(info, 1, "usageID");
  return Call(info, Lookup<SecretTraits>([type, usageID](virConnectPtr c) {
    return virSecretLookupByUsage(c, type, usageID.c_str());
  }));
}

// https://libvirt.org/html/libvirt-libvirt-storage.html#virStoragePoolDefineXML
Napi::Value Connect::StoragePoolDefineXML(const Napi::CallbackInfo& info) {
  std::string xml = ArgString(info, 0, "xml");
  unsigned int flags = ArgFlags(info, 1);
  return Call(info, Lookup<StoragePoolTraits>([xml, flags](virConnectPtr c) { return virStoragePoolDefineXML(c, xml.c_str(), flags); }));
}

// https://libvirt.org/html/libvirt-libvirt-storage.html#virStoragePoolCreateXML (transient)
Napi::Value Connect::StoragePoolCreateXML(const Napi::CallbackInfo& info) {
  std::string xml = ArgString(info, 0, "xml");
  unsigned int flags = ArgFlags(info, 1);
  return Call(info, Lookup<StoragePoolTraits>([xml, flags](virConnectPtr c) { return virStoragePoolCreateXML(c, xml.c_str(), flags); }));
}

// https://libvirt.org/html/libvirt-libvirt-storage.html#virStoragePoolLookupByTargetPath
Napi::Value Connect::StoragePoolLookupByTargetPath(const Napi::CallbackInfo& info) {
  std::string path = ArgString(info, 0, "path");
  return Call(info, Lookup<StoragePoolTraits>([path](virConnectPtr c) { return virStoragePoolLookupByTargetPath(c, path.c_str()); }));
}

// https://libvirt.org/html/libvirt-libvirt-storage.html#virConnectFindStoragePoolSources
Napi::Value Connect::FindStoragePoolSources(const Napi::CallbackInfo& info) {
  std::string type = ArgString(info, 0, "type");
  auto spec = ArgOptString(info, 1, "srcSpec");
  unsigned int flags = ArgFlags(info, 2);
  return Call(info, [type, spec, flags](virConnectPtr c) {
    return TakeString(virConnectFindStoragePoolSources(c, type.c_str(), spec ? spec->c_str() : nullptr, flags));
  });
}

// https://libvirt.org/html/libvirt-libvirt-storage.html#virConnectGetStoragePoolCapabilities
Napi::Value Connect::GetStoragePoolCapabilities(const Napi::CallbackInfo& info) {
  unsigned int flags = ArgFlags(info, 0);
  return Call(info, [flags](virConnectPtr c) { return TakeString(virConnectGetStoragePoolCapabilities(c, flags)); });
}

// https://libvirt.org/html/libvirt-libvirt-storage.html#virStorageVolLookupByKey
Napi::Value Connect::StorageVolLookupByKey(const Napi::CallbackInfo& info) {
  std::string key = ArgString(info, 0, "key");
  return Call(info, Lookup<StorageVolTraits>([key](virConnectPtr c) { return virStorageVolLookupByKey(c, key.c_str()); }));
}

// https://libvirt.org/html/libvirt-libvirt-storage.html#virStorageVolLookupByPath
Napi::Value Connect::StorageVolLookupByPath(const Napi::CallbackInfo& info) {
  std::string path = ArgString(info, 0, "path");
  return Call(info, Lookup<StorageVolTraits>([path](virConnectPtr c) { return virStorageVolLookupByPath(c, path.c_str()); }));
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainDefineXMLFlags
Napi::Value Connect::DomainDefineXMLFlags(const Napi::CallbackInfo& info) {
  std::string xml = ArgString(info, 0, "xml");
  unsigned int flags = ArgFlags(info, 1);
  return Call(info, Lookup<DomainTraits>([xml, flags](virConnectPtr c) { return virDomainDefineXMLFlags(c, xml.c_str(), flags); }));
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainCreateXML (transient, started)
Napi::Value Connect::DomainCreateXML(const Napi::CallbackInfo& info) {
  std::string xml = ArgString(info, 0, "xml");
  unsigned int flags = ArgFlags(info, 1);
  return Call(info, Lookup<DomainTraits>([xml, flags](virConnectPtr c) { return virDomainCreateXML(c, xml.c_str(), flags); }));
}


// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainRestoreFlags (a file on the
// daemon's host, written by virDomainSaveFlags)
Napi::Value Connect::DomainRestoreFlags(const Napi::CallbackInfo& info) {
  std::string from = ArgString(info, 0, "from");
  auto dxml = ArgOptString(info, 1, "dxml");
  unsigned int flags = ArgFlags(info, 2);
  return Call(info, [from, dxml, flags](virConnectPtr c) {
    if (virDomainRestoreFlags(c, from.c_str(), dxml ? dxml->c_str() : nullptr, flags) < 0) ThrowLastError();
  });
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainSaveImageGetXMLDesc
Napi::Value Connect::DomainSaveImageGetXMLDesc(const Napi::CallbackInfo& info) {
  std::string file = ArgString(info, 0, "file");
  unsigned int flags = ArgFlags(info, 1);
  return Call(info, [file, flags](virConnectPtr c) { return TakeString(virDomainSaveImageGetXMLDesc(c, file.c_str(), flags)); });
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainSaveImageDefineXML
Napi::Value Connect::DomainSaveImageDefineXML(const Napi::CallbackInfo& info) {
  std::string file = ArgString(info, 0, "file");
  std::string dxml = ArgString(info, 1, "dxml");
  unsigned int flags = ArgFlags(info, 2);
  return Call(info, [file, dxml, flags](virConnectPtr c) {
    if (virDomainSaveImageDefineXML(c, file.c_str(), dxml.c_str(), flags) < 0) ThrowLastError();
  });
}

namespace {
// One record of virConnectGetAllDomainStats / virDomainListGetStats: the domain (its own
// reference) and its typed parameters.
struct DomainStatsRecord {
  Hold<DomainTraits> domain;
  TypedParams params;
};

Napi::Value ToJs(Napi::Env env, DomainStatsRecord&& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("domain", virtkit::ToJs(env, std::move(r.domain)));
  o.Set("params", virtkit::ToJs(env, std::move(r.params)));
  return o;
}

// Copies the records (taking a reference on each domain) and frees the list.
std::vector<DomainStatsRecord> TakeStatsRecords(virDomainStatsRecordPtr* records, int n) {
  if (n < 0) ThrowLastError();
  std::vector<DomainStatsRecord> out;
  out.reserve(n);
  for (int i = 0; i < n; i++)
    out.push_back({Hold<DomainTraits>::Take(records[i]->dom), CopyTypedParams(records[i]->params, records[i]->nparams)});
  virDomainStatsRecordListFree(records);  // drops the list's own domain references
  return out;
}
}  // namespace

// https://libvirt.org/html/libvirt-libvirt-domain.html#virConnectGetAllDomainStats
Napi::Value Connect::GetAllDomainStats(const Napi::CallbackInfo& info) {
  unsigned int stats = ArgUint(info, 0, "stats");
  unsigned int flags = ArgFlags(info, 1);
  return Call(info, [stats, flags](virConnectPtr c) {
    virDomainStatsRecordPtr* records = nullptr;
    int n = virConnectGetAllDomainStats(c, stats, &records, flags);
    return TakeStatsRecords(records, n);
  });
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainListGetStats (the domains must
// belong to this connection)
Napi::Value Connect::DomainListGetStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArray()) throw Napi::TypeError::New(env, "domains must be an array of Domain");
  Napi::Array a = info[0].As<Napi::Array>();
  auto doms = std::make_shared<std::vector<Hold<DomainTraits>>>();
  for (uint32_t i = 0; i < a.Length(); i++) {
    Domain* d = Domain::FromValue(a.Get(i), "domains[i]");
    if (!d->ptr()) return RejectedPromise(env, Domain::FreedFailure());
    doms->push_back(Hold<DomainTraits>::Take(d->ptr()));
    if (!doms->back()) return RejectedPromise(env, Failure::FromLastError());
  }
  unsigned int stats = ArgUint(info, 1, "stats");
  unsigned int flags = ArgFlags(info, 2);
  return Call(info, [doms, stats, flags](virConnectPtr) {
    std::vector<virDomainPtr> list;
    for (auto& d : *doms) list.push_back(d.get());
    list.push_back(nullptr);  // NULL-terminated
    virDomainStatsRecordPtr* records = nullptr;
    int n = virDomainListGetStats(list.data(), stats, &records, flags);
    return TakeStatsRecords(records, n);
  });
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virConnectGetDomainCapabilities
Napi::Value Connect::GetDomainCapabilities(const Napi::CallbackInfo& info) {
  auto emulator = ArgOptString(info, 0, "emulatorbin");
  auto arch = ArgOptString(info, 1, "arch");
  auto machine = ArgOptString(info, 2, "machine");
  auto virttype = ArgOptString(info, 3, "virttype");
  unsigned int flags = ArgFlags(info, 4);
  auto cs = [](const std::optional<std::string>& s) { return s ? s->c_str() : nullptr; };
  return Call(info, [emulator, arch, machine, virttype, flags, cs](virConnectPtr c) {
    return TakeString(virConnectGetDomainCapabilities(c, cs(emulator), cs(arch), cs(machine), cs(virttype), flags));
  });
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virConnectDomainXMLFromNative
Napi::Value Connect::DomainXMLFromNative(const Napi::CallbackInfo& info) {
  std::string format = ArgString(info, 0, "nativeFormat");
  std::string config = ArgString(info, 1, "nativeConfig");
  unsigned int flags = ArgFlags(info, 2);
  return Call(info, [format, config, flags](virConnectPtr c) {
    return TakeString(virConnectDomainXMLFromNative(c, format.c_str(), config.c_str(), flags));
  });
}

// https://libvirt.org/html/libvirt-libvirt-domain.html#virConnectDomainXMLToNative
Napi::Value Connect::DomainXMLToNative(const Napi::CallbackInfo& info) {
  std::string format = ArgString(info, 0, "nativeFormat");
  std::string xml = ArgString(info, 1, "domainXml");
  unsigned int flags = ArgFlags(info, 2);
  return Call(info, [format, xml, flags](virConnectPtr c) {
    return TakeString(virConnectDomainXMLToNative(c, format.c_str(), xml.c_str(), flags));
  });
}

}  // namespace virtkit
