// Router Solicitation (RFC 4861 4.1): a host asks routers to advertise now.
//  1 byte type (133), 1 byte code (0), 2 bytes checksum, 4 bytes reserved, options.
import { ND_ROUTER_SOLICIT } from './constants.js'
import type { NdOption } from './options.js'

export interface RouterSolicitation {
  type: 'router-solicitation'
  /** Usually a source link-layer address, absent when the source is :: (RFC 4861 4.1). */
  options: NdOption[]
}

export const RS_HEADER = 8

export function encodeRouterSolicitationHeader(_m: RouterSolicitation): Buffer {
  const out = Buffer.alloc(RS_HEADER)
  out[0] = ND_ROUTER_SOLICIT
  return out
}
