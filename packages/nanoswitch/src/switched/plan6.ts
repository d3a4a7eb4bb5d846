// The bridge's IPv6 side from the switch's address: `fd0a:b3ec:1::1/64` → the on-link prefix
// fd0a:b3ec:1::/64 (announced for SLAAC), and a DHCPv6 range inside it, ::1000 to ::ffff, away
// from the switch's own low addresses and from SLAAC's EUI-64 and random interface ids (which
// have bits set in the upper 48 bits of the interface id).
import { ArgumentError, formatIp, parseCidr } from '@lab/netlink-native'

export const DEFAULT_SUBNET6 = 'fd0a:b3ec:1::1/64'

export interface BridgePlan6 {
  /** The switch's address with its prefix, as given: `fd0a:b3ec:1::1/64`. */
  cidr: string
  address: string
  /** The on-link /64: `fd0a:b3ec:1::/64`. */
  prefix: string
  /** First and last address the DHCPv6 server hands out. */
  range: [string, string]
}

const big = (bytes: Buffer): bigint => BigInt('0x' + bytes.toString('hex'))
const ip = (n: bigint): string => formatIp(Buffer.from(n.toString(16).padStart(32, '0'), 'hex'))

/** Throws ArgumentError (`subnet6`) for anything but an IPv6 host address in a /64. */
export function bridgePlan6(cidr: string): BridgePlan6 {
  if (typeof cidr !== 'string' || !cidr.includes(':')) throw new ArgumentError('subnet6', `an IPv6 address with prefix, e.g. ${DEFAULT_SUBNET6}, not ${cidr}`)
  const p = parseCidr(cidr, 'subnet6')
  // SLAAC forms addresses only in a /64 (RFC 4862 5.5.3 with RFC 4291's 64-bit interface ids).
  if (p.length !== 64) throw new ArgumentError('subnet6', `${cidr}: the bridge needs a /64 (hosts form their addresses by SLAAC), not /${p.length}`)
  const address = big(p.bytes)
  const network = (address >> 64n) << 64n
  const host = address - network
  if (host === 0n) throw new ArgumentError('subnet6', `${cidr}: the switch needs a host address, not the prefix itself`)
  if (network >> 120n === 0xffn || network >> 118n === 0x3fan) throw new ArgumentError('subnet6', `${cidr}: a unicast global or unique local prefix, not multicast or link-local`)
  const first = network + 0x1000n
  const last = network + 0xffffn
  if (address >= first && address <= last) throw new ArgumentError('subnet6', `${cidr}: the switch's address is inside the DHCPv6 range ::1000-::ffff; pick one outside it (::1, say)`)
  return { cidr: `${ip(address)}/64`, address: ip(address), prefix: `${ip(network)}/64`, range: [ip(first), ip(last)] }
}
