// Named network namespaces the way iproute2 keeps them (a bind mount under /run/netns), creation
// of fds (sockets, device files) inside a namespace, and running a JS function (a spawn) with the
// main thread inside a namespace.
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <string>

#include "args.h"
#include "errno_error.h"
#include "netns_thread.h"

namespace lab {
namespace {

// iproute2 makes the run directory a shared mount so that namespaces mounted later propagate to
// mount namespaces created by `ip netns exec`; do the same so both tools see each other's work.
int EnsureSharedRunDir(const std::string& dir, std::string* step) {
  // Once per process and directory: remounting on every create costs more than the create itself.
  // Only the asynchronous worker runs this, so the static needs no lock.
  static std::string readyDir;
  if (readyDir == dir && access(dir.c_str(), F_OK) == 0) return 0;
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) { *step = "mkdir " + dir; return errno; }
  bool boundOnItself = false;
  while (mount("", dir.c_str(), "none", MS_SHARED | MS_REC, nullptr) != 0) {
    if (errno != EINVAL || boundOnItself) { *step = "mount --make-shared " + dir; return errno; }
    if (mount(dir.c_str(), dir.c_str(), "none", MS_BIND | MS_REC, nullptr) != 0) {
      *step = "mount --bind " + dir; return errno;
    }
    boundOnItself = true;
  }
  readyDir = dir;
  return 0;
}

// createNetns(runDir, name) -> Promise<path>. Everything, including the file under runDir, is done
// on the worker: the main thread only queues the job.
Napi::Value CreateNetns(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string dir, name;
  if (!ArgCountAtMost(info, 2, "createNetns") || !StringArg(info, 0, "runDir", &dir) ||
      !StringArg(info, 1, "name", &name)) {
    return env.Undefined();
  }
  if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") {
    ThrowRange(env, "name: not a namespace name: \"" + name + "\"");
    return env.Undefined();
  }
  std::string path = dir + "/" + name;
  NetnsWork work = [dir, path](std::string* step) {
    int err = EnsureSharedRunDir(dir, step);
    if (err) return err;
    int fd = open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
    if (fd < 0) { *step = "create " + path; return errno; }
    close(fd);
    err = 0;
    if (unshare(CLONE_NEWNET) != 0) {
      *step = "unshare CLONE_NEWNET";
      err = errno;
    } else if (mount("/proc/thread-self/ns/net", path.c_str(), "none", MS_BIND, nullptr) != 0) {
      *step = "mount --bind " + path;
      err = errno;
    }
    if (err) unlink(path.c_str());
    return err;
  };
  return RunNetnsAsync(env, std::move(work), [path](Napi::Env env) { return Napi::String::New(env, path); });
}

// deleteNetns(path) -> Promise<void>
Napi::Value DeleteNetns(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path;
  if (!ArgCountAtMost(info, 1, "deleteNetns") || !StringArg(info, 0, "path", &path)) return env.Undefined();
  NetnsWork work = [path](std::string* step) {
    // EINVAL: not a mount point (half-made namespace); the file still has to go.
    if (umount2(path.c_str(), MNT_DETACH) != 0 && errno != EINVAL) {
      *step = (errno == ENOENT ? "delete " : "umount ") + path;
      return errno;
    }
    if (unlink(path.c_str()) != 0) { *step = "unlink " + path; return errno; }
    return 0;
  };
  return RunNetnsAsync(env, std::move(work), [](Napi::Env env) { return env.Undefined(); });
}

struct SocketArgs {
  std::string ns;
  uint32_t domain, type, protocol;
};

bool ParseSocketArgs(const Napi::CallbackInfo& info, const char* function, SocketArgs* a) {
  return ArgCountAtMost(info, 4, function) && OptionalStringArg(info, 0, "netnsPath", &a->ns) &&
         U32Arg(info, 1, "domain", &a->domain) && U32Arg(info, 2, "type", &a->type) &&
         U32Arg(info, 3, "protocol", &a->protocol);
}

NetnsWork SocketWork(const SocketArgs& a, std::shared_ptr<int> fd) {
  return InNetns(a.ns, [a, fd](std::string* step) {
    *fd = socket(static_cast<int>(a.domain), static_cast<int>(a.type) | SOCK_CLOEXEC, static_cast<int>(a.protocol));
    if (*fd < 0) { *step = "socket"; return errno; }
    return 0;
  });
}

struct OpenArgs {
  std::string ns, path;
  uint32_t flags;
};

bool ParseOpenArgs(const Napi::CallbackInfo& info, const char* function, OpenArgs* a) {
  return ArgCountAtMost(info, 3, function) && OptionalStringArg(info, 0, "netnsPath", &a->ns) &&
         StringArg(info, 1, "path", &a->path) && U32Arg(info, 2, "flags", &a->flags);
}

NetnsWork OpenWork(const OpenArgs& a, std::shared_ptr<int> fd) {
  return InNetns(a.ns, [a, fd](std::string* step) {
    *fd = open(a.path.c_str(), static_cast<int>(a.flags) | O_CLOEXEC);
    if (*fd < 0) { *step = "open " + a.path; return errno; }
    return 0;
  });
}

