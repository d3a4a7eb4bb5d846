// Kernel-side copying between stream fds: pipes, splice(2) through them, dup and shutdown. The
// relay loop itself lives in TypeScript on the event loop; each call here is one syscall.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include "args.h"
#include "errno_error.h"

namespace lab {
namespace {

// pipe(size) -> [readFd, writeFd, capacity], non-blocking and close-on-exec; the capacity is
// raised to `size` when the system allows it (F_SETPIPE_SZ; a refusal keeps the default).
Napi::Value Pipe(const Napi::CallbackInfo& info) {
  uint32_t size;
  if (!ArgCountAtMost(info, 1, "pipe") || !U32Arg(info, 0, "size", &size)) return info.Env().Undefined();
  int fds[2];
  if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return ThrowErrno(info.Env(), errno, "pipe");
  if (size > 0 && size <= INT32_MAX) fcntl(fds[1], F_SETPIPE_SZ, static_cast<int>(size));
  Napi::Array out = Napi::Array::New(info.Env(), 3);
  out.Set(0u, Napi::Number::New(info.Env(), fds[0]));
  out.Set(1u, Napi::Number::New(info.Env(), fds[1]));
  out.Set(2u, Napi::Number::New(info.Env(), fcntl(fds[1], F_GETPIPE_SZ)));
  return out;
}

// splice(fdIn, fdOut, length) -> bytes moved (0: end of input), or -errno for EAGAIN/EINTR.
Napi::Value Splice(const Napi::CallbackInfo& info) {
  int in, out;
  uint32_t length;
  if (!ArgCountAtMost(info, 3, "splice") || !FdArg(info, 0, "fdIn", &in) || !FdArg(info, 1, "fdOut", &out) ||
      !U32Arg(info, 2, "length", &length)) {
    return info.Env().Undefined();
  }
  ssize_t n = splice(in, nullptr, out, nullptr, length, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) return Napi::Number::New(info.Env(), -errno);
    return ThrowErrno(info.Env(), errno, "splice");
  }
  return Napi::Number::New(info.Env(), static_cast<double>(n));
}

// dup(fd) -> a new close-on-exec fd for the same open file.
Napi::Value Dup(const Napi::CallbackInfo& info) {
  int old;
  if (!ArgCountAtMost(info, 1, "dup") || !FdArg(info, 0, "fd", &old)) return info.Env().Undefined();
  int fd = fcntl(old, F_DUPFD_CLOEXEC, 3);
  if (fd < 0) return ThrowErrno(info.Env(), errno, "dup");
  return Napi::Number::New(info.Env(), fd);
}

// shutdown(fd, how): ENOTCONN (the peer is gone already) is not an error here.
Napi::Value Shutdown(const Napi::CallbackInfo& info) {
  int fd;
  int64_t how;
  if (!ArgCountAtMost(info, 2, "shutdown") || !FdArg(info, 0, "fd", &fd) || !IntArg(info, 1, "how", SHUT_RD, SHUT_RDWR, &how)) {
    return info.Env().Undefined();
  }
  if (shutdown(fd, static_cast<int>(how)) != 0 && errno != ENOTCONN) return ThrowErrno(info.Env(), errno, "shutdown");
  return info.Env().Undefined();
}

}  // namespace

void InitSpliceIo(Napi::Env env, Napi::Object exports) {
  exports.Set("pipe", Napi::Function::New(env, Pipe));
  exports.Set("splice", Napi::Function::New(env, Splice));
  exports.Set("dup", Napi::Function::New(env, Dup));
  exports.Set("shutdown", Napi::Function::New(env, Shutdown));
}

}  // namespace lab
