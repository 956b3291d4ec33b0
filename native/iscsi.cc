// iSCSI over libiscsi: the JS entry points. Methods mirror libiscsi calls (reportLuns →
// iscsi_reportluns_task, read16 → iscsi_read16_iov_task …); lib/iscsi/ owns names, defaults,
// argument checks and the fallbacks between commands. The sessions themselves are driven by
// native/iscsi_engine.cc.
#include "iscsi.h"
#include <stdlib.h>
#include <string.h>
#include <cstdint>
#include <string>
#include <utility>
#include "addon.h"
#include "convert.h"
#include "handle.h"
#include "iscsi_engine.h"

namespace virtkit {

const napi_type_tag IscsiSessionTraits::kTag = {0x7669727463756e6bULL, 0x4973637369533031ULL};

namespace {

using iscsi::Command;
using iscsi::Engine;
using iscsi::Fail;

const char* Str(const char* s) { return s ? s : ""; }

// The largest single READ/WRITE virtkit issues (lib/ splits nothing: it refuses more).
constexpr size_t kMaxTransfer = size_t(1) << 30;

template <typename T>
T* Unmarshall(struct scsi_task* t, const char* op) {
  auto* v = static_cast<T*>(scsi_datain_unmarshall(t));
  if (!v) Fail("protocol", op, std::string("cannot parse the data of ") + op);
  return v;
}

using Issue = std::function<struct scsi_task*(struct iscsi_context*, Command*)>;
using Result = std::function<Napi::Value(Napi::Env, Command&)>;

std::unique_ptr<Command> MakeCommand(const char* op, Issue issue, Result result) {
  auto c = std::make_unique<Command>();
  c->op = op;
  c->issue = std::move(issue);
  c->result = std::move(result);
  return c;
}

// A command whose data may not fit `initial` bytes: reissued once with the full size (≤ max).
std::unique_ptr<Command> MakeSizedCommand(const char* op, int initial, int max, Issue issue, Result result) {
  auto c = MakeCommand(op, std::move(issue), std::move(result));
  c->alloc = initial;
  c->maxAlloc = max;
  return c;
}

Napi::Object StandardInquiry(Napi::Env env, const struct scsi_inquiry_standard& q) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("qualifier", int(q.qualifier));
  o.Set("deviceType", int(q.device_type));
  o.Set("deviceTypeName", Str(scsi_devtype_to_str(q.device_type)));
  o.Set("removable", q.rmb != 0);
  o.Set("version", int(q.version));
  o.Set("vendor", q.vendor_identification);
  o.Set("product", q.product_identification);
  o.Set("revision", q.product_revision_level);
  return o;
}

Napi::Object Designator(Napi::Env env, const struct scsi_inquiry_device_designator& d) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("type", int(d.designator_type));
  o.Set("typeName", Str(scsi_designator_type_to_str(d.designator_type)));
  o.Set("codeSet", int(d.code_set));
  o.Set("association", int(d.association));
  o.Set("associationName", Str(scsi_association_to_str(d.association)));
  o.Set("protocolIdentifier", int(d.protocol_identifier));
  o.Set("piv", d.piv != 0);
  auto* bytes = reinterpret_cast<const uint8_t*>(d.designator);
  size_t n = bytes && d.designator_length > 0 ? size_t(d.designator_length) : 0;
  o.Set("value", Napi::Buffer<uint8_t>::Copy(env, n ? bytes : reinterpret_cast<const uint8_t*>(""), n));
  return o;
}

Napi::Object Capacity(Napi::Env env, double returnedLba, unsigned int blockLength) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("returnedLba", returnedLba);  // exact below 2^53 blocks
  o.Set("blockLength", blockLength);
  return o;
}

int ArgLun(const Napi::CallbackInfo& info, size_t i) { return int(ArgNumberInRange(info, i, "lun", 0, 65535)); }