// Closes an fd that was made but will not be handed to JS.
std::function<void()> CloseIfOpen(std::shared_ptr<int> fd) {
  return [fd] {
    if (*fd >= 0) close(*fd);
    *fd = -1;
  };
}

Napi::Value FdResult(Napi::Env env, int err, const std::string& step, const std::shared_ptr<int>& fd) {
  if (err) {
    CloseIfOpen(fd)();
    return ThrowErrno(env, err, step);
  }
  return Napi::Number::New(env, *fd);
}

// socketAt(netnsPath | null, domain, type, protocol) -> fd. Blocks for one setns + socket().
Napi::Value SocketAt(const Napi::CallbackInfo& info) {
  SocketArgs a;
  if (!ParseSocketArgs(info, "socketAt", &a)) return info.Env().Undefined();
  auto fd = std::make_shared<int>(-1);
  std::string step;
  // Our own namespace needs no worker: the calling thread is in it.
  int err = a.ns.empty() ? SocketWork(a, fd)(&step) : RunNetnsSync(SocketWork(a, fd), &step);
  return FdResult(info.Env(), err, step, fd);
}

// socketAtAsync(netnsPath | null, domain, type, protocol) -> Promise<fd>
Napi::Value SocketAtAsync(const Napi::CallbackInfo& info) {
  SocketArgs a;
  if (!ParseSocketArgs(info, "socketAtAsync", &a)) return info.Env().Undefined();
  auto fd = std::make_shared<int>(-1);
  return RunNetnsAsync(info.Env(), SocketWork(a, fd), [fd](Napi::Env env) { return Napi::Number::New(env, *fd); },
                       CloseIfOpen(fd));
}

// openAt(netnsPath | null, path, flags) -> fd; for /dev/net/tun and /proc/sys inside a namespace.
Napi::Value OpenAt(const Napi::CallbackInfo& info) {
  OpenArgs a;
  if (!ParseOpenArgs(info, "openAt", &a)) return info.Env().Undefined();
  auto fd = std::make_shared<int>(-1);
  std::string step;
  int err = a.ns.empty() ? OpenWork(a, fd)(&step) : RunNetnsSync(OpenWork(a, fd), &step);
  return FdResult(info.Env(), err, step, fd);
}

// openAtAsync(netnsPath | null, path, flags) -> Promise<fd>
Napi::Value OpenAtAsync(const Napi::CallbackInfo& info) {
  OpenArgs a;
  if (!ParseOpenArgs(info, "openAtAsync", &a)) return info.Env().Undefined();
  auto fd = std::make_shared<int>(-1);
  return RunNetnsAsync(info.Env(), OpenWork(a, fd), [fd](Napi::Env env) { return Napi::Number::New(env, *fd); },
                       CloseIfOpen(fd));
}

// callInNetns(netnsPath, fn) -> fn's result. Calls fn synchronously with the *main thread* inside
// the namespace, then puts the thread back, also when fn throws. For child_process.spawn: a forked
// child starts in the namespace of the thread that forked it. fn must do nothing else that makes
// sockets: they would belong to that namespace. setns(CLONE_NEWNET) is per thread, so the other
// threads of the process (libuv's pool, the netns workers) are not affected.
Napi::Value CallInNetns(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path;
  Napi::Function fn;
  if (!ArgCountAtMost(info, 2, "callInNetns") || !StringArg(info, 0, "netnsPath", &path) ||
      !FunctionArg(info, 1, "fn", &fn)) {
    return env.Undefined();
  }
  int home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (home < 0) return ThrowErrno(env, errno, "open /proc/thread-self/ns/net");
  int target = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (target < 0) {
    int err = errno;
    close(home);
    return ThrowErrno(env, err, "open " + path);
  }
  int rc = setns(target, CLONE_NEWNET);
  int setnsErr = errno;
  close(target);
  if (rc != 0) {
    close(home);
    return ThrowErrno(env, setnsErr, "setns " + path);
  }
  Napi::Value result = fn.Call(env.Undefined(), {});
  // Back home before anything else runs, whether fn returned or threw (then its exception is
  // pending and propagates when we return).
  rc = setns(home, CLONE_NEWNET);
  int homeErr = errno;
  close(home);
  if (rc != 0) {
    // We still hold a valid fd to the original namespace, so this should not happen short of a
    // kernel bug. Say so loudly: the main thread now makes its sockets in the wrong namespace.
    if (env.IsExceptionPending()) env.GetAndClearPendingException();
    return ThrowErrno(env, homeErr, "setns back to the original namespace (the main thread stays in " + path + ")");
  }
  return result;
}

}  // namespace

void InitNetns(Napi::Env env, Napi::Object exports) {
  exports.Set("createNetns", Napi::Function::New(env, CreateNetns));
  exports.Set("deleteNetns", Napi::Function::New(env, DeleteNetns));
  exports.Set("socketAt", Napi::Function::New(env, SocketAt));
  exports.Set("socketAtAsync", Napi::Function::New(env, SocketAtAsync));
  exports.Set("openAt", Napi::Function::New(env, OpenAt));
  exports.Set("openAtAsync", Napi::Function::New(env, OpenAtAsync));
  exports.Set("callInNetns", Napi::Function::New(env, CallInNetns));
}

}  // namespace lab
