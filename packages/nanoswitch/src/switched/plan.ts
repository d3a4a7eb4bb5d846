// The bridge subnet from the switch's address: `10.1.0.1/24` → network 10.1.0.0/24, pool from .2
// to the last address before broadcast, the switch as router.
import { ArgumentError, numberToIpv4 as toIp, parseIpv4Cidr } from '@lab/netlink-native'

export interface BridgePlan {
  /** The switch's address with its prefix, as given. */
  cidr: string
  address: string
  prefixLength: number
  network: string
  range: [string, string]
}

export function bridgePlan(cidr: string): BridgePlan {
  if (typeof cidr !== 'string' || cidr.includes(':')) throw new ArgumentError('subnet', `an IPv4 address with prefix, e.g. 10.1.0.1/24, not ${cidr}`)
  const p = parseIpv4Cidr(cidr, 'subnet')
  if (p.prefixLength > 29 || p.prefixLength < 8) throw new ArgumentError('subnet', `prefix /${p.prefixLength} leaves no room for a pool (use /8 to /29)`)
  const { address, network, broadcast } = p
  const first = network + 2
  const last = broadcast - 1
  if (address === network || address === broadcast) throw new ArgumentError('subnet', `${cidr}: the switch needs a host address, not the network or broadcast address`)
  return { cidr: `${toIp(address)}/${p.prefixLength}`, address: toIp(address), prefixLength: p.prefixLength, network: `${toIp(network)}/${p.prefixLength}`, range: [toIp(first), toIp(last)] }
}
