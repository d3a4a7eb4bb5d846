// What a Node process needs to be PID 1 of a small VM: mount(2), and reaping orphans that the
// kernel re-parents to it, without stealing the exit status of children libuv is waiting for.
#include <sys/mount.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstdint>
#include <set>
#include <string>

#include "args.h"
#include "errno_error.h"

namespace lab {
namespace {

// mount(source, target, fstype, flags, data?)
Napi::Value Mount(const Napi::CallbackInfo& info) {
  std::string source, target, fstype, data;
  int64_t flags;
  if (!ArgCountAtMost(info, 5, "mount") || !StringArg(info, 0, "source", &source) || !StringArg(info, 1, "target", &target) ||
      !StringArg(info, 2, "fstype", &fstype) || !IntArg(info, 3, "flags", 0, UINT32_MAX, &flags) ||
      (info.Length() > 4 && !info[4].IsUndefined() && !StringArg(info, 4, "data", &data))) {
    return info.Env().Undefined();
  }
  if (mount(source.c_str(), target.c_str(), fstype.c_str(), static_cast<unsigned long>(flags), data.empty() ? nullptr : data.c_str()) != 0) {
    return ThrowErrno(info.Env(), errno, "mount " + fstype + " on " + target);
  }
  return info.Env().Undefined();
}

// reapOrphans(keepPids: number[]) -> number of children reaped. Peeks with WNOWAIT first so a
// child that libuv spawned (listed in keepPids) is left for libuv to collect.
Napi::Value ReapOrphans(const Napi::CallbackInfo& info) {
  Napi::Array pids;
  if (!ArgCountAtMost(info, 1, "reapOrphans") || !ArrayArg(info, 0, "keepPids", &pids)) return info.Env().Undefined();
  std::set<pid_t> keep;
  for (uint32_t i = 0; i < pids.Length(); i++) {
    Napi::Value pid = pids.Get(i);
    if (!pid.IsNumber()) {
      ThrowType(info.Env(), "keepPids: expected an array of pids, item " + std::to_string(i) + " is not a number");
      return info.Env().Undefined();
    }
    keep.insert(pid.As<Napi::Number>().Int32Value());
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
