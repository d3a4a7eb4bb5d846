// The addresses and names of slot i, derived from configurable ranges (seed 003's topology):
//   namespace lab-slot-{i}; host side veth-{i} = vethBase + 2i /31, namespace side eth0 = vethBase + 2i + 1 /31,
//   host-reachable address = hostBase + i, and in every namespace the same tap0 169.254.0.22/30 with
//   the guest at 169.254.0.21 and MAC 02:fc:00:00:00:05, so a snapshot restores in any slot.
// With IPv6 (ULA, RFC 4193), the same shape: veth-{i} = vethBase6 + 2i /127, eth0 = vethBase6 + 2i + 1
//   /127, host-reachable = hostBase6 + i /128, and in every namespace tap0 fd0a:b3ec:fc::1/64 with
//   the guest at fd0a:b3ec:fc::2.
import { ArgumentError, formatIp, ipv4ToNumber, numberToIpv4, parseIp } from '@lab/netlink-native'

export interface SlotRanges {
  /** Host-reachable addresses: slot i gets base + i. */
  hostBase: string
  /** Veth /31s: slot i gets base + 2i (host) and base + 2i + 1 (namespace). */
  vethBase: string
  tapAddress: string
  tapPrefixLength: number
  guestAddress: string
  guestMac: string
  tapName: string
  /** Namespace name prefix: slot i lives in `${netnsPrefix}${i}`. */
  netnsPrefix: string
  /** Host-side veth name prefix: `${vethPrefix}${i}`. */
  vethPrefix: string
  /** Interface name of the namespace side of the veth. */
  peerName: string
  /** Highest slot index handed out. */
  maxSlots: number
  /** IPv6 host-reachable addresses (slots with IPv6): slot i gets base + i. */
  hostBase6: string
  /** IPv6 veth /127s: slot i gets base + 2i (host) and base + 2i + 1 (namespace). */
  vethBase6: string
  /** The TAP's IPv6 address in every slot (the guest's gateway). */
  tapAddress6: string
  tapPrefixLength6: number
  /** The guest's IPv6 address in every slot. */
  guestAddress6: string
}

export const DEFAULT_RANGES: SlotRanges = {
  hostBase: '10.11.0.0',
  vethBase: '10.12.0.0',
  tapAddress: '169.254.0.22',
  tapPrefixLength: 30,
  guestAddress: '169.254.0.21',
  guestMac: '02:fc:00:00:00:05',
  tapName: 'tap0',
  netnsPrefix: 'lab-slot-',
  vethPrefix: 'veth-',
  peerName: 'eth0',
  maxSlots: 4000,
  // One ULA /48 (RFC 4193), subnets named after the IPv4 ranges: 11 host-reachable, 12 veths.
  hostBase6: 'fd0a:b3ec:11::',
  vethBase6: 'fd0a:b3ec:12::',
  tapAddress6: 'fd0a:b3ec:fc::1',
  tapPrefixLength6: 64,
  guestAddress6: 'fd0a:b3ec:fc::2',
}

/** A slot's IPv6 addresses: the same roles as the IPv4 ones, same NAT shape. */
export interface SlotAddressing6 {
  /** Host side of the veth, /127. */
  vethAddress: string
  /** Namespace side of the veth, /127: the slot's IPv6 source address after SNAT. */
  peerAddress: string
  hostReachableIP: string
  tapAddress: string
  tapPrefixLength: number
  guestIP: string
}

export interface SlotAddressing {
  index: number
  netns: string
  vethName: string
  peerName: string
  /** Host side of the veth, /31. */
  vethAddress: string
  /** Namespace side of the veth, /31: the slot's source address after SNAT. */
  peerAddress: string
  hostReachableIP: string
  tapName: string
  tapAddress: string
  tapPrefixLength: number
  guestIP: string
  guestMAC: string
  /** The slot's IPv6 addresses; undefined for a slot without IPv6. */
  ipv6?: SlotAddressing6
}

/** The shared dotted-quad rule, with a plainer word for an IPv6 address given where slots need IPv4. */
function toNumber(ip: string, field: string): number {
  if (typeof ip === 'string' && ip.includes(':')) throw new ArgumentError(field, 'slots use IPv4 ranges')
  return ipv4ToNumber(ip, field)
}

