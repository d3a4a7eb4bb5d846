// Neighbor Solicitation (RFC 4861 4.3): who has `target` (address resolution, unreachability
// detection, or DAD when the source is ::).
//  1 byte type (135), 1 byte code (0), 2 bytes checksum, 4 bytes reserved, 16 bytes target, options.
import { ArgumentError, parseIp } from '@lab/netlink-native'
import { ND_NEIGHBOR_SOLICIT } from './constants.js'
import type { NdOption } from './options.js'

export interface NeighborSolicitation {
  type: 'neighbor-solicitation'
  target: string
  options: NdOption[]
}

export const NS_HEADER = 24

export function targetBytes(target: string): Buffer {
  const ip = parseIp(target, 'target')
  if (ip.family !== 6) throw new ArgumentError('target', `expected an IPv6 address, got ${target}`)
  if (ip.bytes[0] === 0xff) throw new ArgumentError('target', `must not be multicast, got ${target}`)
  return ip.bytes
}

export function encodeNeighborSolicitationHeader(m: NeighborSolicitation): Buffer {
  const out = Buffer.alloc(NS_HEADER)
  out[0] = ND_NEIGHBOR_SOLICIT
  targetBytes(m.target).copy(out, 8)
  return out
}