iscsi::LoginOptions ReadLoginOptions(const Napi::CallbackInfo& info, bool discovery) {
  // discovery: (portal, initiator, chapUser, chapPassword, timeoutMs, headerDigest)
  // session:   (portal, target, initiator, chapUser, chapPassword, mutualUser, mutualPassword,
  //             timeoutMs, headerDigest)
  iscsi::LoginOptions o;
  size_t i = 0;
  o.discovery = discovery;
  o.portal = ArgString(info, i++, "portal");
  if (!discovery) o.target = ArgString(info, i++, "target");
  o.initiator = ArgString(info, i++, "initiatorIqn");
  o.chapUser = ArgOptString(info, i++, "chap.username");
  o.chapPassword = ArgOptSecret(info, i++, "chap.password");
  if (!discovery) {
    o.mutualUser = ArgOptString(info, i++, "mutualChap.username");
    o.mutualPassword = ArgOptSecret(info, i++, "mutualChap.password");
  }
  o.timeoutMs = (long long)ArgNumberInRange(info, i++, "timeoutMs", 1, 2147483647.0);
  o.headerDigest = int(ArgNumberInRange(info, i++, "headerDigest", 0, ISCSI_HEADER_DIGEST_LAST));
  return o;
}

// iscsiSetErrorClass(IscsiError): the class native code instantiates for iSCSI failures.
Napi::Value SetErrorClass(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsFunction()) throw Napi::TypeError::New(info.Env(), "iscsiSetErrorClass expects a class");
  AddonData::Get(info.Env())->iscsiError = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

// iscsiDiscover(...): a discovery session: connect, login, SendTargets, logout. Resolves
// [{ target, portals: ["addr:port,tpgt"] }].
Napi::Value Discover(const Napi::CallbackInfo& info) {
  iscsi::LoginOptions opt = ReadLoginOptions(info, true);
  auto deferred = Deferred::New(info.Env());
  Napi::Promise promise = deferred.Promise();
  Engine::Discover(info.Env(), std::move(opt), deferred, [](Napi::Env env, iscsi::Targets&& targets) -> Napi::Value {
    Napi::Array a = Napi::Array::New(env, targets.size());
    for (size_t i = 0; i < targets.size(); i++) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("target", targets[i].first);
      Napi::Array p = Napi::Array::New(env, targets[i].second.size());
      for (size_t j = 0; j < targets[i].second.size(); j++) p.Set(uint32_t(j), targets[i].second[j]);
      o.Set("portals", p);
      a.Set(uint32_t(i), o);
    }
    return a;
  });
  return promise;
}

// iscsiConnect(...): a normal session, logged in. Resolves an IscsiSession.
Napi::Value Connect(const Napi::CallbackInfo& info) {
  iscsi::LoginOptions opt = ReadLoginOptions(info, false);
  auto deferred = Deferred::New(info.Env());
  Napi::Promise promise = deferred.Promise();
  Engine::Login(info.Env(), std::move(opt), deferred,
                [](Napi::Env env, std::shared_ptr<Engine> engine) -> Napi::Value { return IscsiSession::Wrap(env, std::move(engine)); });
  return promise;
}

// READ(16) of c->size bytes into c->iov.
Issue Read16Issue(int lun, double lba, unsigned int blockSize) {
  return [lun, lba, blockSize](struct iscsi_context* ctx, Command* c) {
    return iscsi_read16_iov_task(ctx, lun, uint64_t(lba), uint32_t(c->size), int(blockSize), 0, 0, 0, 0, 0, Engine::OnCommand, c,
                                 &c->iov, 1);
  };
}

// A READ the target answered with fewer bytes than asked (residual underflow) fails.
void CheckWholeRead(const Command& c) {
  if (c.task->residual_status == SCSI_RESIDUAL_UNDERFLOW && c.task->residual > 0)
    Fail("protocol", c.op, std::string(c.op) + " returned " + std::to_string(c.size - c.task->residual) + " of " +
                               std::to_string(c.size) + " bytes");
}