/** An IPv6 address as a 128-bit number; an IPv4 address is refused naming the field. */
function toNumber6(ip: string, field: string): bigint {
  const p = parseIp(ip, field)
  if (p.family !== 6) throw new ArgumentError(field, 'expected an IPv6 address')
  return BigInt(`0x${Buffer.from(p.bytes).toString('hex')}`)
}

function fromNumber6(n: bigint): string {
  return formatIp(Buffer.from(n.toString(16).padStart(32, '0'), 'hex'))
}

const MAX6 = (1n << 128n) - 1n

export function validateRanges(r: SlotRanges): void {
  toNumber(r.hostBase, 'hostBase')
  if (toNumber(r.vethBase, 'vethBase') % 2 !== 0) throw new ArgumentError('vethBase', 'must be even (slots use /31 pairs)')
  toNumber(r.tapAddress, 'tapAddress')
  toNumber(r.guestAddress, 'guestAddress')
  if (!Number.isInteger(r.maxSlots) || r.maxSlots < 1 || r.maxSlots > 65535) throw new ArgumentError('maxSlots', '1..65535')
  const veth6 = toNumber6(r.vethBase6, 'vethBase6')
  if (veth6 % 2n !== 0n) throw new ArgumentError('vethBase6', 'must be even (slots use /127 pairs)')
  if (veth6 + 2n * BigInt(r.maxSlots) + 1n > MAX6) throw new ArgumentError('vethBase6', 'too high for maxSlots slots')
  if (toNumber6(r.hostBase6, 'hostBase6') + BigInt(r.maxSlots) > MAX6) throw new ArgumentError('hostBase6', 'too high for maxSlots slots')
  toNumber6(r.tapAddress6, 'tapAddress6')
  toNumber6(r.guestAddress6, 'guestAddress6')
  if (!Number.isInteger(r.tapPrefixLength6) || r.tapPrefixLength6 < 1 || r.tapPrefixLength6 > 127) throw new ArgumentError('tapPrefixLength6', '1..127')
  const longest = `${r.vethPrefix}${r.maxSlots}`
  if (longest.length > 15) throw new ArgumentError('vethPrefix', `"${longest}" is longer than an interface name may be`)
}

/** Slot `index`'s names and addresses; with `ipv6`, its IPv6 addresses too. */
export function slotAddressing(r: SlotRanges, index: number, ipv6 = false): SlotAddressing {
  if (!Number.isInteger(index) || index < 1 || index > r.maxSlots) throw new ArgumentError('index', `slot index must be 1..${r.maxSlots}`)
  const veth = toNumber(r.vethBase, 'vethBase') + 2 * index
  return {
    index,
    netns: `${r.netnsPrefix}${index}`,
    vethName: `${r.vethPrefix}${index}`,
    peerName: r.peerName,
    vethAddress: numberToIpv4(veth),
    peerAddress: numberToIpv4(veth + 1),
    hostReachableIP: numberToIpv4(toNumber(r.hostBase, 'hostBase') + index),
    tapName: r.tapName,
    tapAddress: r.tapAddress,
    tapPrefixLength: r.tapPrefixLength,
    guestIP: r.guestAddress,
    guestMAC: r.guestMac,
    ...(ipv6 ? { ipv6: slotAddressing6(r, index) } : {}),
  }
}

function slotAddressing6(r: SlotRanges, index: number): SlotAddressing6 {
  const veth = toNumber6(r.vethBase6, 'vethBase6') + 2n * BigInt(index)
  return {
    vethAddress: fromNumber6(veth),
    peerAddress: fromNumber6(veth + 1n),
    hostReachableIP: fromNumber6(toNumber6(r.hostBase6, 'hostBase6') + BigInt(index)),
    tapAddress: fromNumber6(toNumber6(r.tapAddress6, 'tapAddress6')),
    tapPrefixLength: r.tapPrefixLength6,
    guestIP: fromNumber6(toNumber6(r.guestAddress6, 'guestAddress6')),
  }
}
