// What a Node process needs to be PID 1 of a small VM: mount(2), and reaping orphans that the
// kernel re-parents to it, without stealing the exit status of children libuv is waiting for.
#include <sys/mount.h>
#include <sys/wait.h>

#include <cerrno>
#include <set>
#include <string>

#include "errno_error.h"

namespace lab {
namespace {

// mount(source, target, fstype, flags, data?)
Napi::Value Mount(const Napi::CallbackInfo& info) {
  std::string source = info[0].As<Napi::String>();
  std::string target = info[1].As<Napi::String>();
  std::string fstype = info[2].As<Napi::String>();
  unsigned long flags = static_cast<unsigned long>(info[3].As<Napi::Number>().Int64Value());
  std::string data = info.Length() > 4 && info[4].IsString() ? info[4].As<Napi::String>().Utf8Value() : "";
  if (mount(source.c_str(), target.c_str(), fstype.c_str(), flags, data.empty() ? nullptr : data.c_str()) != 0) {
    return ThrowErrno(info.Env(), errno, "mount " + fstype + " on " + target);
  }
  return info.Env().Undefined();
}

// reapOrphans(keepPids: number[]) -> number of children reaped. Peeks with WNOWAIT first so a
// child that libuv spawned (listed in keepPids) is left for libuv to collect.
Napi::Value ReapOrphans(const Napi::CallbackInfo& info) {
  std::set<pid_t> keep;
  if (info.Length() > 0 && info[0].IsArray()) {
    Napi::Array pids = info[0].As<Napi::Array>();
    for (uint32_t i = 0; i < pids.Length(); i++) keep.insert(pids.Get(i).As<Napi::Number>().Int32Value());
  }
  int reaped = 0;
  for (;;) {
    siginfo_t si{};
    if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) != 0 || si.si_pid == 0) break;
    if (keep.count(si.si_pid)) break;
    if (waitpid(si.si_pid, nullptr, WNOHANG) > 0) reaped++;
    else break;
  }
  return Napi::Number::New(info.Env(), reaped);
}

}  // namespace

void InitProcess(Napi::Env env, Napi::Object exports) {
  exports.Set("mount", Napi::Function::New(env, Mount));
  exports.Set("reapOrphans", Napi::Function::New(env, ReapOrphans));
}

}  // namespace lab
