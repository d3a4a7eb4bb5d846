// Kernel-side copying between stream fds: pipes, splice(2) through them, dup and shutdown. The
// relay loop itself lives in TypeScript on the event loop; each call here is one syscall.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "errno_error.h"

namespace lab {
namespace {

// pipe(size) -> [readFd, writeFd], non-blocking and close-on-exec; the capacity is raised to
// `size` when the system allows it (F_SETPIPE_SZ; a refusal keeps the default).
Napi::Value Pipe(const Napi::CallbackInfo& info) {
  int fds[2];
  if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return ThrowErrno(info.Env(), errno, "pipe");
  if (info.Length() > 0 && info[0].IsNumber()) {
    int size = info[0].As<Napi::Number>().Int32Value();
    if (size > 0) fcntl(fds[1], F_SETPIPE_SZ, size);
  }
  Napi::Array out = Napi::Array::New(info.Env(), 3);
  out.Set(0u, Napi::Number::New(info.Env(), fds[0]));
  out.Set(1u, Napi::Number::New(info.Env(), fds[1]));
  out.Set(2u, Napi::Number::New(info.Env(), fcntl(fds[1], F_GETPIPE_SZ)));
  return out;
}

// splice(fdIn, fdOut, length) -> bytes moved (0: end of input), or -errno for EAGAIN/EINTR.
Napi::Value Splice(const Napi::CallbackInfo& info) {
  int in = FdArg(info, 0);
  int out = FdArg(info, 1);
  size_t length = info[2].As<Napi::Number>().Uint32Value();
  ssize_t n = splice(in, nullptr, out, nullptr, length, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) return Napi::Number::New(info.Env(), -errno);
    return ThrowErrno(info.Env(), errno, "splice");
  }
  return Napi::Number::New(info.Env(), static_cast<double>(n));
}

// dup(fd) -> a new close-on-exec fd for the same open file.
Napi::Value Dup(const Napi::CallbackInfo& info) {
  int fd = fcntl(FdArg(info, 0), F_DUPFD_CLOEXEC, 3);
  if (fd < 0) return ThrowErrno(info.Env(), errno, "dup");
  return Napi::Number::New(info.Env(), fd);
}

// shutdown(fd, how): ENOTCONN (the peer is gone already) is not an error here.
Napi::Value Shutdown(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0);
  int how = info[1].As<Napi::Number>().Int32Value();
  if (shutdown(fd, how) != 0 && errno != ENOTCONN) return ThrowErrno(info.Env(), errno, "shutdown");
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
