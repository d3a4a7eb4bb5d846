// The addresses and names of slot i, derived from configurable ranges (seed 003's topology):
//   namespace lab-slot-{i}; host side veth-{i} = vethBase + 2i /31, namespace side eth0 = vethBase + 2i + 1 /31,
//   host-reachable address = hostBase + i, and in every namespace the same tap0 169.254.0.22/30 with
//   the guest at 169.254.0.21 and MAC 02:fc:00:00:00:05, so a snapshot restores in any slot.
import { ArgumentError, ipv4ToNumber, numberToIpv4 } from '@lab/netlink-native'

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
}

/** The shared dotted-quad rule, with a plainer word for an IPv6 address given where slots need IPv4. */
function toNumber(ip: string, field: string): number {
  if (typeof ip === 'string' && ip.includes(':')) throw new ArgumentError(field, 'slots use IPv4 ranges')
  return ipv4ToNumber(ip, field)
}

export function validateRanges(r: SlotRanges): void {
  toNumber(r.hostBase, 'hostBase')
  if (toNumber(r.vethBase, 'vethBase') % 2 !== 0) throw new ArgumentError('vethBase', 'must be even (slots use /31 pairs)')
  toNumber(r.tapAddress, 'tapAddress')
  toNumber(r.guestAddress, 'guestAddress')
  if (!Number.isInteger(r.maxSlots) || r.maxSlots < 1 || r.maxSlots > 65535) throw new ArgumentError('maxSlots', '1..65535')
  const longest = `${r.vethPrefix}${r.maxSlots}`
  if (longest.length > 15) throw new ArgumentError('vethPrefix', `"${longest}" is longer than an interface name may be`)
}

export function slotAddressing(r: SlotRanges, index: number): SlotAddressing {
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
  }
}
