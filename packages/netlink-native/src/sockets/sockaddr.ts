// Socket addresses as the kernel lays them out (the addon takes raw bytes): sockaddr_in,
// sockaddr_in6 and sockaddr_ll.
import { formatIp, formatMac, parseMac, parseIp } from '../rtnetlink/inet.js'
import { ArgumentError } from '../errors.js'
import { AF_INET, AF_INET6, AF_PACKET } from '../sys/socket.js'

export { AF_INET, AF_INET6, AF_PACKET }

export function sockaddrIn(address: string, port: number): Buffer {
  const ip = parseIp(address, 'address')
  if (ip.family !== 4) throw new ArgumentError('address', 'IPv4 only')
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ArgumentError('port', `invalid port ${port}`)
  const b = Buffer.alloc(16)
  b.writeUInt16LE(AF_INET, 0)
  b.writeUInt16BE(port, 2)
  ip.bytes.copy(b, 4)
  return b
}

export function readSockaddrIn(b: Buffer, at = 0): { address: string; port: number } {
  return { address: `${b[at + 4]}.${b[at + 5]}.${b[at + 6]}.${b[at + 7]}`, port: b.readUInt16BE(at + 2) }
}

/** struct sockaddr_in6 (28 bytes); `scopeId` is the interface a link-local address is on. */
export function sockaddrIn6(address: string, port: number, scopeId = 0): Buffer {
  const ip = parseIp(address, 'address')
  if (ip.family !== 6) throw new ArgumentError('address', 'IPv6 only')
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ArgumentError('port', `invalid port ${port}`)
  const b = Buffer.alloc(28)
  b.writeUInt16LE(AF_INET6, 0)
  b.writeUInt16BE(port, 2)
  ip.bytes.copy(b, 8)
  b.writeUInt32LE(scopeId, 24)
  return b
}

/** Reads a sockaddr_in6; `scopeId` is 0 unless the address is link-local. */
export function readSockaddrIn6(b: Buffer, at = 0): { address: string; port: number; scopeId: number } {
  return { address: formatIp(b.subarray(at + 8, at + 24)), port: b.readUInt16BE(at + 2), scopeId: b.readUInt32LE(at + 24) }
}

/** Packet types in sockaddr_ll.sll_pkttype. */
export const PACKET_TYPES = ['host', 'broadcast', 'multicast', 'otherhost', 'outgoing'] as const
export type PacketType = (typeof PACKET_TYPES)[number]

export interface LinkLayerAddress {
  ifindex: number
  /** Ethertype, host order (0x0800, 0x0806, ...). */
  protocol: number
  packetType: PacketType
  /** Source MAC on receive. */
  address: string
}

/** struct sockaddr_ll (20 bytes). */
export function sockaddrLl(ifindex: number, protocol: number, mac?: string): Buffer {
  const b = Buffer.alloc(20)
  b.writeUInt16LE(AF_PACKET, 0)
  b.writeUInt16BE(protocol, 2)
  b.writeInt32LE(ifindex, 4)
  if (mac) {
    b.writeUInt8(6, 11)
    parseMac(mac, 'mac').copy(b, 12)
  }
  return b
}

export function readSockaddrLl(b: Buffer): LinkLayerAddress {
  const halen = b.readUInt8(11)
  return {
    ifindex: b.readInt32LE(4),
    protocol: b.readUInt16BE(2),
    packetType: PACKET_TYPES[b.readUInt8(10)] ?? 'otherhost',
    address: formatMac(b.subarray(12, 12 + Math.min(halen, 8))),
  }
}
