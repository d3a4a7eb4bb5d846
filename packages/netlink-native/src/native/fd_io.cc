// Plain fd syscalls: close, read, write, socketpair. Non-blocking fds report EAGAIN as -EAGAIN
// (a return value, not an exception) because it is the normal end of a drain loop.
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "args.h"
#include "errno_error.h"

namespace lab {
namespace {

Napi::Value Close(const Napi::CallbackInfo& info) {
  int fd;
  if (!ArgCountAtMost(info, 1, "close") || !FdArg(info, 0, "fd", &fd)) return info.Env().Undefined();
  // EINTR after close still released the fd on Linux; retrying could close someone else's fd.
  if (close(fd) != 0 && errno != EINTR) return ThrowErrno(info.Env(), errno, "close");
  return info.Env().Undefined();
}

// (fd, buffer, offset?, length?): the span of the buffer a read or write may touch.
bool SpanArgs(const Napi::CallbackInfo& info, const char* function, int* fd, uint8_t** data, size_t* length) {
  uint8_t* buf;
  size_t size;
  uint32_t offset, count;
  if (!ArgCountAtMost(info, 4, function) || !FdArg(info, 0, "fd", fd) || !BufferArg(info, 1, "buffer", &buf, &size) ||
      !OptionalU32Arg(info, 2, "offset", 0, &offset)) {
    return false;
  }
  if (offset > size) {
    ThrowRange(info.Env(), "offset: " + std::to_string(offset) + " is past the end of the buffer (" + std::to_string(size) + " bytes)");
    return false;
  }
  if (!OptionalU32Arg(info, 3, "length", static_cast<uint32_t>(size - offset), &count)) return false;
  if (count > size - offset) {
    ThrowRange(info.Env(), "length: " + std::to_string(count) + " bytes from offset " + std::to_string(offset) +
                               " pass the end of the buffer (" + std::to_string(size) + " bytes)");
    return false;
  }
  *data = buf + offset;
  *length = count;
  return true;
}

// read(fd, buffer, offset?, length?) -> bytes read, or -errno for EAGAIN/EINTR
Napi::Value Read(const Napi::CallbackInfo& info) {
  int fd;
  uint8_t* data;
  size_t length;
  if (!SpanArgs(info, "read", &fd, &data, &length)) return info.Env().Undefined();
  ssize_t n = read(fd, data, length);
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) return Napi::Number::New(info.Env(), -errno);
    return ThrowErrno(info.Env(), errno, "read");
  }
  return Napi::Number::New(info.Env(), static_cast<double>(n));
}

// write(fd, buffer, offset?, length?) -> bytes written, or -errno for EAGAIN/EINTR
Napi::Value Write(const Napi::CallbackInfo& info) {
  int fd;
  uint8_t* data;
  size_t length;
  if (!SpanArgs(info, "write", &fd, &data, &length)) return info.Env().Undefined();
  ssize_t n = write(fd, data, length);
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) return Napi::Number::New(info.Env(), -errno);
    return ThrowErrno(info.Env(), errno, "write");
  }
  return Napi::Number::New(info.Env(), static_cast<double>(n));
}

// socketpair(type) -> [fd, fd], AF_UNIX.
Napi::Value SocketPair(const Napi::CallbackInfo& info) {
  uint32_t type;
  if (!ArgCountAtMost(info, 1, "socketpair") || !U32Arg(info, 0, "type", &type)) return info.Env().Undefined();
  int fds[2];
  if (socketpair(AF_UNIX, static_cast<int>(type) | SOCK_CLOEXEC, 0, fds) != 0) return ThrowErrno(info.Env(), errno, "socketpair");
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
