// The bridge subnet from the switch's address: `10.1.0.1/24` → network 10.1.0.0/24, pool from .2
// to the last address before broadcast, the switch as router.
import { ArgumentError, parseCidr } from '@lab/netlink-native'

export interface BridgePlan {
  /** The switch's address with its prefix, as given. */
  cidr: string
  address: string
  prefixLength: number
  network: string
  range: [string, string]
}

const toIp = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.')

export function bridgePlan(cidr: string): BridgePlan {
  const p = parseCidr(cidr, 'subnet')
  if (p.family !== 4) throw new ArgumentError('subnet', `an IPv4 address with prefix, e.g. 10.1.0.1/24, not ${cidr}`)
  if (p.length > 29 || p.length < 8) throw new ArgumentError('subnet', `prefix /${p.length} leaves no room for a pool (use /8 to /29)`)
  const address = p.bytes.readUInt32BE(0)
  const mask = (0xffffffff << (32 - p.length)) >>> 0
  const network = (address & mask) >>> 0
  const broadcast = (network | (~mask >>> 0)) >>> 0
  const first = network + 2
  const last = broadcast - 1
  if (address === network || address === broadcast) throw new ArgumentError('subnet', `${cidr}: the switch needs a host address, not the network or broadcast address`)
  return { cidr: `${toIp(address)}/${p.length}`, address: toIp(address), prefixLength: p.length, network: `${toIp(network)}/${p.length}`, range: [toIp(first), toIp(last)] }
}
