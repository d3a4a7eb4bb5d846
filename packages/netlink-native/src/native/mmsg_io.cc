// Batched datagram I/O (recvmmsg/sendmmsg) with IP_PKTINFO, so a server drains many datagrams per
// wake-up and learns the arrival interface and destination address of each. Per-message metadata
// travels in a flat buffer of kMetaSize-byte records that TypeScript reads and writes:
//   recv: [0] length  [4] msg_flags  [8] address length  [12] ifindex  [16] ipi_addr  [20] ipi_spec_dst  [24] sockaddr (28 bytes)
//   send: [0] offset  [4] length     [8] address length  [12] ifindex  [16] source address          [24] sockaddr (28 bytes)
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "errno_error.h"

namespace lab {
namespace {

constexpr size_t kMetaSize = 64;
constexpr size_t kMaxBatch = 64;
constexpr size_t kControlSize = CMSG_SPACE(sizeof(in_pktinfo));

int32_t ReadI32(const uint8_t* p) { int32_t v; memcpy(&v, p, 4); return v; }
void WriteI32(uint8_t* p, int32_t v) { memcpy(p, &v, 4); }

// recvmmsg(fd, slab, slotSize, count, meta) -> messages received, or -errno for EAGAIN/EINTR
Napi::Value RecvMmsg(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info, 0);
  auto slab = info[1].As<Napi::Buffer<uint8_t>>();
  size_t slot = info[2].As<Napi::Number>().Uint32Value();
  size_t count = info[3].As<Napi::Number>().Uint32Value();
  auto meta = info[4].As<Napi::Buffer<uint8_t>>();
  if (count > kMaxBatch) count = kMaxBatch;
  if (slot == 0 || slot * count > slab.Length() || kMetaSize * count > meta.Length()) {
    Napi::RangeError::New(env, "recvmmsg: slab or metadata buffer too small").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  mmsghdr msgs[kMaxBatch];
  iovec iovs[kMaxBatch];
  uint8_t control[kMaxBatch][kControlSize];
  memset(msgs, 0, sizeof(mmsghdr) * count);
  for (size_t i = 0; i < count; i++) {
    iovs[i] = {slab.Data() + i * slot, slot};
    msgs[i].msg_hdr.msg_iov = &iovs[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
    msgs[i].msg_hdr.msg_name = meta.Data() + i * kMetaSize + 24;
    msgs[i].msg_hdr.msg_namelen = 28;
    msgs[i].msg_hdr.msg_control = control[i];
    msgs[i].msg_hdr.msg_controllen = kControlSize;
  }
  int n = recvmmsg(fd, msgs, static_cast<unsigned>(count), MSG_DONTWAIT, nullptr);
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) return Napi::Number::New(env, -errno);
    return ThrowErrno(env, errno, "recvmmsg");
  }
  for (int i = 0; i < n; i++) {
    uint8_t* m = meta.Data() + i * kMetaSize;
    WriteI32(m + 0, static_cast<int32_t>(msgs[i].msg_len));
    WriteI32(m + 4, msgs[i].msg_hdr.msg_flags);
    WriteI32(m + 8, static_cast<int32_t>(msgs[i].msg_hdr.msg_namelen));
    WriteI32(m + 12, 0);
    memset(m + 16, 0, 8);
    for (cmsghdr* c = CMSG_FIRSTHDR(&msgs[i].msg_hdr); c; c = CMSG_NXTHDR(&msgs[i].msg_hdr, c)) {
      if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
        in_pktinfo pi;
        memcpy(&pi, CMSG_DATA(c), sizeof(pi));
        WriteI32(m + 12, pi.ipi_ifindex);
        memcpy(m + 16, &pi.ipi_addr, 4);
        memcpy(m + 20, &pi.ipi_spec_dst, 4);
      }
    }
  }
  return Napi::Number::New(env, n);
}

// sendmmsg(fd, slab, meta, count) -> messages sent, or -errno for EAGAIN/EINTR/ENOBUFS
Napi::Value SendMmsg(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info, 0);
  auto slab = info[1].As<Napi::Buffer<uint8_t>>();
  auto meta = info[2].As<Napi::Buffer<uint8_t>>();
  size_t count = info[3].As<Napi::Number>().Uint32Value();
  if (count > kMaxBatch) count = kMaxBatch;
  if (kMetaSize * count > meta.Length()) {
    Napi::RangeError::New(env, "sendmmsg: metadata buffer too small").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  mmsghdr msgs[kMaxBatch];
  iovec iovs[kMaxBatch];
  uint8_t control[kMaxBatch][kControlSize];
  memset(msgs, 0, sizeof(mmsghdr) * count);
  for (size_t i = 0; i < count; i++) {
    uint8_t* m = meta.Data() + i * kMetaSize;
    size_t offset = static_cast<uint32_t>(ReadI32(m + 0));
    size_t length = static_cast<uint32_t>(ReadI32(m + 4));
    if (offset + length > slab.Length()) {
      Napi::RangeError::New(env, "sendmmsg: message past the end of the slab").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    iovs[i] = {slab.Data() + offset, length};
    msgs[i].msg_hdr.msg_iov = &iovs[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
    int32_t namelen = ReadI32(m + 8);
    if (namelen > 0) {
      msgs[i].msg_hdr.msg_name = m + 24;
      msgs[i].msg_hdr.msg_namelen = static_cast<socklen_t>(namelen);
    }
    int32_t ifindex = ReadI32(m + 12);
    uint32_t source;
    memcpy(&source, m + 16, 4);
    if (ifindex != 0 || source != 0) {
      memset(control[i], 0, kControlSize);
      msgs[i].msg_hdr.msg_control = control[i];
      msgs[i].msg_hdr.msg_controllen = kControlSize;
      cmsghdr* c = CMSG_FIRSTHDR(&msgs[i].msg_hdr);
      c->cmsg_level = IPPROTO_IP;
      c->cmsg_type = IP_PKTINFO;
      c->cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
      in_pktinfo pi;
      memset(&pi, 0, sizeof(pi));
      pi.ipi_ifindex = ifindex;
      memcpy(&pi.ipi_spec_dst, &source, 4);
      memcpy(CMSG_DATA(c), &pi, sizeof(pi));
    }
  }
  int n = sendmmsg(fd, msgs, static_cast<unsigned>(count), MSG_DONTWAIT | MSG_NOSIGNAL);
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR || errno == ENOBUFS) return Napi::Number::New(env, -errno);
    return ThrowErrno(env, errno, "sendmmsg");
  }
  return Napi::Number::New(env, n);
}

}  // namespace

void InitMmsgIo(Napi::Env env, Napi::Object exports) {
  exports.Set("recvmmsg", Napi::Function::New(env, RecvMmsg));
  exports.Set("sendmmsg", Napi::Function::New(env, SendMmsg));
  exports.Set("MMSG_META_SIZE", Napi::Number::New(env, kMetaSize));
  exports.Set("MMSG_MAX_BATCH", Napi::Number::New(env, kMaxBatch));
}

}  // namespace lab
