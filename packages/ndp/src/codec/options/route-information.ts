// Route Information option (RFC 4191 2.3): a more-specific route through this router, with a
// preference and a lifetime. The prefix field is 0, 8 or 16 octets (Length 1, 2 or 3).
//  1 byte type (24), 1 byte length, 1 byte prefix length, 1 byte flags (Prf in bits 3-4),
//  4 bytes route lifetime, 0/8/16 bytes prefix.
import { ArgumentError, formatIp, parseIp } from '@lab/netlink-native'
import { ND_OPT_ROUTE_INFORMATION } from '../constants.js'
import { lifetimeText, optionError, type OptionCodec, type Padded } from './option.js'

/** Router preference (RFC 4191 2.1); 'reserved' (binary 10) is kept so it re-encodes, but hosts ignore it. */
export type RouterPreference = 'high' | 'medium' | 'low' | 'reserved'

const PRF_BITS: Record<RouterPreference, number> = { medium: 0, high: 1, reserved: 2, low: 3 }
const PRF_NAMES: RouterPreference[] = ['medium', 'high', 'reserved', 'low']

/** The two-bit preference field's value. */
export function preferenceBits(p: RouterPreference | undefined): number {
  const bits = PRF_BITS[p ?? 'medium']
  if (bits === undefined) throw new ArgumentError('preference', `high, medium or low, got ${p}`)
  return bits
}

export function preferenceName(bits: number): RouterPreference {
  return PRF_NAMES[bits & 3]!
}

export interface RouteInformation extends Padded {
  type: 'route-information'
  prefix: string
  prefixLength: number
  /** Default medium. */
  preference: RouterPreference
  /** Seconds; 0xffffffff is infinity, 0 withdraws the route. */
  lifetime: number
  /** Flag bits other than Prf, kept so the option re-encodes unchanged. */
  reservedFlags?: number
}

/** The Length (in 8-octet units) a prefix length needs (RFC 4191 2.3). */
function minimalLength(prefixLength: number): number {
  return prefixLength === 0 ? 1 : prefixLength <= 64 ? 2 : 3
}

export const routeInformation: OptionCodec<RouteInformation> = {
  code: ND_OPT_ROUTE_INFORMATION,
  name: 'route-information',
  decode(body, at, length) {
    if (length > 3) throw optionError('bad-option-length', ND_OPT_ROUTE_INFORMATION, at, `length ${length}, at most 3`)
    const prefixLength = body[0]!
    if (prefixLength > 128) throw optionError('bad-option-value', ND_OPT_ROUTE_INFORMATION, at, `prefix length ${prefixLength}`)
    // "If the Prefix Length is greater than 64, then Length must be 3. If the Prefix Length is
    // greater than 0, then Length must be 2 or 3." (RFC 4191 2.3)
    if (length < minimalLength(prefixLength)) throw optionError('bad-option-length', ND_OPT_ROUTE_INFORMATION, at, `length ${length} too short for a /${prefixLength}`)
    const prefix = Buffer.alloc(16)
    body.copy(prefix, 0, 6)
    const flags = body[1]!
    const value: RouteInformation = {
      type: 'route-information',
      prefix: formatIp(prefix),
      prefixLength,
      preference: preferenceName(flags >> 3),
      lifetime: body.readUInt32BE(2),
    }
    if (flags & 0xe7) value.reservedFlags = flags & 0xe7
    if (length !== minimalLength(prefixLength)) value.length = length
    return value
  },
  encode(v) {
    if (!Number.isInteger(v.prefixLength) || v.prefixLength < 0 || v.prefixLength > 128) throw new ArgumentError('prefixLength', `0..128, got ${v.prefixLength}`)
    const length = Math.max(v.length ?? 0, minimalLength(v.prefixLength))
    if (length > 3) throw new ArgumentError('length', `at most 3, got ${length}`)
    const body = Buffer.alloc(length * 8 - 2)
    body[0] = v.prefixLength
    body[1] = (preferenceBits(v.preference) << 3) | ((v.reservedFlags ?? 0) & 0xe7)
    body.writeUInt32BE(v.lifetime >>> 0, 2)
    const ip = parseIp(v.prefix, 'prefix')
    if (ip.family !== 6) throw new ArgumentError('prefix', `expected an IPv6 prefix, got ${v.prefix}`)
    ip.bytes.copy(body, 6, 0, body.length - 6)
    return body
  },
  format: (v) => `route info: ${v.prefix}/${v.prefixLength}, pref=${v.preference}, lifetime=${lifetimeText(v.lifetime)}`,
}
