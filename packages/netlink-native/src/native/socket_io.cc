// Socket syscalls with addresses passed as raw sockaddr bytes: TypeScript encodes sockaddr_nl,
// sockaddr_ll and sockaddr_in, so this file knows no protocol.
#include <fcntl.h>
#include <linux/filter.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "errno_error.h"

namespace lab {
namespace {

const sockaddr* AddrArg(const Napi::CallbackInfo& info, size_t index, socklen_t* len) {
  if (info.Length() <= index || !info[index].IsBuffer()) { *len = 0; return nullptr; }
  auto buf = info[index].As<Napi::Buffer<uint8_t>>();
  *len = static_cast<socklen_t>(buf.Length());
  return reinterpret_cast<const sockaddr*>(buf.Data());
}

Napi::Value Bind(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0);
  socklen_t len;
  const sockaddr* addr = AddrArg(info, 1, &len);
  if (bind(fd, addr, len) != 0) return ThrowErrno(info.Env(), errno, "bind");
  return info.Env().Undefined();
}

Napi::Value Connect(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0);
  socklen_t len;
  const sockaddr* addr = AddrArg(info, 1, &len);
  if (connect(fd, addr, len) != 0) return ThrowErrno(info.Env(), errno, "connect");
  return info.Env().Undefined();
}

// getsockname(fd, out) -> length written
Napi::Value GetSockName(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0);
  auto out = info[1].As<Napi::Buffer<uint8_t>>();
  socklen_t len = static_cast<socklen_t>(out.Length());
  if (getsockname(fd, reinterpret_cast<sockaddr*>(out.Data()), &len) != 0) {
    return ThrowErrno(info.Env(), errno, "getsockname");
  }
  return Napi::Number::New(info.Env(), len);
}

// setsockopt(fd, level, name, number | Buffer)
Napi::Value SetSockOpt(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0);
  int level = info[1].As<Napi::Number>().Int32Value();
  int name = info[2].As<Napi::Number>().Int32Value();
  int rc;
  if (info[3].IsBuffer()) {
    auto buf = info[3].As<Napi::Buffer<uint8_t>>();
    rc = setsockopt(fd, level, name, buf.Data(), static_cast<socklen_t>(buf.Length()));
  } else {
    int value = info[3].As<Napi::Number>().Int32Value();
    rc = setsockopt(fd, level, name, &value, sizeof(value));
  }
  if (rc != 0) return ThrowErrno(info.Env(), errno, "setsockopt");
  return info.Env().Undefined();
}

// getsockopt(fd, level, name) -> int value
Napi::Value GetSockOptInt(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0);
  int level = info[1].As<Napi::Number>().Int32Value();
  int name = info[2].As<Napi::Number>().Int32Value();
  int value = 0;
  socklen_t len = sizeof(value);
  if (getsockopt(fd, level, name, &value, &len) != 0) return ThrowErrno(info.Env(), errno, "getsockopt");
  return Napi::Number::New(info.Env(), value);
}

// sendto(fd, buffer, offset, length, addr | null, flags) -> bytes sent, or -errno for EAGAIN/EINTR/ENOBUFS
Napi::Value SendTo(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0);
  auto buf = info[1].As<Napi::Buffer<uint8_t>>();
  size_t offset = info[2].As<Napi::Number>().Uint32Value();
  size_t length = info[3].As<Napi::Number>().Uint32Value();
  socklen_t alen;
  const sockaddr* addr = AddrArg(info, 4, &alen);
  int flags = info.Length() > 5 ? info[5].As<Napi::Number>().Int32Value() : 0;
  if (offset + length > buf.Length()) {
    Napi::RangeError::New(info.Env(), "send past the end of the buffer").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  ssize_t n = sendto(fd, buf.Data() + offset, length, flags | MSG_NOSIGNAL, addr, alen);
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR || errno == ENOBUFS) return Napi::Number::New(info.Env(), -errno);
    return ThrowErrno(info.Env(), errno, "sendto");
  }
  return Napi::Number::New(info.Env(), static_cast<double>(n));
}

