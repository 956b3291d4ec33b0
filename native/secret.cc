#include "secret.h"
#include <string.h>
#include "addon.h"

namespace virtkit {

const napi_type_tag SecretTraits::kTag = {0x7669727463756e6bULL, 0x5365637265743031ULL};

namespace {
// A secret value on its way to JS: wiped here once copied into the caller's Buffer.
struct SecretBytes {
  unsigned char* data = nullptr;
  size_t size = 0;
  SecretBytes() = default;
  SecretBytes(SecretBytes&& o) noexcept : data(std::exchange(o.data, nullptr)), size(std::exchange(o.size, 0)) {}
  SecretBytes& operator=(SecretBytes&&) = delete;
  ~SecretBytes() {
    if (data) {
      explicit_bzero(data, size);
      free(data);
    }
  }
};

Napi::Value ToJs(Napi::Env env, SecretBytes&& v) { return Napi::Buffer<unsigned char>::Copy(env, v.data, v.size); }
}  // namespace

Napi::FunctionReference& Secret::Constructor(Napi::Env env) { return AddonData::Get(env)->secretClass; }

Napi::Function Secret::Init(Napi::Env env) {
  return DefineHandleClass(env, "Secret",
                           {
                               InstanceMethod<&Secret::GetUUIDString>("getUUIDString"),
                               InstanceMethod<&Secret::GetUsageType>("getUsageType"),
                               InstanceMethod<&Secret::GetUsageID>("getUsageID"),
                               InstanceMethod<&Secret::GetXMLDesc>("getXMLDesc"),
                               InstanceMethod<&Secret::SetValue>("setValue"),
                               InstanceMethod<&Secret::GetValue>("getValue"),
                               InstanceMethod<&Secret::Undefine>("undefine"),
                           });
}

// https://libvirt.org/html/libvirt-libvirt-secret.html#virSecretGetUUIDString (local)
Napi::Value Secret::GetUUIDString(const Napi::CallbackInfo& info) { return LocalUUID<virSecretGetUUIDString>(info); }

// https://libvirt.org/html/libvirt-libvirt-secret.html#virSecretGetUsageType (local)
Napi::Value Secret::GetUsageType(const Napi::CallbackInfo& info) {
  return Local(info, [](Napi::Env env, virSecretPtr s) -> Napi::Value {
    int type = virSecretGetUsageType(s);
    if (type < 0) ThrowJs(env, Failure::FromLastError());
    return Napi::Number::New(env, type);
  });
}

// https://libvirt.org/html/libvirt-libvirt-secret.html#virSecretGetUsageID (local)
Napi::Value Secret::GetUsageID(const Napi::CallbackInfo& info) { return LocalString<virSecretGetUsageID>(info); }

// https://libvirt.org/html/libvirt-libvirt-secret.html#virSecretGetXMLDesc
Napi::Value Secret::GetXMLDesc(const Napi::CallbackInfo& info) {
  unsigned int flags = ArgFlags(info, 0);
  return Call(info, [flags](virSecretPtr s) { return TakeString(virSecretGetXMLDesc(s, flags)); });
}

// https://libvirt.org/html/libvirt-libvirt-secret.html#virSecretSetValue
// setValue(value: Uint8Array, flags): the bytes are copied into a buffer that is wiped
// after the call, on the pool thread.
Napi::Value Secret::SetValue(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsTypedArray() ||
      info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    throw Napi::TypeError::New(info.Env(), "value must be a Uint8Array or Buffer");
  Napi::Uint8Array bytes = info[0].As<Napi::Uint8Array>();
  auto value = std::make_shared<SecretString>(bytes.ByteLength());
  if (bytes.ByteLength()) memcpy(value->data(), bytes.Data(), bytes.ByteLength());
  unsigned int flags = ArgFlags(info, 1);
  return Call(info, [value, flags](virSecretPtr s) {
    if (virSecretSetValue(s, reinterpret_cast<const unsigned char*>(value->c_str()), value->size(), flags) < 0)
      ThrowLastError();
  });
}

// https://libvirt.org/html/libvirt-libvirt-secret.html#virSecretGetValue
Napi::Value Secret::GetValue(const Napi::CallbackInfo& info) {
  unsigned int flags = ArgFlags(info, 0);
  return Call(info, [flags](virSecretPtr s) {
    SecretBytes v;
    v.data = virSecretGetValue(s, &v.size, flags);
    if (!v.data) ThrowLastError();
    return v;
  });
}

// https://libvirt.org/html/libvirt-libvirt-secret.html#virSecretUndefine
Napi::Value Secret::Undefine(const Napi::CallbackInfo& info) {
  return Call(info, [](virSecretPtr s) {
    if (virSecretUndefine(s) < 0) ThrowLastError();
  });
}

}  // namespace virtkit
