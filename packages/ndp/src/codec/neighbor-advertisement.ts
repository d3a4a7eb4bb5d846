// Neighbor Advertisement (RFC 4861 4.4): `target` is at this link-layer address.
//  1 byte type (136), 1 byte code (0), 2 bytes checksum, 1 byte flags R|S|O + 3 bytes reserved,
//  16 bytes target, options.
import { ND_NEIGHBOR_ADVERT } from './constants.js'
import { targetBytes } from './neighbor-solicitation.js'
import type { NdOption } from './options.js'

export interface NeighborAdvertisement {
  type: 'neighbor-advertisement'
  /** R: the sender is a router. */
  router: boolean
  /** S: an answer to a Neighbor Solicitation. */
  solicited: boolean
  /** O: replace the cached link-layer address. */
  override: boolean
  target: string
  options: NdOption[]
}

export const NA_HEADER = 24

const R = 0x80
const S = 0x40
const O = 0x20

export function encodeNeighborAdvertisementHeader(m: NeighborAdvertisement): Buffer {
  const out = Buffer.alloc(NA_HEADER)
  out[0] = ND_NEIGHBOR_ADVERT
  out[4] = (m.router ? R : 0) | (m.solicited ? S : 0) | (m.override ? O : 0)
  targetBytes(m.target).copy(out, 8)
  return out
}

export function decodeNeighborAdvertisementFlags(flags: number): Pick<NeighborAdvertisement, 'router' | 'solicited' | 'override'> {
  return { router: (flags & R) !== 0, solicited: (flags & S) !== 0, override: (flags & O) !== 0 }
}
