#include "typed_params.h"
#include <cstring>

namespace virtkit {

TypedParams CopyTypedParams(const virTypedParameter* params, int n) {
  TypedParams out;
  if (!params || n <= 0) return out;
  out.fields.reserve(n);
  for (int i = 0; i < n; i++) {
    const virTypedParameter& p = params[i];
    std::string field(p.field, strnlen(p.field, VIR_TYPED_PARAM_FIELD_LENGTH));
    TypedParams::Value v;
    switch (p.type) {
      case VIR_TYPED_PARAM_INT: v = double(p.value.i); break;
      case VIR_TYPED_PARAM_UINT: v = double(p.value.ui); break;
      case VIR_TYPED_PARAM_LLONG: v = double(p.value.l); break;
      case VIR_TYPED_PARAM_ULLONG: v = double(p.value.ul); break;
      case VIR_TYPED_PARAM_DOUBLE: v = p.value.d; break;
      case VIR_TYPED_PARAM_BOOLEAN: v = p.value.b != 0; break;
      case VIR_TYPED_PARAM_STRING: v = std::string(p.value.s ? p.value.s : ""); break;
      default: continue;  // a type newer than this build: left out rather than guessed
    }
    out.fields.emplace_back(std::move(field), std::move(v));
  }
  return out;
}

TypedParams TakeTypedParams(virTypedParameterPtr params, int n) {
  if (n < 0) ThrowLastError();
  TypedParams out = CopyTypedParams(params, n);
  virTypedParamsFree(params, n);  // we own params: its strings and the array go here
  return out;
}

Napi::Object TypedParamsToObject(Napi::Env env, const TypedParams& p) {
  Napi::Object o = Napi::Object::New(env);
  for (const auto& [field, value] : p.fields) {
    if (const double* d = std::get_if<double>(&value)) o.Set(field, Napi::Number::New(env, *d));
    else if (const bool* b = std::get_if<bool>(&value)) o.Set(field, Napi::Boolean::New(env, *b));
    else o.Set(field, Napi::String::New(env, std::get<std::string>(value)));
  }
  return o;
}

}  // namespace virtkit
