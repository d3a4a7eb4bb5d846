// Errors from syscalls become JS errors shaped like Node's own: code = errno name, errno, syscall.
#pragma once
#include <napi.h>
#include <string>

namespace lab {

std::string ErrnoName(int err);
Napi::Error ErrnoError(Napi::Env env, int err, const std::string& syscall);
// Throws (as a JS exception) and returns an undefined value to hand back to N-API.
Napi::Value ThrowErrno(Napi::Env env, int err, const std::string& syscall);

}  // namespace lab
