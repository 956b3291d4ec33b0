#include "convert.h"
#include <cmath>
#include <cstring>
#include <string.h>
#include "errors.h"

namespace virtkit {

std::string TakeString(char* s) {
  if (!s) ThrowLastError();
  std::string out(s);
  free(s);
  return out;
}

static Napi::Value Arg(const Napi::CallbackInfo& info, size_t i) {
  return i < info.Length() ? info[i] : info.Env().Undefined();
}

[[noreturn]] static void TypeError(Napi::Env env, const char* name, const char* want) {
  throw Napi::TypeError::New(env, std::string(name) + " must be " + want);
}

std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value v = Arg(info, i);
  if (!v.IsString()) TypeError(info.Env(), name, "a string");
  std::string s = v.As<Napi::String>().Utf8Value();
  if (s.find('\0') != std::string::npos) TypeError(info.Env(), name, "a string without NUL characters");
  return s;
}

std::optional<std::string> ArgOptString(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value v = Arg(info, i);
  if (v.IsUndefined() || v.IsNull()) return std::nullopt;
  return ArgString(info, i, name);
}

SecretString::~SecretString() { explicit_bzero(buf_.data(), buf_.size()); }

std::unique_ptr<SecretString> ArgOptSecret(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value v = Arg(info, i);
  if (v.IsUndefined() || v.IsNull()) return nullptr;
  if (!v.IsString()) TypeError(info.Env(), name, "a string");
  size_t length = 0;
  NAPI_THROW_IF_FAILED(info.Env(), napi_get_value_string_utf8(info.Env(), v, nullptr, 0, &length), nullptr);
  auto secret = std::make_unique<SecretString>(length);
  NAPI_THROW_IF_FAILED(info.Env(),
                       napi_get_value_string_utf8(info.Env(), v, secret->data(), length + 1, &length), nullptr);
  if (memchr(secret->c_str(), '\0', length)) TypeError(info.Env(), name, "a string without NUL characters");
  return secret;  // wiped by its destructor on every path, the throw above included
}

static double ArgNumber(const Napi::CallbackInfo& info, size_t i, const char* name, double lo, double hi) {
  Napi::Value v = Arg(info, i);
  if (!v.IsNumber()) TypeError(info.Env(), name, "a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || std::floor(d) != d || d < lo || d > hi)
    throw Napi::RangeError::New(info.Env(), std::string(name) + " is out of range");
  return d;
}

double ArgNumberInRange(const Napi::CallbackInfo& info, size_t i, const char* name, double lo, double hi) {
  return ArgNumber(info, i, name, lo, hi);
}

unsigned int ArgFlags(const Napi::CallbackInfo& info, size_t i) {
  if (Arg(info, i).IsUndefined()) return 0;
  return unsigned(ArgNumber(info, i, "flags", 0, 4294967295.0));
}

int ArgInt(const Napi::CallbackInfo& info, size_t i, const char* name) {
  return int(ArgNumber(info, i, name, -2147483648.0, 2147483647.0));
}

unsigned int ArgUint(const Napi::CallbackInfo& info, size_t i, const char* name) {
  return unsigned(ArgNumber(info, i, name, 0, 4294967295.0));
}

}  // namespace virtkit
