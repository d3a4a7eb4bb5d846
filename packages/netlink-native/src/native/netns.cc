// Named network namespaces the way iproute2 keeps them (a bind mount under /run/netns), and
// creation of fds (sockets, device files) inside a namespace.
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "errno_error.h"
#include "netns_thread.h"

namespace lab {
namespace {

// iproute2 makes the run directory a shared mount so that namespaces mounted later propagate to
// mount namespaces created by `ip netns exec`; do the same so both tools see each other's work.
int EnsureSharedRunDir(const std::string& dir, std::string* step) {
  // Once per process and directory: remounting on every create costs more than the create itself.
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

Napi::Value CreateNetns(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string dir = info[0].As<Napi::String>();
  std::string name = info[1].As<Napi::String>();
  std::string path = dir + "/" + name;
  std::string step;
  int err = EnsureSharedRunDir(dir, &step);
  if (err) return ThrowErrno(env, err, step);
  int fd = open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
  if (fd < 0) return ThrowErrno(env, errno, "create " + path);
  close(fd);
  std::string inner;
  err = RunOnNetnsWorker([&]() {
    if (unshare(CLONE_NEWNET) != 0) { inner = "unshare CLONE_NEWNET"; return errno; }
    if (mount("/proc/thread-self/ns/net", path.c_str(), "none", MS_BIND, nullptr) != 0) {
      inner = "mount --bind " + path;
      return errno;
    }
    return 0;
  }, &step);
  if (!step.empty()) inner = step;
  if (err) {
    unlink(path.c_str());
    return ThrowErrno(env, err, inner);
  }
  return Napi::String::New(env, path);
}

Napi::Value DeleteNetns(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = info[0].As<Napi::String>();
  // EINVAL: not a mount point (half-made namespace); the file still has to go.
  if (umount2(path.c_str(), MNT_DETACH) != 0 && errno != EINVAL) {
    if (errno == ENOENT) return ThrowErrno(env, ENOENT, "delete " + path);
    return ThrowErrno(env, errno, "umount " + path);
  }
  if (unlink(path.c_str()) != 0) return ThrowErrno(env, errno, "unlink " + path);
  return env.Undefined();
}

std::string NetnsArg(const Napi::CallbackInfo& info, size_t index) {
  if (info.Length() <= index || info[index].IsNull() || info[index].IsUndefined()) return "";
  return info[index].As<Napi::String>();
}

// socketAt(netnsPath | null, domain, type, protocol) -> fd
Napi::Value SocketAt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string ns = NetnsArg(info, 0);
  int domain = info[1].As<Napi::Number>().Int32Value();
  int type = info[2].As<Napi::Number>().Int32Value();
  int protocol = info[3].As<Napi::Number>().Int32Value();
  int fd = -1;
  std::string step;
  int err = RunInNetns(ns, [&]() {
    fd = socket(domain, type | SOCK_CLOEXEC, protocol);
    return fd < 0 ? errno : 0;
  }, &step);
  if (err) return ThrowErrno(env, err, step.empty() ? "socket" : step);
  return Napi::Number::New(env, fd);
}

// openAt(netnsPath | null, path, flags) -> fd; for /dev/net/tun and /proc/sys inside a namespace.
Napi::Value OpenAt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string ns = NetnsArg(info, 0);
  std::string path = info[1].As<Napi::String>();
  int flags = info[2].As<Napi::Number>().Int32Value();
  int fd = -1;
  std::string step;
  int err = RunInNetns(ns, [&]() {
    fd = open(path.c_str(), flags | O_CLOEXEC);
    return fd < 0 ? errno : 0;
  }, &step);
  if (err) return ThrowErrno(env, err, step.empty() ? "open " + path : step);
  return Napi::Number::New(env, fd);
}

}  // namespace

void InitNetns(Napi::Env env, Napi::Object exports) {
  exports.Set("createNetns", Napi::Function::New(env, CreateNetns));
  exports.Set("deleteNetns", Napi::Function::New(env, DeleteNetns));
  exports.Set("socketAt", Napi::Function::New(env, SocketAt));
  exports.Set("openAt", Napi::Function::New(env, OpenAt));
}

}  // namespace lab
