// Errors: libvirt's thread-local error copied on the failing thread, turned into a real
// LibvirtError (the class handed over by lib/errors.ts) on the main thread.
#pragma once
#include <napi.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <exception>
#include <optional>
#include <string>

namespace virtkit {

// A plain C++ copy of a virError: safe to move between threads.
struct Failure {
  int code = VIR_ERR_INTERNAL_ERROR;
  int domain = VIR_FROM_NONE;
  int level = VIR_ERR_ERROR;
  std::string message;
  std::optional<std::string> str1, str2, str3;
  int int1 = 0, int2 = 0;

  // Copies (and clears) the calling thread's last libvirt error. Call it on the thread
  // whose libvirt call just failed.
  static Failure FromLastError();
  // An error raised by virtkit itself, shaped like libvirt's.
  static Failure Local(int code, std::string message);
};

// Thrown inside a worker's lambda; caught by the worker on the same thread.
class CallFailed : public std::exception {
 public:
  explicit CallFailed(Failure f) : failure(std::move(f)) {}
  const char* what() const noexcept override { return failure.message.c_str(); }
  Failure failure;
};

// Throws CallFailed with the calling thread's last libvirt error.
[[noreturn]] void ThrowLastError();

// Builds a LibvirtError instance (or a plain Error before the class is registered).
Napi::Value MakeError(Napi::Env env, const Failure& f);

// Throws f as a JS exception (for the few synchronous native methods).
[[noreturn]] void ThrowJs(Napi::Env env, const Failure& f);

// A promise already rejected with f: for checks that need no thread hop.
Napi::Promise RejectedPromise(Napi::Env env, const Failure& f);

// Silences libvirt's default printing of errors to stderr (process-wide).
void InstallSilentErrorHandler();

}  // namespace virtkit
