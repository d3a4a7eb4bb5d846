#include "args.h"

#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>

namespace lab {

void ThrowRange(Napi::Env env, const std::string& message) {
  Napi::RangeError::New(env, message).ThrowAsJavaScriptException();
}

void ThrowType(Napi::Env env, const std::string& message) {
  Napi::TypeError::New(env, message).ThrowAsJavaScriptException();
}

namespace {

bool Absent(const Napi::CallbackInfo& info, size_t index) {
  return info.Length() <= index || info[index].IsUndefined();
}

bool Type(const Napi::CallbackInfo& info, const char* name, const char* what) {
  ThrowType(info.Env(), std::string(name) + ": expected " + what);
  return false;
}

}  // namespace

bool ArgCountAtMost(const Napi::CallbackInfo& info, size_t max, const char* function) {
  if (info.Length() <= max) return true;
  ThrowType(info.Env(), std::string(function) + ": expected at most " + std::to_string(max) +
                            (max == 1 ? " argument, got " : " arguments, got ") + std::to_string(info.Length()));
  return false;
}

bool IntArg(const Napi::CallbackInfo& info, size_t index, const char* name, int64_t min, int64_t max, int64_t* out) {
  if (info.Length() <= index || !info[index].IsNumber()) return Type(info, name, "an integer");
  double v = info[index].As<Napi::Number>().DoubleValue();
  if (std::isnan(v) || std::trunc(v) != v) return Type(info, name, "an integer");
  // Compared as doubles first: casting a huge double to int64_t is undefined behaviour.
  if (v < static_cast<double>(min) || v > static_cast<double>(max)) {
    char text[32];
    snprintf(text, sizeof(text), "%.17g", v);
    ThrowRange(info.Env(), std::string(name) + ": " + text + " is out of range " + std::to_string(min) + ".." +
                               std::to_string(max));
    return false;
  }
  *out = static_cast<int64_t>(v);
  return true;
}

bool OptionalIntArg(const Napi::CallbackInfo& info, size_t index, const char* name, int64_t min, int64_t max,
                    int64_t fallback, int64_t* out) {
  if (Absent(info, index)) { *out = fallback; return true; }
  return IntArg(info, index, name, min, max, out);
}

bool FdArg(const Napi::CallbackInfo& info, size_t index, const char* name, int* out) {
  int64_t v;
  if (!IntArg(info, index, name, 0, INT32_MAX, &v)) return false;
  *out = static_cast<int>(v);
  return true;
}

bool U32Arg(const Napi::CallbackInfo& info, size_t index, const char* name, uint32_t* out) {
  int64_t v;
  if (!IntArg(info, index, name, 0, UINT32_MAX, &v)) return false;
  *out = static_cast<uint32_t>(v);
  return true;
}

bool OptionalU32Arg(const Napi::CallbackInfo& info, size_t index, const char* name, uint32_t fallback, uint32_t* out) {
  if (Absent(info, index)) { *out = fallback; return true; }
  return U32Arg(info, index, name, out);
}

bool I32Arg(const Napi::CallbackInfo& info, size_t index, const char* name, int32_t* out) {
  int64_t v;
  if (!IntArg(info, index, name, INT32_MIN, INT32_MAX, &v)) return false;
  *out = static_cast<int32_t>(v);
  return true;
}

bool BoolArg(const Napi::CallbackInfo& info, size_t index, const char* name, bool* out) {
  if (info.Length() <= index || !info[index].IsBoolean()) return Type(info, name, "a boolean");
  *out = info[index].As<Napi::Boolean>().Value();
  return true;
}

bool StringArg(const Napi::CallbackInfo& info, size_t index, const char* name, std::string* out) {
  if (info.Length() <= index || !info[index].IsString()) return Type(info, name, "a string");
  *out = info[index].As<Napi::String>().Utf8Value();
  if (out->find('\0') != std::string::npos) return Type(info, name, "a string without NUL bytes");
  return true;
}

bool OptionalStringArg(const Napi::CallbackInfo& info, size_t index, const char* name, std::string* out) {
  if (Absent(info, index) || info[index].IsNull()) { out->clear(); return true; }
  if (!info[index].IsString()) return Type(info, name, "a string or null");
  return StringArg(info, index, name, out);
}

bool BufferArg(const Napi::CallbackInfo& info, size_t index, const char* name, uint8_t** data, size_t* length) {
  if (info.Length() <= index || !info[index].IsTypedArray() ||
      info[index].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    return Type(info, name, "a Buffer");
  }
  auto array = info[index].As<Napi::Uint8Array>();
  *data = array.Data();
  *length = array.ByteLength();
  return true;
}

bool OptionalBufferArg(const Napi::CallbackInfo& info, size_t index, const char* name, uint8_t** data, size_t* length) {
  if (Absent(info, index) || info[index].IsNull()) { *data = nullptr; *length = 0; return true; }
  if (!info[index].IsTypedArray()) return Type(info, name, "a Buffer or null");
  return BufferArg(info, index, name, data, length);
}

bool FunctionArg(const Napi::CallbackInfo& info, size_t index, const char* name, Napi::Function* out) {
  if (info.Length() <= index || !info[index].IsFunction()) return Type(info, name, "a function");
  *out = info[index].As<Napi::Function>();
  return true;
}

bool ArrayArg(const Napi::CallbackInfo& info, size_t index, const char* name, Napi::Array* out) {
  if (info.Length() <= index || !info[index].IsArray()) return Type(info, name, "an array");
  *out = info[index].As<Napi::Array>();
  return true;
}

}  // namespace lab
