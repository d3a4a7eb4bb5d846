// Socket syscalls with addresses passed as raw sockaddr bytes: TypeScript encodes sockaddr_nl,
// sockaddr_ll and sockaddr_in, so this file knows no protocol.
#include <fcntl.h>
#include <linux/filter.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <string>

#include "args.h"
#include "errno_error.h"

namespace lab {
namespace {

// (fd, sockaddr bytes): bind and connect.
bool AddrArgs(const Napi::CallbackInfo& info, const char* function, int* fd, const sockaddr** addr, socklen_t* len) {
  uint8_t* data;
  size_t length;
  if (!ArgCountAtMost(info, 2, function) || !FdArg(info, 0, "fd", fd) || !BufferArg(info, 1, "addr", &data, &length)) return false;
  if (length > sizeof(sockaddr_storage)) {
    ThrowRange(info.Env(), "addr: " + std::to_string(length) + " bytes is longer than any sockaddr");
    return false;
  }
  *addr = reinterpret_cast<const sockaddr*>(data);
  *len = static_cast<socklen_t>(length);
  return true;
}

Napi::Value Bind(const Napi::CallbackInfo& info) {
  int fd;
  const sockaddr* addr;
  socklen_t len;
  if (!AddrArgs(info, "bind", &fd, &addr, &len)) return info.Env().Undefined();
  if (bind(fd, addr, len) != 0) return ThrowErrno(info.Env(), errno, "bind");
  return info.Env().Undefined();
}

Napi::Value Connect(const Napi::CallbackInfo& info) {
  int fd;
  const sockaddr* addr;
  socklen_t len;
  if (!AddrArgs(info, "connect", &fd, &addr, &len)) return info.Env().Undefined();
  if (connect(fd, addr, len) != 0) return ThrowErrno(info.Env(), errno, "connect");
  return info.Env().Undefined();
}

// getsockname(fd, out) -> length written
Napi::Value GetSockName(const Napi::CallbackInfo& info) {
  int fd;
  uint8_t* out;
  size_t size;
  if (!ArgCountAtMost(info, 2, "getsockname") || !FdArg(info, 0, "fd", &fd) || !BufferArg(info, 1, "out", &out, &size)) {
    return info.Env().Undefined();
  }
  socklen_t len = static_cast<socklen_t>(size);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(out), &len) != 0) return ThrowErrno(info.Env(), errno, "getsockname");
  return Napi::Number::New(info.Env(), len);
}

// (fd, level, name): the start of every socket option call.
bool OptionArgs(const Napi::CallbackInfo& info, size_t max, const char* function, int* fd, uint32_t* level, uint32_t* name) {
  return ArgCountAtMost(info, max, function) && FdArg(info, 0, "fd", fd) && U32Arg(info, 1, "level", level) &&
         U32Arg(info, 2, "name", name);
}

// setsockopt(fd, level, name, int | Buffer)
Napi::Value SetSockOpt(const Napi::CallbackInfo& info) {
  int fd;
  uint32_t level, name;
  if (!OptionArgs(info, 4, "setsockopt", &fd, &level, &name)) return info.Env().Undefined();
  int rc;
  if (info.Length() > 3 && info[3].IsTypedArray()) {
    uint8_t* data;
    size_t length;
    if (!BufferArg(info, 3, "value", &data, &length)) return info.Env().Undefined();
    rc = setsockopt(fd, static_cast<int>(level), static_cast<int>(name), data, static_cast<socklen_t>(length));
  } else {
    int32_t value;
    if (!I32Arg(info, 3, "value", &value)) return info.Env().Undefined();
    rc = setsockopt(fd, static_cast<int>(level), static_cast<int>(name), &value, sizeof(value));
  }
  if (rc != 0) return ThrowErrno(info.Env(), errno, "setsockopt");
  return info.Env().Undefined();
}

