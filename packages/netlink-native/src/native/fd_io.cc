// Plain fd syscalls: close, read, write, socketpair. Non-blocking fds report EAGAIN as -EAGAIN
// (a return value, not an exception) because it is the normal end of a drain loop.
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "errno_error.h"

namespace lab {
namespace {

Napi::Value Close(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0);
  if (fd < 0) return info.Env().Undefined();
  // EINTR after close still released the fd on Linux; retrying could close someone else's fd.
  if (close(fd) != 0 && errno != EINTR) return ThrowErrno(info.Env(), errno, "close");
  return info.Env().Undefined();
}

// read(fd, buffer, offset?, length?) -> bytes read, or -errno for EAGAIN/EINTR
Napi::Value Read(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0);
  auto buf = info[1].As<Napi::Buffer<uint8_t>>();
  size_t offset = info.Length() > 2 ? info[2].As<Napi::Number>().Uint32Value() : 0;
  size_t length = info.Length() > 3 ? info[3].As<Napi::Number>().Uint32Value() : buf.Length() - offset;
  if (offset + length > buf.Length()) {
    Napi::RangeError::New(info.Env(), "read past the end of the buffer").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  ssize_t n = read(fd, buf.Data() + offset, length);
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) return Napi::Number::New(info.Env(), -errno);
    return ThrowErrno(info.Env(), errno, "read");
  }
  return Napi::Number::New(info.Env(), static_cast<double>(n));
}

// write(fd, buffer, offset?, length?) -> bytes written, or -errno for EAGAIN/EINTR
Napi::Value Write(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0);
  auto buf = info[1].As<Napi::Buffer<uint8_t>>();
  size_t offset = info.Length() > 2 ? info[2].As<Napi::Number>().Uint32Value() : 0;
  size_t length = info.Length() > 3 ? info[3].As<Napi::Number>().Uint32Value() : buf.Length() - offset;
  if (offset + length > buf.Length()) {
    Napi::RangeError::New(info.Env(), "write past the end of the buffer").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  ssize_t n = write(fd, buf.Data() + offset, length);
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) return Napi::Number::New(info.Env(), -errno);
    return ThrowErrno(info.Env(), errno, "write");
  }
  return Napi::Number::New(info.Env(), static_cast<double>(n));
}

// socketpair(type) -> [fd, fd], AF_UNIX.
Napi::Value SocketPair(const Napi::CallbackInfo& info) {
  int type = info[0].As<Napi::Number>().Int32Value();
  int fds[2];
  if (socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, fds) != 0) return ThrowErrno(info.Env(), errno, "socketpair");
  Napi::Array out = Napi::Array::New(info.Env(), 2);
  out.Set(0u, Napi::Number::New(info.Env(), fds[0]));
  out.Set(1u, Napi::Number::New(info.Env(), fds[1]));
  return out;
}

}  // namespace

void InitFdIo(Napi::Env env, Napi::Object exports) {
  exports.Set("close", Napi::Function::New(env, Close));
  exports.Set("read", Napi::Function::New(env, Read));
  exports.Set("write", Napi::Function::New(env, Write));
  exports.Set("socketpair", Napi::Function::New(env, SocketPair));
}

}  // namespace lab
