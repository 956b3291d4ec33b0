// virTypedParameter arrays as plain C++ values, then JS objects. Generic: any call (and any
// event callback) that hands back typed parameters copies them with TakeTypedParams on the
// thread that got them (the array is freed there with virTypedParamsFree) and returns the
// copy; ToJs turns it into `{ field: value }` on the main thread. Integers of every width
// become Numbers (64-bit ones are exact below 2^53), booleans Booleans, strings Strings.
#pragma once
#include <napi.h>
#include <libvirt/libvirt.h>
#include <string>
#include <utility>
#include <variant>
#include <vector>
#include "handle.h"

namespace virtkit {

struct TypedParams {
  using Value = std::variant<double, bool, std::string>;
  std::vector<std::pair<std::string, Value>> fields;
};

// Copies n parameters and frees the array (virTypedParamsFree: the strings and the array).
// The caller owns params; after this call it is gone. n < 0 throws the last error.
TypedParams TakeTypedParams(virTypedParameterPtr params, int n);

// Copies n parameters without freeing anything (for arrays libvirt keeps or frees itself,
// such as the records of virDomainStatsRecord or the parameters of an event callback).
TypedParams CopyTypedParams(const virTypedParameter* params, int n);

// For the "ask for the count, then fill a caller-allocated array" getters
// (virDomainGetMemoryParameters and friends): get(params, &n) with params == nullptr and
// n == 0 sets n; the second call fills an array of that size. The strings in the filled
// array are freed with virTypedParamsClear.
template <typename Get>
TypedParams FillTypedParams(Get get) {
  int n = 0;
  if (get(nullptr, &n) < 0) ThrowLastError();
  if (n <= 0) return {};
  std::vector<virTypedParameter> params(n);
  if (get(params.data(), &n) < 0) ThrowLastError();
  TypedParams out = CopyTypedParams(params.data(), n);
  virTypedParamsClear(params.data(), n);
  return out;
}

Napi::Object TypedParamsToObject(Napi::Env env, const TypedParams& p);
inline Napi::Value ToJs(Napi::Env env, TypedParams&& p) { return TypedParamsToObject(env, p); }

}  // namespace virtkit
