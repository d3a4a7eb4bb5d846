// An IPv4 + UDP packet built by hand, for the one reply the kernel's UDP stack cannot send: a
// unicast to a client that has no address yet (RFC 2131 4.1). Sent on an AF_PACKET socket straight
// to the client's hardware address, so no ARP round trip is needed for an address nobody holds yet.
import { ipv4ToNumber } from '@lab/netlink-native'

const IPV4_HEADER = 20
const UDP_HEADER = 8
const PROTO_UDP = 17

function sum16(buf: Buffer, start: number, end: number, acc = 0): number {
  for (let i = start; i + 1 < end; i += 2) acc += buf.readUInt16BE(i)
  if ((end - start) & 1) acc += buf[end - 1]! << 8
  return acc
}

function fold(acc: number): number {
  while (acc > 0xffff) acc = (acc & 0xffff) + (acc >>> 16)
  return ~acc & 0xffff
}

export interface Ipv4UdpPacket {
  source: string
  destination: string
  sourcePort: number
  destinationPort: number
  payload: Buffer
  ttl?: number
}

/** The IPv4 header, UDP header and payload, both checksums filled in. */
export function encodeIpv4Udp(p: Ipv4UdpPacket): Buffer {
  const udpLength = UDP_HEADER + p.payload.length
  const buf = Buffer.alloc(IPV4_HEADER + udpLength)
  buf[0] = 0x45 // version 4, 5 words
  buf[1] = 0x10 // DSCP low delay, as DHCP servers commonly mark replies
  buf.writeUInt16BE(buf.length, 2)
  buf.writeUInt16BE(0, 4) // id: unfragmented
  buf.writeUInt16BE(0x4000, 6) // don't fragment
  buf[8] = p.ttl ?? 64
  buf[9] = PROTO_UDP
  buf.writeUInt32BE(ipv4ToNumber(p.source, 'source'), 12)
  buf.writeUInt32BE(ipv4ToNumber(p.destination, 'destination'), 16)
  buf.writeUInt16BE(fold(sum16(buf, 0, IPV4_HEADER)), 10)
  buf.writeUInt16BE(p.sourcePort, 20)
  buf.writeUInt16BE(p.destinationPort, 22)
  buf.writeUInt16BE(udpLength, 24)
  p.payload.copy(buf, IPV4_HEADER + UDP_HEADER)
  // Pseudo-header: addresses, protocol, UDP length.
  const pseudo = sum16(buf, 12, 20) + PROTO_UDP + udpLength
  const checksum = fold(sum16(buf, IPV4_HEADER, buf.length, pseudo))
  buf.writeUInt16BE(checksum === 0 ? 0xffff : checksum, 26)
  return buf
}

/** Reads an IPv4 packet carrying UDP; undefined for anything else or anything cut short. */
export function decodeIpv4Udp(buf: Buffer): Ipv4UdpPacket | undefined {
  if (buf.length < IPV4_HEADER + UDP_HEADER || buf[0]! >> 4 !== 4 || buf[9] !== PROTO_UDP) return undefined
  const ihl = (buf[0]! & 0x0f) * 4
  const total = buf.readUInt16BE(2)
  if (ihl < IPV4_HEADER || total > buf.length || total < ihl + UDP_HEADER) return undefined
  if (buf.readUInt16BE(6) & 0x3fff) return undefined // a fragment
  const udpLength = buf.readUInt16BE(ihl + 4)
  if (udpLength < UDP_HEADER || ihl + udpLength > total) return undefined
  const ip = (at: number) => `${buf[at]}.${buf[at + 1]}.${buf[at + 2]}.${buf[at + 3]}`
  return {
    source: ip(12),
    destination: ip(16),
    sourcePort: buf.readUInt16BE(ihl),
    destinationPort: buf.readUInt16BE(ihl + 2),
    payload: buf.subarray(ihl + UDP_HEADER, ihl + udpLength),
  }
}

/** An Ethernet II header in front of an IPv4 packet. */
export function ethernetFrame(destination: Buffer, source: Buffer, packet: Buffer): Buffer {
  const frame = Buffer.allocUnsafe(14 + packet.length)
  destination.copy(frame, 0)
  source.copy(frame, 6)
  frame.writeUInt16BE(0x0800, 12)
  packet.copy(frame, 14)
  return frame
}
