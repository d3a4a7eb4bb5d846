// Batched datagram I/O (recvmmsg/sendmmsg) with IP_PKTINFO, so a server drains many datagrams per
// wake-up and learns the arrival interface and destination address of each. Per-message metadata
// travels in a flat buffer of kMetaSize-byte records that TypeScript reads and writes; the layout
// below is exported as `MMSG` (offsets and sizes) and TypeScript reads it from there:
//   recv: [0] length  [4] msg_flags  [8] address length  [12] ifindex  [16] ipi_addr  [20] ipi_spec_dst  [24] sockaddr (28 bytes)
//   send: [0] offset  [4] length     [8] address length  [12] ifindex  [16] source address          [24] sockaddr (28 bytes)
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "args.h"
#include "errno_error.h"

namespace lab {
namespace {

constexpr size_t kMetaSize = 64;
constexpr size_t kMaxBatch = 64;
// Field offsets in one record; recv and send share the slots (length/offset, flags/length, ...).
constexpr size_t kRecvLength = 0, kRecvFlags = 4;
constexpr size_t kSendOffset = 0, kSendLength = 4;
constexpr size_t kAddressLength = 8, kIfindex = 12;
constexpr size_t kDestination = 16, kSpecDst = 20;  // recv: ipi_addr, ipi_spec_dst
constexpr size_t kSource = 16;                      // send: the source address (ipi_spec_dst)
constexpr size_t kAddress = 24;
constexpr size_t kAddressSize = sizeof(sockaddr_in6);  // room for either family
static_assert(kAddress + kAddressSize <= kMetaSize, "a metadata record must hold its sockaddr");
constexpr size_t kControlSize = CMSG_SPACE(sizeof(in_pktinfo));

int32_t ReadI32(const uint8_t* p) { int32_t v; memcpy(&v, p, 4); return v; }
void WriteI32(uint8_t* p, int32_t v) { memcpy(p, &v, 4); }

// recvmmsg(fd, slab, slotSize, count, meta) -> messages received, or -errno for EAGAIN/EINTR
Napi::Value RecvMmsg(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  uint8_t *slabData, *metaData;
  size_t slabLength, metaLength;
  uint32_t slot, count;
  if (!ArgCountAtMost(info, 5, "recvmmsg") || !FdArg(info, 0, "fd", &fd) || !BufferArg(info, 1, "slab", &slabData, &slabLength) ||
      !U32Arg(info, 2, "slotSize", &slot) || !U32Arg(info, 3, "count", &count) || !BufferArg(info, 4, "meta", &metaData, &metaLength)) {
    return env.Undefined();
  }
  if (count > kMaxBatch) count = kMaxBatch;
  if (slot == 0 || static_cast<uint64_t>(slot) * count > slabLength || kMetaSize * count > metaLength) {
    ThrowRange(env, "slab: slab or metadata buffer too small for " + std::to_string(count) + " datagrams");
    return env.Undefined();
  }
  mmsghdr msgs[kMaxBatch];
  iovec iovs[kMaxBatch];
  uint8_t control[kMaxBatch][kControlSize];
  memset(msgs, 0, sizeof(mmsghdr) * count);
  for (size_t i = 0; i < count; i++) {
    iovs[i] = {slabData + static_cast<size_t>(i) * slot, slot};
    msgs[i].msg_hdr.msg_iov = &iovs[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
    msgs[i].msg_hdr.msg_name = metaData + i * kMetaSize + kAddress;
    msgs[i].msg_hdr.msg_namelen = kAddressSize;
    msgs[i].msg_hdr.msg_control = control[i];
    msgs[i].msg_hdr.msg_controllen = kControlSize;
  }
  int n = recvmmsg(fd, msgs, static_cast<unsigned>(count), MSG_DONTWAIT, nullptr);
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) return Napi::Number::New(env, -errno);
    return ThrowErrno(env, errno, "recvmmsg");
  }
  for (int i = 0; i < n; i++) {
    uint8_t* m = metaData + i * kMetaSize;
    WriteI32(m + kRecvLength, static_cast<int32_t>(msgs[i].msg_len));
    WriteI32(m + kRecvFlags, msgs[i].msg_hdr.msg_flags);
    WriteI32(m + kAddressLength, static_cast<int32_t>(msgs[i].msg_hdr.msg_namelen));
    WriteI32(m + kIfindex, 0);
    memset(m + kDestination, 0, 8);
    for (cmsghdr* c = CMSG_FIRSTHDR(&msgs[i].msg_hdr); c; c = CMSG_NXTHDR(&msgs[i].msg_hdr, c)) {
      if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
        in_pktinfo pi;
        memcpy(&pi, CMSG_DATA(c), sizeof(pi));
        WriteI32(m + kIfindex, pi.ipi_ifindex);
        memcpy(m + kDestination, &pi.ipi_addr, 4);
        memcpy(m + kSpecDst, &pi.ipi_spec_dst, 4);
      }
    }
  }
  return Napi::Number::New(env, n);
}

