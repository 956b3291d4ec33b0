// Conversions between plain C++ values and JS. ToJs overloads turn worker results into JS
// values on the main thread; the Arg* helpers read already-checked arguments (lib/ checks
// types and throws TypeError before native code runs; these checks are the last guard).
#pragma once
#include <napi.h>
#include <libvirt/libvirt.h>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace virtkit {

inline Napi::Value ToJs(Napi::Env env, std::monostate) { return env.Undefined(); }
inline Napi::Value ToJs(Napi::Env env, bool v) { return Napi::Boolean::New(env, v); }
inline Napi::Value ToJs(Napi::Env env, int v) { return Napi::Number::New(env, v); }
inline Napi::Value ToJs(Napi::Env env, double v) { return Napi::Number::New(env, v); }
inline Napi::Value ToJs(Napi::Env env, unsigned int v) { return Napi::Number::New(env, v); }
inline Napi::Value ToJs(Napi::Env env, long v) { return Napi::Number::New(env, double(v)); }
inline Napi::Value ToJs(Napi::Env env, unsigned long v) { return Napi::Number::New(env, double(v)); }
inline Napi::Value ToJs(Napi::Env env, long long v) { return Napi::Number::New(env, double(v)); }
// 64-bit sizes (bytes, nanoseconds) become Numbers: exact below 2^53 (8 PiB, 104 days of ns).
inline Napi::Value ToJs(Napi::Env env, unsigned long long v) { return Napi::Number::New(env, double(v)); }
inline Napi::Value ToJs(Napi::Env env, const std::string& v) { return Napi::String::New(env, v); }
template <typename T>
Napi::Value ToJs(Napi::Env env, std::optional<T>&& v) {
  if (!v) return env.Null();
  return ToJs(env, std::move(*v));
}
template <typename T>
Napi::Value ToJs(Napi::Env env, std::vector<T>&& v) {
  Napi::Array a = Napi::Array::New(env, v.size());
  for (size_t i = 0; i < v.size(); i++) a.Set(uint32_t(i), ToJs(env, std::move(v[i])));
  return a;
}

// A string argument kept in memory that is wiped when it goes (passwords). Read straight
// from the JS string into its own buffer, so no unwiped copy is left behind in native memory.
class SecretString {
 public:
  explicit SecretString(size_t length) : buf_(length + 1, '\0') {}
  ~SecretString();
  SecretString(const SecretString&) = delete;
  SecretString& operator=(const SecretString&) = delete;
  char* data() { return buf_.data(); }
  const char* c_str() const { return buf_.data(); }
  size_t size() const { return buf_.size() - 1; }

 private:
  std::vector<char> buf_;
};

// Takes ownership of a malloc'd string from libvirt; throws the last error when null.
std::string TakeString(char* s);

// Argument readers. They throw a JS TypeError when lib/ let a wrong type through.
std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* name);
std::optional<std::string> ArgOptString(const Napi::CallbackInfo& info, size_t i, const char* name);
// null/undefined → nullptr.
std::unique_ptr<SecretString> ArgOptSecret(const Napi::CallbackInfo& info, size_t i, const char* name);
unsigned int ArgFlags(const Napi::CallbackInfo& info, size_t i);
// A whole number in [lo, hi] (hi at most 2^53 - 1: exact in a double).
double ArgNumberInRange(const Napi::CallbackInfo& info, size_t i, const char* name, double lo, double hi);
int ArgInt(const Napi::CallbackInfo& info, size_t i, const char* name);
unsigned int ArgUint(const Napi::CallbackInfo& info, size_t i, const char* name);

}  // namespace virtkit