// getsockoptInt(fd, level, name) -> int value
Napi::Value GetSockOptInt(const Napi::CallbackInfo& info) {
  int fd;
  uint32_t level, name;
  if (!OptionArgs(info, 3, "getsockoptInt", &fd, &level, &name)) return info.Env().Undefined();
  int value = 0;
  socklen_t len = sizeof(value);
  if (getsockopt(fd, static_cast<int>(level), static_cast<int>(name), &value, &len) != 0) {
    return ThrowErrno(info.Env(), errno, "getsockopt");
  }
  return Napi::Number::New(info.Env(), value);
}

// sendto(fd, buffer, offset, length, addr | null, flags?) -> bytes sent, or -errno for
// EAGAIN/EINTR/ENOBUFS
Napi::Value SendTo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  uint8_t* buf;
  size_t size;
  uint32_t offset, length, flags;
  uint8_t* addr;
  size_t alen;
  if (!ArgCountAtMost(info, 6, "sendto") || !FdArg(info, 0, "fd", &fd) || !BufferArg(info, 1, "buffer", &buf, &size) ||
      !U32Arg(info, 2, "offset", &offset) || !U32Arg(info, 3, "length", &length) ||
      !OptionalBufferArg(info, 4, "addr", &addr, &alen) || !OptionalU32Arg(info, 5, "flags", 0, &flags)) {
    return env.Undefined();
  }
  if (static_cast<size_t>(offset) + length > size) {
    ThrowRange(env, "length: " + std::to_string(length) + " bytes from offset " + std::to_string(offset) +
                        " pass the end of the buffer (" + std::to_string(size) + " bytes)");
    return env.Undefined();
  }
  ssize_t n = sendto(fd, buf + offset, length, static_cast<int>(flags) | MSG_NOSIGNAL,
                     reinterpret_cast<const sockaddr*>(addr), static_cast<socklen_t>(alen));
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR || errno == ENOBUFS) return Napi::Number::New(env, -errno);
    return ThrowErrno(env, errno, "sendto");
  }
  return Napi::Number::New(env, static_cast<double>(n));
}

// recvfrom(fd, buffer, addrOut | null, flags?) -> bytes (the full datagram length when MSG_TRUNC is
// passed), or -errno for EAGAIN/EINTR/ENOBUFS. Callers size addrOut for their family.
Napi::Value RecvFrom(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  uint8_t* buf;
  size_t size;
  uint8_t* addr;
  size_t alen;
  uint32_t flags;
  if (!ArgCountAtMost(info, 4, "recvfrom") || !FdArg(info, 0, "fd", &fd) || !BufferArg(info, 1, "buffer", &buf, &size) ||
      !OptionalBufferArg(info, 2, "addrOut", &addr, &alen) || !OptionalU32Arg(info, 3, "flags", 0, &flags)) {
    return env.Undefined();
  }
  socklen_t len = static_cast<socklen_t>(alen);
  ssize_t n = recvfrom(fd, buf, size, static_cast<int>(flags), reinterpret_cast<sockaddr*>(addr), addr ? &len : nullptr);
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR || errno == ENOBUFS) return Napi::Number::New(env, -errno);
    return ThrowErrno(env, errno, "recvfrom");
  }
  return Napi::Number::New(env, static_cast<double>(n));
}