// sendmmsg(fd, slab, meta, count) -> messages sent, or -errno for EAGAIN/EINTR/ENOBUFS
Napi::Value SendMmsg(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  uint8_t *slabData, *metaData;
  size_t slabLength, metaLength;
  uint32_t count;
  if (!ArgCountAtMost(info, 4, "sendmmsg") || !FdArg(info, 0, "fd", &fd) || !BufferArg(info, 1, "slab", &slabData, &slabLength) ||
      !BufferArg(info, 2, "meta", &metaData, &metaLength) || !U32Arg(info, 3, "count", &count)) {
    return env.Undefined();
  }
  if (count > kMaxBatch) count = kMaxBatch;
  if (kMetaSize * count > metaLength) {
    ThrowRange(env, "meta: metadata buffer too small for " + std::to_string(count) + " datagrams");
    return env.Undefined();
  }
  mmsghdr msgs[kMaxBatch];
  iovec iovs[kMaxBatch];
  uint8_t control[kMaxBatch][kControlSize];
  memset(msgs, 0, sizeof(mmsghdr) * count);
  for (size_t i = 0; i < count; i++) {
    uint8_t* m = metaData + i * kMetaSize;
    size_t offset = static_cast<uint32_t>(ReadI32(m + kSendOffset));
    size_t length = static_cast<uint32_t>(ReadI32(m + kSendLength));
    if (offset + length > slabLength) {
      ThrowRange(env, "meta: message " + std::to_string(i) + " reaches past the end of the slab");
      return env.Undefined();
    }
    iovs[i] = {slabData + offset, length};
    msgs[i].msg_hdr.msg_iov = &iovs[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
    int32_t namelen = ReadI32(m + kAddressLength);
    if (namelen < 0 || static_cast<size_t>(namelen) > kAddressSize) {
      ThrowRange(env, "meta: message " + std::to_string(i) + " has an address length of " + std::to_string(namelen) +
                          " (0.." + std::to_string(kAddressSize) + ")");
      return env.Undefined();
    }
    if (namelen > 0) {
      msgs[i].msg_hdr.msg_name = m + kAddress;
      msgs[i].msg_hdr.msg_namelen = static_cast<socklen_t>(namelen);
    }
    int32_t ifindex = ReadI32(m + kIfindex);
    uint32_t source;
    memcpy(&source, m + kSource, 4);
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
  Napi::Object layout = Napi::Object::New(env);
  layout.Set("size", Napi::Number::New(env, kMetaSize));
  layout.Set("maxBatch", Napi::Number::New(env, kMaxBatch));
  layout.Set("recvLength", Napi::Number::New(env, kRecvLength));
  layout.Set("recvFlags", Napi::Number::New(env, kRecvFlags));
  layout.Set("sendOffset", Napi::Number::New(env, kSendOffset));
  layout.Set("sendLength", Napi::Number::New(env, kSendLength));
  layout.Set("addressLength", Napi::Number::New(env, kAddressLength));
  layout.Set("ifindex", Napi::Number::New(env, kIfindex));
  layout.Set("destination", Napi::Number::New(env, kDestination));
  layout.Set("specDst", Napi::Number::New(env, kSpecDst));
  layout.Set("source", Napi::Number::New(env, kSource));
  layout.Set("address", Napi::Number::New(env, kAddress));
  layout.Set("addressSize", Napi::Number::New(env, kAddressSize));
  exports.Set("MMSG", layout);
}

}  // namespace lab
