// The native layer of @lab/netlink-native: syscalls, namespaces and event-loop integration only.
// Protocol encoding lives in TypeScript.
#include <napi.h>

namespace lab {
void InitNetns(Napi::Env env, Napi::Object exports);
void InitFdIo(Napi::Env env, Napi::Object exports);
void InitSpliceIo(Napi::Env env, Napi::Object exports);
void InitSocketIo(Napi::Env env, Napi::Object exports);
void InitMmsgIo(Napi::Env env, Napi::Object exports);
void InitPoller(Napi::Env env, Napi::Object exports);
void InitProcess(Napi::Env env, Napi::Object exports);
}  // namespace lab

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  lab::InitNetns(env, exports);
  lab::InitFdIo(env, exports);
  lab::InitSpliceIo(env, exports);
  lab::InitSocketIo(env, exports);
  lab::InitMmsgIo(env, exports);
  lab::InitPoller(env, exports);
  lab::InitProcess(env, exports);
  return exports;
}

NODE_API_MODULE(lab_netlink_native, Init)
