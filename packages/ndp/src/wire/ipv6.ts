// IPv6 + ICMPv6 packets built and read by hand, for the AF_PACKET socket in socket/nd-socket.ts:
// the hop limit is written here (always 255 for ND, RFC 4861 6.1.2 and 7.1) and the ICMPv6
// checksum (RFC 4443 2.3) is computed over the RFC 8200 8.1 pseudo-header.
//
//  IPv6 header: 4 bits version (6), 8 bits traffic class, 20 bits flow label, 2 bytes payload
//  length, 1 byte next header (58 = ICMPv6), 1 byte hop limit, 16 bytes source, 16 bytes destination.
import { ArgumentError, formatIp, parseIp } from '@lab/netlink-native'
import { NdpDecodeError } from '../codec/decode-error.js'

export const IPV6_HEADER = 40
export const IPPROTO_ICMPV6 = 58
/** The only hop limit ND messages may carry: a router or host off-link cannot produce it. */
export const ND_HOP_LIMIT = 255

export interface Icmpv6Packet {
  source: string
  destination: string
  /** Default 255. */
  hopLimit?: number
  /** Default 0. */
  trafficClass?: number
  /** Default 0 (the kernel would pick one per flow; receivers ignore it for ND). */
  flowLabel?: number
  /** The ICMPv6 message, Type octet first; its checksum field is overwritten. */
  icmp: Buffer
}

function ipv6Bytes(text: string, field: string): Buffer {
  const ip = parseIp(text, field)
  if (ip.family !== 6) throw new ArgumentError(field, `expected an IPv6 address, got ${text}`)
  return ip.bytes
}

function sum16(buf: Buffer, start: number, end: number, acc = 0): number {
  for (let i = start; i + 1 < end; i += 2) acc += buf.readUInt16BE(i)
  if ((end - start) & 1) acc += buf[end - 1]! << 8
  return acc
}

function fold(acc: number): number {
  while (acc > 0xffff) acc = (acc & 0xffff) + (acc >>> 16)
  return acc
}

/**
 * The checksum's one's-complement sum over the pseudo-header (source, destination, upper-layer
 * length, next header 58) and the message in `packet` (an IPv6 packet of `length` bytes).
 * A packet whose checksum is right sums to 0xffff.
 */
function icmpSum(packet: Buffer, length: number): number {
  const pseudo = sum16(packet, 8, 40) + ((length - IPV6_HEADER) >>> 16) + ((length - IPV6_HEADER) & 0xffff) + IPPROTO_ICMPV6
  return fold(sum16(packet, IPV6_HEADER, length, pseudo))
}

/** An IPv6 packet carrying `icmp`, with the ICMPv6 checksum filled in. */
export function encodeIcmpv6Packet(p: Icmpv6Packet): Buffer {
  const hopLimit = p.hopLimit ?? ND_HOP_LIMIT
  if (!Number.isInteger(hopLimit) || hopLimit < 0 || hopLimit > 255) throw new ArgumentError('hopLimit', `0..255, got ${hopLimit}`)
  if (p.icmp.length < 4 || p.icmp.length > 0xffff) throw new ArgumentError('icmp', `4..65535 bytes, got ${p.icmp.length}`)
  const buf = Buffer.alloc(IPV6_HEADER + p.icmp.length)
  buf.writeUInt32BE((0x60000000 | (((p.trafficClass ?? 0) & 0xff) << 20) | ((p.flowLabel ?? 0) & 0xfffff)) >>> 0, 0)
  buf.writeUInt16BE(p.icmp.length, 4)
  buf[6] = IPPROTO_ICMPV6
  buf[7] = hopLimit
  ipv6Bytes(p.source, 'source').copy(buf, 8)
  ipv6Bytes(p.destination, 'destination').copy(buf, 24)
  p.icmp.copy(buf, IPV6_HEADER)
  buf.writeUInt16BE(0, IPV6_HEADER + 2)
  const checksum = ~icmpSum(buf, buf.length) & 0xffff
  buf.writeUInt16BE(checksum, IPV6_HEADER + 2)
  return buf
}

export interface ReceivedIcmpv6 {
  source: string
  destination: string
  hopLimit: number
  trafficClass: number
  flowLabel: number
  /** The ICMPv6 message (a copy), Type octet first. */
  icmp: Buffer
}

/**
 * Reads an IPv6 packet carrying ICMPv6 directly (ND messages never come behind extension headers
 * in practice; such packets are refused as 'bad-ip-header'). Ethernet padding after the payload
 * length is ignored. Throws NdpDecodeError for a wrong version, next header or length, or a bad
 * checksum.
 */
export function decodeIcmpv6Packet(buf: Buffer): ReceivedIcmpv6 {
  if (buf.length < IPV6_HEADER + 4) throw new NdpDecodeError('short-packet', `${buf.length} bytes, too short for IPv6 + ICMPv6`, 0)
  if (buf[0]! >> 4 !== 6) throw new NdpDecodeError('bad-ip-header', `IP version ${buf[0]! >> 4}`, 0)
  if (buf[6] !== IPPROTO_ICMPV6) throw new NdpDecodeError('bad-ip-header', `next header ${buf[6]}, not ICMPv6`, 6)
  const length = IPV6_HEADER + buf.readUInt16BE(4)
  if (length > buf.length || length < IPV6_HEADER + 4) throw new NdpDecodeError('bad-ip-header', `payload length ${length - IPV6_HEADER} with ${buf.length - IPV6_HEADER} bytes present`, 4)
  if (icmpSum(buf, length) !== 0xffff) throw new NdpDecodeError('bad-checksum', `ICMPv6 checksum 0x${buf.readUInt16BE(IPV6_HEADER + 2).toString(16)} is wrong`, IPV6_HEADER + 2)
  return {
    source: formatIp(buf.subarray(8, 24)),
    destination: formatIp(buf.subarray(24, 40)),
    hopLimit: buf[7]!,
    trafficClass: (buf.readUInt32BE(0) >>> 20) & 0xff,
    flowLabel: buf.readUInt32BE(0) & 0xfffff,
    icmp: Buffer.from(buf.subarray(IPV6_HEADER, length)),
  }
}

/** The Ethernet address an IPv6 multicast address maps to: 33:33 and its last 32 bits (RFC 2464 7). */
export function multicastMac(address: string): string {
  const b = ipv6Bytes(address, 'address')
  return ['33', '33', ...[...b.subarray(12)].map((x) => x.toString(16).padStart(2, '0'))].join(':')
}

export function isMulticast(address: string): boolean {
  return ipv6Bytes(address, 'address')[0] === 0xff
}

export function isLinkLocal(address: string): boolean {
  const b = ipv6Bytes(address, 'address')
  return b[0] === 0xfe && (b[1]! & 0xc0) === 0x80
}

export function isUnspecified(address: string): boolean {
  return ipv6Bytes(address, 'address').every((x) => x === 0)
}
