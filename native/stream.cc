#include "stream.h"
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>
#include "addon.h"

namespace virtkit {

const napi_type_tag StreamTraits::kTag = {0x7669727463756e6bULL, 0x53747265616d3031ULL};

namespace {
// Bytes received (in memory that becomes the JS Buffer's, uncopied), an empty chunk at a hole
// (sparse streams), or the end of the stream.
struct Chunk {
  char* data = nullptr;
  size_t size = 0;
  bool eof = false;
  explicit Chunk(size_t capacity) : data(static_cast<char*>(malloc(capacity ? capacity : 1))) {
    if (!data) throw std::bad_alloc();
  }
  Chunk(Chunk&& o) noexcept : data(std::exchange(o.data, nullptr)), size(o.size), eof(o.eof) {}
  Chunk& operator=(Chunk&&) = delete;
  ~Chunk() { free(data); }
};

Napi::Value ToJs(Napi::Env env, Chunk&& c) {
  if (c.eof) return env.Null();
  if (c.size == 0) return Napi::Buffer<char>::New(env, 0);
  // Hand the memory to the Buffer: freed by its finalizer, no copy.
  char* data = std::exchange(c.data, nullptr);
  return Napi::Buffer<char>::New(env, data, c.size, [](Napi::Env, char* p) { free(p); });
}

std::vector<char> ArgBytes(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i || !info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    throw Napi::TypeError::New(info.Env(), "data must be a Uint8Array or Buffer");
  Napi::Uint8Array bytes = info[i].As<Napi::Uint8Array>();
  return std::vector<char>(bytes.Data(), bytes.Data() + bytes.ByteLength());
}
}  // namespace

Napi::FunctionReference& Stream::Constructor(Napi::Env env) { return AddonData::Get(env)->streamClass; }

Napi::Function Stream::Init(Napi::Env env) {
  return DefineHandleClass(env, "Stream",
                           {
                               InstanceMethod<&Stream::Send>("send"),
                               InstanceMethod<&Stream::Recv>("recv"),
                               InstanceMethod<&Stream::RecvFlags>("recvFlags"),
                               InstanceMethod<&Stream::RecvHole>("recvHole"),
                               InstanceMethod<&Stream::SendHole>("sendHole"),
                               InstanceMethod<&Stream::Finish>("finish"),
                               InstanceMethod<&Stream::Abort>("abort"),
                           });
}

// https://libvirt.org/html/libvirt-libvirt-stream.html#virStreamSend
// send(data): sends all of data (looping over partial sends); resolves to the byte count.
Napi::Value Stream::Send(const Napi::CallbackInfo& info) {
  auto data = std::make_shared<std::vector<char>>(ArgBytes(info, 0));
  return Call(info, [data](virStreamPtr st) {
    size_t done = 0;
    while (done < data->size()) {
      int n = virStreamSend(st, data->data() + done, data->size() - done);
      if (n < 0) ThrowLastError();  // -2 cannot happen: the stream is blocking
      done += size_t(n);
    }
    return double(done);
  });
}

// https://libvirt.org/html/libvirt-libvirt-stream.html#virStreamRecv
// recv(max): up to max bytes, or null at the end of the stream.
Napi::Value Stream::Recv(const Napi::CallbackInfo& info) {
  unsigned int max = ArgUint(info, 0, "max");
  return Call(info, [max](virStreamPtr st) {
    Chunk c(max);
    int n = virStreamRecv(st, c.data, max);
    if (n < 0) ThrowLastError();
    c.eof = n == 0;
    c.size = size_t(n);
    return c;
  });
}

// https://libvirt.org/html/libvirt-libvirt-stream.html#virStreamRecvFlags
// recvFlags(max, flags): as recv; with VIR_STREAM_RECV_STOP_AT_HOLE it resolves to an empty
// Buffer at a hole (then call recvHole).
Napi::Value Stream::RecvFlags(const Napi::CallbackInfo& info) {
  unsigned int max = ArgUint(info, 0, "max");
  unsigned int flags = ArgFlags(info, 1);
  return Call(info, [max, flags](virStreamPtr st) {
    Chunk c(max);
    int n = virStreamRecvFlags(st, c.data, max, flags);
    if (n == -3) return c;  // a hole: nothing to read now (an empty chunk)
    if (n < 0) ThrowLastError();
    c.eof = n == 0;
    c.size = size_t(n);
    return c;
  });
}

// https://libvirt.org/html/libvirt-libvirt-stream.html#virStreamRecvHole
Napi::Value Stream::RecvHole(const Napi::CallbackInfo& info) {
  unsigned int flags = ArgFlags(info, 0);
  return Call(info, [flags](virStreamPtr st) {
    long long length = 0;
    if (virStreamRecvHole(st, &length, flags) < 0) ThrowLastError();
    return length;
  });
}

// https://libvirt.org/html/libvirt-libvirt-stream.html#virStreamSendHole
Napi::Value Stream::SendHole(const Napi::CallbackInfo& info) {
  double length = ArgNumberInRange(info, 0, "length", 0, 9007199254740991.0);
  unsigned int flags = ArgFlags(info, 1);
  return Call(info, VoidResult(virStreamSendHole, (long long)length, flags));
}

// https://libvirt.org/html/libvirt-libvirt-stream.html#virStreamFinish
Napi::Value Stream::Finish(const Napi::CallbackInfo& info) { return Call(info, VoidResult(virStreamFinish)); }

// https://libvirt.org/html/libvirt-libvirt-stream.html#virStreamAbort
Napi::Value Stream::Abort(const Napi::CallbackInfo& info) { return Call(info, VoidResult(virStreamAbort)); }

}  // namespace virtkit