// recvfrom(fd, buffer, addrOut | null, flags) -> bytes (the full datagram length when MSG_TRUNC is
// passed), or -errno for EAGAIN/EINTR/ENOBUFS. Callers size addrOut for their family.
Napi::Value RecvFrom(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0);
  auto buf = info[1].As<Napi::Buffer<uint8_t>>();
  sockaddr* addr = nullptr;
  socklen_t alen = 0;
  if (info.Length() > 2 && info[2].IsBuffer()) {
    auto out = info[2].As<Napi::Buffer<uint8_t>>();
    addr = reinterpret_cast<sockaddr*>(out.Data());
    alen = static_cast<socklen_t>(out.Length());
  }
  int flags = info.Length() > 3 ? info[3].As<Napi::Number>().Int32Value() : 0;
  ssize_t n = recvfrom(fd, buf.Data(), buf.Length(), flags, addr, addr ? &alen : nullptr);
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR || errno == ENOBUFS) return Napi::Number::New(info.Env(), -errno);
    return ThrowErrno(info.Env(), errno, "recvfrom");
  }
  return Napi::Number::New(info.Env(), static_cast<double>(n));
}

// ioctl(fd, request, Buffer | number) -> the ioctl's return value; a Buffer argument is passed by
// pointer (struct ifreq and friends) and updated in place.
Napi::Value Ioctl(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0);
  unsigned long request = static_cast<unsigned long>(info[1].As<Napi::Number>().Int64Value());
  int rc;
  if (info[2].IsBuffer()) {
    rc = ioctl(fd, request, info[2].As<Napi::Buffer<uint8_t>>().Data());
  } else {
    rc = ioctl(fd, request, static_cast<unsigned long>(info[2].As<Napi::Number>().Int64Value()));
  }
  if (rc < 0) return ThrowErrno(info.Env(), errno, "ioctl");
  return Napi::Number::New(info.Env(), rc);
}

Napi::Value SetNonBlocking(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0);
  bool on = info[1].As<Napi::Boolean>();
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0) return ThrowErrno(info.Env(), errno, "fcntl");
  flags = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
  if (fcntl(fd, F_SETFL, flags) != 0) return ThrowErrno(info.Env(), errno, "fcntl");
  return info.Env().Undefined();
}

// Clears FD_CLOEXEC so a child process inherits the fd (QEMU gets its TAP or cable this way).
Napi::Value SetInheritable(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0);
  bool on = info[1].As<Napi::Boolean>();
  int flags = fcntl(fd, F_GETFD);
  if (flags < 0) return ThrowErrno(info.Env(), errno, "fcntl");
  flags = on ? (flags & ~FD_CLOEXEC) : (flags | FD_CLOEXEC);
  if (fcntl(fd, F_SETFD, flags) != 0) return ThrowErrno(info.Env(), errno, "fcntl");
  return info.Env().Undefined();
}

// attachFilter(fd, program): classic BPF, 8-byte instructions as struct sock_filter lays them out.
Napi::Value AttachFilter(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0);
  auto program = info[1].As<Napi::Buffer<uint8_t>>();
  if (program.Length() == 0 || program.Length() % sizeof(sock_filter) != 0 || program.Length() / sizeof(sock_filter) > 4096) {
    Napi::RangeError::New(info.Env(), "BPF program must be 1..4096 instructions of 8 bytes").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  sock_fprog prog;
  prog.len = static_cast<unsigned short>(program.Length() / sizeof(sock_filter));
  prog.filter = reinterpret_cast<sock_filter*>(program.Data());
  if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) != 0) return ThrowErrno(info.Env(), errno, "setsockopt SO_ATTACH_FILTER");
  return info.Env().Undefined();
}

}  // namespace

void InitSocketIo(Napi::Env env, Napi::Object exports) {
  exports.Set("bind", Napi::Function::New(env, Bind));
  exports.Set("connect", Napi::Function::New(env, Connect));
  exports.Set("getsockname", Napi::Function::New(env, GetSockName));
  exports.Set("setsockopt", Napi::Function::New(env, SetSockOpt));
  exports.Set("getsockoptInt", Napi::Function::New(env, GetSockOptInt));
  exports.Set("sendto", Napi::Function::New(env, SendTo));
  exports.Set("recvfrom", Napi::Function::New(env, RecvFrom));
  exports.Set("ioctl", Napi::Function::New(env, Ioctl));
  exports.Set("setNonBlocking", Napi::Function::New(env, SetNonBlocking));
  exports.Set("setInheritable", Napi::Function::New(env, SetInheritable));
  exports.Set("attachFilter", Napi::Function::New(env, AttachFilter));
}

}  // namespace lab