// A read's bytes, handed to JS without a copy. V8 counts the bytes of every ArrayBuffer's
// backing store, external ones included, towards its GC heuristics: no extra accounting here.
Napi::Value TakeData(Napi::Env env, Command& c) {
  uint8_t* data = c.data;
  size_t size = c.size;
  c.data = nullptr;
  return Napi::Buffer<uint8_t>::New(env, data, size, [](Napi::Env, uint8_t* p) { free(p); });
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// the wrap

Napi::Function IscsiSession::Init(Napi::Env env) {
  return DefineClass(env, "IscsiSession",
                     {
                         InstanceMethod<&IscsiSession::ReportLuns>("reportLuns"),
                         InstanceMethod<&IscsiSession::Inquiry>("inquiry"),
                         InstanceMethod<&IscsiSession::InquirySerial>("inquirySerial"),
                         InstanceMethod<&IscsiSession::InquiryDeviceId>("inquiryDeviceId"),
                         InstanceMethod<&IscsiSession::ReadCapacity16>("readCapacity16"),
                         InstanceMethod<&IscsiSession::ReadCapacity10>("readCapacity10"),
                         InstanceMethod<&IscsiSession::TestUnitReady>("testUnitReady"),
                         InstanceMethod<&IscsiSession::Read16>("read16"),
                         InstanceMethod<&IscsiSession::Read16Into>("read16Into"),
                         InstanceMethod<&IscsiSession::Write16>("write16"),
                         InstanceMethod<&IscsiSession::Logout>("logout"),
                         InstanceMethod<&IscsiSession::IsClosed>("isClosed"),
                     });
}

Napi::Object IscsiSession::Wrap(Napi::Env env, std::shared_ptr<Engine> engine) {
  // The constructor copies the engine out of the box; the box goes either way.
  std::unique_ptr<std::shared_ptr<Engine>> box(new std::shared_ptr<Engine>(std::move(engine)));
  NativeConstruct pass(box.get());
  return AddonData::Get(env)->iscsiSessionClass.New({});
}

IscsiSession::IscsiSession(const Napi::CallbackInfo& info) : Napi::ObjectWrap<IscsiSession>(info) {
  Napi::Env env = info.Env();
  void* box = nullptr;
  if (!NativeConstruct::Take(&box))
    throw Napi::TypeError::New(env, "Illegal constructor: IscsiSession objects are created by virtkit only");
  engine_ = *static_cast<std::shared_ptr<Engine>*>(box);
  napi_type_tag_object(env, info.This(), &IscsiSessionTraits::kTag);
}

// A session dropped without close(): logged out in the background.
IscsiSession::~IscsiSession() {
  if (engine_ && !engine_->closed()) engine_->Close(std::nullopt);
}

// iscsi_reportluns_task (select report 0). Resolves the LUNs as libiscsi addresses them: the
// first two bytes of each SAM LUN, which is the plain number below 256.
Napi::Value IscsiSession::ReportLuns(const Napi::CallbackInfo& info) {
  return engine_->Submit(info.Env(), MakeSizedCommand(
      "REPORT LUNS", 16 + 8 * 64, 16 + 8 * 16384,
      [](struct iscsi_context* ctx, Command* c) { return iscsi_reportluns_task(ctx, 0, c->alloc, Engine::OnCommand, c); },
      [](Napi::Env env, Command& c) -> Napi::Value {
        auto* list = Unmarshall<struct scsi_reportluns_list>(c.task, c.op);
        Napi::Array a = Napi::Array::New(env, list->num);
        for (uint32_t i = 0; i < list->num; i++) a.Set(i, list->luns[i]);
        return a;
      }));
}

// iscsi_inquiry_task: standard INQUIRY data.
Napi::Value IscsiSession::Inquiry(const Napi::CallbackInfo& info) {
  int lun = ArgLun(info, 0);
  return engine_->Submit(info.Env(), MakeCommand(
      "INQUIRY",
      [lun](struct iscsi_context* ctx, Command* c) { return iscsi_inquiry_task(ctx, lun, 0, 0, 255, Engine::OnCommand, c); },
      [](Napi::Env env, Command& c) -> Napi::Value {
        return StandardInquiry(env, *Unmarshall<struct scsi_inquiry_standard>(c.task, c.op));
      }));
}

// iscsi_inquiry_task: VPD page 0x80 (unit serial number).
Napi::Value IscsiSession::InquirySerial(const Napi::CallbackInfo& info) {
  int lun = ArgLun(info, 0);
  return engine_->Submit(info.Env(), MakeSizedCommand(
      "INQUIRY (unit serial number)", 255, 65535,
      [lun](struct iscsi_context* ctx, Command* c) {
        return iscsi_inquiry_task(ctx, lun, 1, SCSI_INQUIRY_PAGECODE_UNIT_SERIAL_NUMBER, c->alloc, Engine::OnCommand, c);
      },
      [](Napi::Env env, Command& c) -> Napi::Value {
        return Napi::String::New(env, Str(Unmarshall<struct scsi_inquiry_unit_serial_number>(c.task, c.op)->usn));
      }));
}

// iscsi_inquiry_task: VPD page 0x83 (device identification), every designator.
Napi::Value IscsiSession::InquiryDeviceId(const Napi::CallbackInfo& info) {
  int lun = ArgLun(info, 0);
  return engine_->Submit(info.Env(), MakeSizedCommand(
      "INQUIRY (device identification)", 255, 65535,
      [lun](struct iscsi_context* ctx, Command* c) {
        return iscsi_inquiry_task(ctx, lun, 1, SCSI_INQUIRY_PAGECODE_DEVICE_IDENTIFICATION, c->alloc, Engine::OnCommand, c);
      },
      [](Napi::Env env, Command& c) -> Napi::Value {
        auto* p = Unmarshall<struct scsi_inquiry_device_identification>(c.task, c.op);
        Napi::Array a = Napi::Array::New(env);
        uint32_t i = 0;
        for (auto* d = p->designators; d; d = d->next) a.Set(i++, Designator(env, *d));
        return a;
      }));
}

// iscsi_readcapacity16_task.
Napi::Value IscsiSession::ReadCapacity16(const Napi::CallbackInfo& info) {
  int lun = ArgLun(info, 0);
  return engine_->Submit(info.Env(), MakeCommand(
      "READ CAPACITY(16)",
      [lun](struct iscsi_context* ctx, Command* c) { return iscsi_readcapacity16_task(ctx, lun, Engine::OnCommand, c); },
      [](Napi::Env env, Command& c) -> Napi::Value {
        auto* r = Unmarshall<struct scsi_readcapacity16>(c.task, c.op);
        Napi::Object o = Capacity(env, double(r->returned_lba), r->block_length);
        o.Set("lbpme", r->lbpme != 0);
        o.Set("lbprz", r->lbprz != 0);
        o.Set("lbppbe", int(r->lbppbe));
        return o;
      }));
}

// iscsi_readcapacity10_task.
Napi::Value IscsiSession::ReadCapacity10(const Napi::CallbackInfo& info) {
  int lun = ArgLun(info, 0);
  return engine_->Submit(info.Env(), MakeCommand(
      "READ CAPACITY(10)",
      [lun](struct iscsi_context* ctx, Command* c) { return iscsi_readcapacity10_task(ctx, lun, 0, 0, Engine::OnCommand, c); },
      [](Napi::Env env, Command& c) -> Napi::Value {
        auto* r = Unmarshall<struct scsi_readcapacity10>(c.task, c.op);
        return Capacity(env, double(r->lba), r->block_size);
      }));
}

// iscsi_testunitready_task.
Napi::Value IscsiSession::TestUnitReady(const Napi::CallbackInfo& info) {
  int lun = ArgLun(info, 0);
  return engine_->Submit(info.Env(), MakeCommand(
      "TEST UNIT READY",
      [lun](struct iscsi_context* ctx, Command* c) { return iscsi_testunitready_task(ctx, lun, Engine::OnCommand, c); },
      [](Napi::Env env, Command&) -> Napi::Value { return env.Undefined(); }));
}

// read16(lun, lba, blocks, blockSize): iscsi_read16_iov_task, straight into the buffer JS gets.
Napi::Value IscsiSession::Read16(const Napi::CallbackInfo& info) {
  int lun = ArgLun(info, 0);
  double lba = ArgNumberInRange(info, 1, "lba", 0, 9007199254740991.0);
  unsigned int blocks = ArgUint(info, 2, "blocks");
  unsigned int blockSize = ArgUint(info, 3, "blockSize");
  if (blocks == 0 || blockSize == 0 || double(blocks) * blockSize > double(kMaxTransfer))
    throw Napi::RangeError::New(info.Env(), "read size is out of range");
  auto c = MakeCommand(
      "READ(16)",
      Read16Issue(lun, lba, blockSize),
      [](Napi::Env env, Command& c) -> Napi::Value {
        CheckWholeRead(c);
        return TakeData(env, c);
      });
  c->size = size_t(blocks) * blockSize;
  c->data = static_cast<uint8_t*>(malloc(c->size));
  if (!c->data) throw Napi::RangeError::New(info.Env(), "cannot allocate the read buffer");
  c->iov.iov_base = c->data;
  c->iov.iov_len = c->size;
  return engine_->Submit(info.Env(), std::move(c));
}

// read16Into(lun, lba, target, blockSize): iscsi_read16_iov_task straight into the caller's
// Uint8Array (a whole number of blocks), which is referenced until the command is over.
// Resolves undefined.
Napi::Value IscsiSession::Read16Into(const Napi::CallbackInfo& info) {
  int lun = ArgLun(info, 0);
  double lba = ArgNumberInRange(info, 1, "lba", 0, 9007199254740991.0);
  if (info.Length() < 3 || !info[2].IsTypedArray() || info[2].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    throw Napi::TypeError::New(info.Env(), "target must be a Uint8Array or Buffer");
  Napi::Uint8Array target = info[2].As<Napi::Uint8Array>();
  unsigned int blockSize = ArgUint(info, 3, "blockSize");
  if (blockSize == 0 || target.ByteLength() == 0 || target.ByteLength() % blockSize != 0 || target.ByteLength() > kMaxTransfer)
    throw Napi::RangeError::New(info.Env(), "target must be a whole number of blocks, at most 1 GiB");
  auto c = MakeCommand(
      "READ(16)",
      Read16Issue(lun, lba, blockSize),
      [](Napi::Env env, Command& c) -> Napi::Value {
        CheckWholeRead(c);
        return env.Undefined();
      });
  c->size = target.ByteLength();
  c->iov.iov_base = target.Data();
  c->iov.iov_len = c->size;
  c->target = Napi::Persistent(target);
  return engine_->Submit(info.Env(), std::move(c));
}

// write16(lun, lba, data, blockSize): iscsi_write16_iov_task from a copy of data (the caller's
// buffer may change while the command is in flight).
Napi::Value IscsiSession::Write16(const Napi::CallbackInfo& info) {
  int lun = ArgLun(info, 0);
  double lba = ArgNumberInRange(info, 1, "lba", 0, 9007199254740991.0);
  if (info.Length() < 3 || !info[2].IsTypedArray() || info[2].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    throw Napi::TypeError::New(info.Env(), "data must be a Uint8Array or Buffer");
  Napi::Uint8Array data = info[2].As<Napi::Uint8Array>();
  unsigned int blockSize = ArgUint(info, 3, "blockSize");
  if (blockSize == 0 || data.ByteLength() == 0 || data.ByteLength() % blockSize != 0 || data.ByteLength() > kMaxTransfer)
    throw Napi::RangeError::New(info.Env(), "data must be a whole number of blocks, at most 1 GiB");
  auto c = MakeCommand(
      "WRITE(16)",
      [lun, lba, blockSize](struct iscsi_context* ctx, Command* c) {
        return iscsi_write16_iov_task(ctx, lun, uint64_t(lba), nullptr, uint32_t(c->size), int(blockSize), 0, 0, 0, 0, 0,
                                      Engine::OnCommand, c, &c->iov, 1);
      },
      [](Napi::Env env, Command&) -> Napi::Value { return env.Undefined(); });
  c->size = data.ByteLength();
  c->data = static_cast<uint8_t*>(malloc(c->size));
  if (!c->data) throw Napi::RangeError::New(info.Env(), "cannot allocate the write buffer");
  memcpy(c->data, data.Data(), c->size);
  c->iov.iov_base = c->data;
  c->iov.iov_len = c->size;
  return engine_->Submit(info.Env(), std::move(c));
}

// logout(): iSCSI logout (bounded by the session timeout) once the commands in flight are
// done, then the context is freed. Calls after it reject 'closed'. Idempotent; never rejects.
Napi::Value IscsiSession::Logout(const Napi::CallbackInfo& info) {
  auto deferred = Deferred::New(info.Env());
  Napi::Promise promise = deferred.Promise();
  engine_->Close(deferred);
  return promise;
}

Napi::Value IscsiSession::IsClosed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), engine_->closed());
}

void InitIscsi(Napi::Env env, Napi::Object exports) {
  AddonData::Get(env)->iscsiSessionClass = Napi::Persistent(IscsiSession::Init(env));
  exports.Set("iscsiSetErrorClass", Napi::Function::New(env, SetErrorClass, "iscsiSetErrorClass"));
  exports.Set("iscsiDiscover", Napi::Function::New(env, Discover, "iscsiDiscover"));
  exports.Set("iscsiConnect", Napi::Function::New(env, Connect, "iscsiConnect"));
}

}  // namespace virtkit
