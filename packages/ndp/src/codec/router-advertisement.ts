// Router Advertisement (RFC 4861 4.2, flags from RFC 4191 2.2, RFC 3775 7.1, RFC 4389 4):
//  1 byte type (134), 1 byte code (0), 2 bytes checksum, 1 byte cur hop limit,
//  1 byte flags M|O|H|Prf(2)|P|reserved(2), 2 bytes router lifetime (s), 4 bytes reachable time (ms),
//  4 bytes retrans timer (ms), options.
import { ArgumentError } from '@lab/netlink-native'
import { ND_ROUTER_ADVERT } from './constants.js'
import type { NdOption } from './options.js'
import { preferenceBits, preferenceName, type RouterPreference } from './options/route-information.js'

export interface RouterAdvertisement {
  type: 'router-advertisement'
  /** The hop limit hosts should use; 0 = unspecified by this router. */
  curHopLimit: number
  /** M: addresses are available by DHCPv6. */
  managed: boolean
  /** O: other configuration (DNS...) is available by DHCPv6. */
  other: boolean
  /** H (RFC 6275 7.1): the router is a Mobile IPv6 home agent. */
  homeAgent?: boolean
  /** Default router preference (RFC 4191 2.2). Default medium. */
  preference: RouterPreference
  /** P (RFC 4389 4): the advertisement was proxied. */
  proxy?: boolean
  /** Reserved flag bits set by the sender, kept so the message re-encodes unchanged. */
  reservedFlags?: number
  /** Seconds this router is a default router; 0 = not a default router (RFC 4861 6.3.4). */
  routerLifetime: number
  /** Milliseconds; 0 = unspecified. */
  reachableTime: number
  /** Milliseconds; 0 = unspecified. */
  retransTimer: number
  options: NdOption[]
}

export const RA_HEADER = 16

const M = 0x80
const O = 0x40
const H = 0x20
const P = 0x04

export function encodeRouterAdvertisementHeader(m: RouterAdvertisement): Buffer {
  const out = Buffer.alloc(RA_HEADER)
  out[0] = ND_ROUTER_ADVERT
  if (!Number.isInteger(m.curHopLimit) || m.curHopLimit < 0 || m.curHopLimit > 255) throw new ArgumentError('curHopLimit', `0..255, got ${m.curHopLimit}`)
  if (!Number.isInteger(m.routerLifetime) || m.routerLifetime < 0 || m.routerLifetime > 0xffff) throw new ArgumentError('routerLifetime', `0..65535 s, got ${m.routerLifetime}`)
  out[4] = m.curHopLimit
  out[5] = (m.managed ? M : 0) | (m.other ? O : 0) | (m.homeAgent ? H : 0) | (preferenceBits(m.preference) << 3) | (m.proxy ? P : 0) | ((m.reservedFlags ?? 0) & 0x03)
  out.writeUInt16BE(m.routerLifetime, 6)
  out.writeUInt32BE(m.reachableTime >>> 0, 8)
  out.writeUInt32BE(m.retransTimer >>> 0, 12)
  return out
}

export function decodeRouterAdvertisementHeader(buf: Buffer): Omit<RouterAdvertisement, 'options'> {
  const flags = buf[5]!
  const m: Omit<RouterAdvertisement, 'options'> = {
    type: 'router-advertisement',
    curHopLimit: buf[4]!,
    managed: (flags & M) !== 0,
    other: (flags & O) !== 0,
    preference: preferenceName(flags >> 3),
    routerLifetime: buf.readUInt16BE(6),
    reachableTime: buf.readUInt32BE(8),
    retransTimer: buf.readUInt32BE(12),
  }
  if (flags & H) m.homeAgent = true
  if (flags & P) m.proxy = true
  if (flags & 0x03) m.reservedFlags = flags & 0x03
  return m
}
