// Ethernet + ARP (RFC 826) frames for IPv4 over Ethernet, as typed values.
import { formatMac, ipv4ToNumber, parseMac } from '@lab/netlink-native'
import { ArpError } from './errors.js'

export const ETHERTYPE_ARP = 0x0806
export const ARP_REQUEST = 1
export const ARP_REPLY = 2
export const BROADCAST_MAC = 'ff:ff:ff:ff:ff:ff'
export const ZERO_MAC = '00:00:00:00:00:00'
const FRAME_LENGTH = 42

export interface ArpPacket {
  /** Ethernet destination and source. */
  dst: string
  src: string
  op: typeof ARP_REQUEST | typeof ARP_REPLY
  senderMac: string
  senderIp: string
  targetMac: string
  targetIp: string
}

export type ArpDecodeReason = 'short-frame' | 'not-arp' | 'not-ethernet-ipv4' | 'bad-op'

/** A frame that is not ARP for IPv4 over Ethernet; `reason` says which check failed. */
export class ArpDecodeError extends ArpError {
  constructor(
    readonly reason: ArpDecodeReason,
    detail: string,
  ) {
    super('LAB_ARP_DECODE', `${reason}: ${detail}`)
    this.name = 'ArpDecodeError'
  }
}

function ip(text: string, field: string): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(ipv4ToNumber(text, field))
  return b
}

export function encodeArp(p: ArpPacket): Buffer {
  const b = Buffer.alloc(FRAME_LENGTH)
  parseMac(p.dst, 'dst').copy(b, 0)
  parseMac(p.src, 'src').copy(b, 6)
  b.writeUInt16BE(ETHERTYPE_ARP, 12)
  b.writeUInt16BE(1, 14) // hardware type: Ethernet
  b.writeUInt16BE(0x0800, 16) // protocol type: IPv4
  b[18] = 6
  b[19] = 4
  b.writeUInt16BE(p.op, 20)
  parseMac(p.senderMac, 'senderMac').copy(b, 22)
  ip(p.senderIp, 'senderIp').copy(b, 28)
  parseMac(p.targetMac, 'targetMac').copy(b, 32)
  ip(p.targetIp, 'targetIp').copy(b, 38)
  return b
}

const ipAt = (b: Buffer, at: number) => `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`

/** Decodes an Ethernet frame carrying ARP for IPv4; anything else throws ArpDecodeError. */
export function decodeArp(frame: Buffer): ArpPacket {
  if (frame.length < FRAME_LENGTH) throw new ArpDecodeError('short-frame', `${frame.length} bytes, ARP over Ethernet needs ${FRAME_LENGTH}`)
  if (frame.readUInt16BE(12) !== ETHERTYPE_ARP) throw new ArpDecodeError('not-arp', `ethertype 0x${frame.readUInt16BE(12).toString(16)}`)
  if (frame.readUInt16BE(14) !== 1 || frame.readUInt16BE(16) !== 0x0800 || frame[18] !== 6 || frame[19] !== 4) {
    throw new ArpDecodeError('not-ethernet-ipv4', `htype ${frame.readUInt16BE(14)} ptype 0x${frame.readUInt16BE(16).toString(16)} hlen ${frame[18]} plen ${frame[19]}`)
  }
  const op = frame.readUInt16BE(20)
  if (op !== ARP_REQUEST && op !== ARP_REPLY) throw new ArpDecodeError('bad-op', `op ${op}`)
  return {
    dst: formatMac(frame.subarray(0, 6)),
    src: formatMac(frame.subarray(6, 12)),
    op,
    senderMac: formatMac(frame.subarray(22, 28)),
    senderIp: ipAt(frame, 28),
    targetMac: formatMac(frame.subarray(32, 38)),
    targetIp: ipAt(frame, 38),
  }
}

export function arpToString(p: ArpPacket): string {
  if (p.op === ARP_REQUEST) {
    if (p.senderIp === '0.0.0.0') return `ARP probe who-has ${p.targetIp} from ${p.senderMac}`
    if (p.senderIp === p.targetIp) return `ARP announcement ${p.senderIp} is-at ${p.senderMac}`
    return `ARP who-has ${p.targetIp} tell ${p.senderIp} (${p.senderMac})`
  }
  return `ARP reply ${p.senderIp} is-at ${p.senderMac}${p.senderIp === p.targetIp ? ' (gratuitous)' : ''}`
}

/**
 * Gratuitous ARP in the three forms networks disagree about:
 * - 'request' (seed 002, RFC 5227's ARP announcement): a request whose sender and target address
 *   are both the announced address, target MAC all zeros, to broadcast; EVPN fabrics with ARP
 *   suppression still flood it.
 * - 'arping': the same with target MAC ff:ff:ff:ff:ff:ff, as `arping -U` sends it; some devices
 *   only update their caches for this one.
 * - 'reply': an unsolicited reply (`arping -A`), for hosts that ignore gratuitous requests.
 */
export type AnnouncementForm = 'request' | 'arping' | 'reply'

export function announcement(mac: string, address: string, form: AnnouncementForm = 'request'): ArpPacket {
  return {
    dst: BROADCAST_MAC,
    src: mac,
    op: form === 'reply' ? ARP_REPLY : ARP_REQUEST,
    senderMac: mac,
    senderIp: address,
    targetMac: form === 'request' ? ZERO_MAC : form === 'arping' ? BROADCAST_MAC : mac,
    targetIp: address,
  }
}

/** An RFC 5227 probe: "who has ADDRESS", sender address 0.0.0.0 so no cache learns from it. */
export function probe(mac: string, address: string): ArpPacket {
  return { dst: BROADCAST_MAC, src: mac, op: ARP_REQUEST, senderMac: mac, senderIp: '0.0.0.0', targetMac: ZERO_MAC, targetIp: address }
}