// ioctl(fd, request, Buffer | number) -> the ioctl's return value. A Buffer is passed by pointer
// and updated in place; it must be at least IFREQ.size bytes (struct ifreq, the largest argument
// the callers use), so a request that writes a whole ifreq cannot write past its end.
Napi::Value Ioctl(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  int64_t request;
  if (!ArgCountAtMost(info, 3, "ioctl") || !FdArg(info, 0, "fd", &fd) || !IntArg(info, 1, "request", 0, UINT32_MAX, &request)) {
    return env.Undefined();
  }
  int rc;
  if (info.Length() > 2 && info[2].IsTypedArray()) {
    uint8_t* data;
    size_t length;
    if (!BufferArg(info, 2, "arg", &data, &length)) return env.Undefined();
    if (length < sizeof(ifreq)) {
      ThrowRange(env, "arg: a " + std::to_string(length) + "-byte buffer is shorter than struct ifreq (" +
                          std::to_string(sizeof(ifreq)) + " bytes)");
      return env.Undefined();
    }
    rc = ioctl(fd, static_cast<unsigned long>(request), data);
  } else {
    int64_t value;
    if (!IntArg(info, 2, "arg", 0, UINT32_MAX, &value)) return env.Undefined();
    rc = ioctl(fd, static_cast<unsigned long>(request), static_cast<unsigned long>(value));
  }
  if (rc < 0) return ThrowErrno(env, errno, "ioctl");
  return Napi::Number::New(env, rc);
}

// (fd, on): the fcntl toggles.
bool ToggleArgs(const Napi::CallbackInfo& info, const char* function, int* fd, bool* on) {
  return ArgCountAtMost(info, 2, function) && FdArg(info, 0, "fd", fd) && BoolArg(info, 1, "on", on);
}

Napi::Value SetNonBlocking(const Napi::CallbackInfo& info) {
  int fd;
  bool on;
  if (!ToggleArgs(info, "setNonBlocking", &fd, &on)) return info.Env().Undefined();
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0) return ThrowErrno(info.Env(), errno, "fcntl");
  flags = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
  if (fcntl(fd, F_SETFL, flags) != 0) return ThrowErrno(info.Env(), errno, "fcntl");
  return info.Env().Undefined();
}

// Clears FD_CLOEXEC so a child process inherits the fd (QEMU gets its TAP or cable this way).
Napi::Value SetInheritable(const Napi::CallbackInfo& info) {
  int fd;
  bool on;
  if (!ToggleArgs(info, "setInheritable", &fd, &on)) return info.Env().Undefined();
  int flags = fcntl(fd, F_GETFD);
  if (flags < 0) return ThrowErrno(info.Env(), errno, "fcntl");
  flags = on ? (flags & ~FD_CLOEXEC) : (flags | FD_CLOEXEC);
  if (fcntl(fd, F_SETFD, flags) != 0) return ThrowErrno(info.Env(), errno, "fcntl");
  return info.Env().Undefined();
}

// attachFilter(fd, program): classic BPF, 8-byte instructions as struct sock_filter lays them out.
Napi::Value AttachFilter(const Napi::CallbackInfo& info) {
  int fd;
  uint8_t* data;
  size_t length;
  if (!ArgCountAtMost(info, 2, "attachFilter") || !FdArg(info, 0, "fd", &fd) || !BufferArg(info, 1, "program", &data, &length)) {
    return info.Env().Undefined();
  }
  if (length == 0 || length % sizeof(sock_filter) != 0 || length / sizeof(sock_filter) > BPF_MAXINSNS) {
    ThrowRange(info.Env(), "program: a BPF program is 1.." + std::to_string(BPF_MAXINSNS) + " instructions of 8 bytes");
    return info.Env().Undefined();
  }
  sock_fprog prog;
  prog.len = static_cast<unsigned short>(length / sizeof(sock_filter));
  prog.filter = reinterpret_cast<sock_filter*>(data);
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

  // struct ifreq as this system's headers lay it out: TypeScript (src/sys/ifreq.ts) builds it from
  // these numbers, so the layout is written down once.
  Napi::Object ifr = Napi::Object::New(env);
  ifr.Set("size", Napi::Number::New(env, sizeof(ifreq)));
  ifr.Set("nameSize", Napi::Number::New(env, IFNAMSIZ));
  ifr.Set("ifindex", Napi::Number::New(env, offsetof(ifreq, ifr_ifindex)));
  ifr.Set("flags", Napi::Number::New(env, offsetof(ifreq, ifr_flags)));
  exports.Set("IFREQ", ifr);
}

}  // namespace lab
