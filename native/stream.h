// virStreamPtr: the stream wrap, used for volume upload and download. Calls are blocking
// streams driven from the call pool; lib/ turns them into Node Readable / Writable streams
// and never has two calls in flight on one stream.
#pragma once
#include <napi.h>
#include <libvirt/libvirt.h>
#include "handle.h"

namespace virtkit {

class Stream;

struct StreamTraits {
  using Ptr = virStreamPtr;
  using Class = Stream;
  static constexpr const char* kName = "Stream";
  static constexpr int kInvalid = VIR_ERR_INVALID_STREAM;
  static constexpr const char* kFreed = "the stream handle has been freed";
  static const napi_type_tag kTag;
  static int Ref(Ptr p) { return virStreamRef(p); }
  static void Unref(Ptr p) { virStreamFree(p); }
  // No public virStreamGetConnect: stream calls are never gated (see CallGate()).
  static virConnectPtr Conn(Ptr) { return nullptr; }
};

class Stream : public Handle<Stream, StreamTraits> {
 public:
  static Napi::Function Init(Napi::Env env);
  static Napi::FunctionReference& Constructor(Napi::Env env);
  explicit Stream(const Napi::CallbackInfo& info) : Handle(info) {}

 private:
  Napi::Value Send(const Napi::CallbackInfo& info);
  Napi::Value Recv(const Napi::CallbackInfo& info);
  Napi::Value RecvFlags(const Napi::CallbackInfo& info);
  Napi::Value RecvHole(const Napi::CallbackInfo& info);
  Napi::Value SendHole(const Napi::CallbackInfo& info);
  Napi::Value Finish(const Napi::CallbackInfo& info);
  Napi::Value Abort(const Napi::CallbackInfo& info);
};

}  // namespace virtkit
