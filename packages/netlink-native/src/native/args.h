// Argument checks for every exported function. A wrong type throws a TypeError, a value outside
// its range a RangeError, each naming the argument (`fd: expected an integer`), so a caller's bug
// ends as a JS exception and never as an abort or a read out of bounds. Each check returns false
// after throwing; the caller then returns at once (C++ exceptions are off in this addon).
#pragma once
#include <napi.h>

#include <cstdint>
#include <string>

namespace lab {

// Throws unless the call has at most `max` arguments (extra arguments are a caller's mistake).
bool ArgCountAtMost(const Napi::CallbackInfo& info, size_t max, const char* function);

// An integer (a Number with no fraction) in [min, max].
bool IntArg(const Napi::CallbackInfo& info, size_t index, const char* name, int64_t min, int64_t max, int64_t* out);
// The same; an absent or undefined argument gives `fallback`.
bool OptionalIntArg(const Napi::CallbackInfo& info, size_t index, const char* name, int64_t min, int64_t max,
                    int64_t fallback, int64_t* out);

// A file descriptor: an integer in [0, INT32_MAX].
bool FdArg(const Napi::CallbackInfo& info, size_t index, const char* name, int* out);
// A non-negative 32-bit quantity: sizes, offsets, counts, flags.
bool U32Arg(const Napi::CallbackInfo& info, size_t index, const char* name, uint32_t* out);
bool OptionalU32Arg(const Napi::CallbackInfo& info, size_t index, const char* name, uint32_t fallback, uint32_t* out);
// Any C int: setsockopt values may be negative.
bool I32Arg(const Napi::CallbackInfo& info, size_t index, const char* name, int32_t* out);

bool BoolArg(const Napi::CallbackInfo& info, size_t index, const char* name, bool* out);
// A string without NUL bytes (it goes to the kernel as a C string).
bool StringArg(const Napi::CallbackInfo& info, size_t index, const char* name, std::string* out);
// A string, or null/undefined for "" (the namespace arguments: "" = the process's own).
bool OptionalStringArg(const Napi::CallbackInfo& info, size_t index, const char* name, std::string* out);

// A Buffer (or any Uint8Array); the data stays owned by JS and valid for this call only.
bool BufferArg(const Napi::CallbackInfo& info, size_t index, const char* name, uint8_t** data, size_t* length);
// A Buffer, or null/undefined for none (data = nullptr, length = 0).
bool OptionalBufferArg(const Napi::CallbackInfo& info, size_t index, const char* name, uint8_t** data, size_t* length);

bool FunctionArg(const Napi::CallbackInfo& info, size_t index, const char* name, Napi::Function* out);
bool ArrayArg(const Napi::CallbackInfo& info, size_t index, const char* name, Napi::Array* out);

// For checks that depend on several arguments (an offset plus a length past a buffer's end).
void ThrowRange(Napi::Env env, const std::string& message);
void ThrowType(Napi::Env env, const std::string& message);

}  // namespace lab
