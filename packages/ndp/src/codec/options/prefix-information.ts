// Prefix Information option (RFC 4861 4.6.2): a prefix on the link, whether it is on-link (L) and
// usable for address autoconfiguration (A, RFC 4862 5.5.3), with valid and preferred lifetimes.
//
//  1 byte type (3), 1 byte length (4), 1 byte prefix length, 1 byte flags L|A|R (RFC 6275 7.2),
//  4 bytes valid lifetime, 4 bytes preferred lifetime, 4 bytes reserved, 16 bytes prefix.
import { ArgumentError, formatIp, parseIp } from '@lab/netlink-native'
import { ND_OPT_PREFIX_INFORMATION } from '../constants.js'
import { lifetimeText, optionError, type OptionCodec } from './option.js'

export interface PrefixInformation {
  type: 'prefix-information'
  /** The prefix's address ("fd00:1::"); bits past `prefixLength` are kept as sent. */
  prefix: string
  prefixLength: number
  /** L: the prefix is on-link. */
  onLink: boolean
  /** A: hosts may form addresses in it by SLAAC (needs a /64 on Ethernet). */
  autonomous: boolean
  /** R (RFC 6275 7.2): `prefix` is the router's full address. */
  routerAddress?: boolean
  /** Reserved flag bits set by the sender, kept so the option re-encodes unchanged. */
  reservedFlags?: number
  /** Seconds; 0xffffffff is infinity. */
  validLifetime: number
  preferredLifetime: number
}

const L = 0x80
const A = 0x40
const R = 0x20

export const prefixInformation: OptionCodec<PrefixInformation> = {
  code: ND_OPT_PREFIX_INFORMATION,
  name: 'prefix-information',
  decode(body, at) {
    if (body.length !== 30) throw optionError('bad-option-length', ND_OPT_PREFIX_INFORMATION, at, `length ${(body.length + 2) / 8}, expected 4`)
    const prefixLength = body[0]!
    if (prefixLength > 128) throw optionError('bad-option-value', ND_OPT_PREFIX_INFORMATION, at, `prefix length ${prefixLength}`)
    const flags = body[1]!
    const value: PrefixInformation = {
      type: 'prefix-information',
      prefix: formatIp(body.subarray(14, 30)),
      prefixLength,
      onLink: (flags & L) !== 0,
      autonomous: (flags & A) !== 0,
      validLifetime: body.readUInt32BE(2),
      preferredLifetime: body.readUInt32BE(6),
    }
    if (flags & R) value.routerAddress = true
    if (flags & 0x1f) value.reservedFlags = flags & 0x1f
    return value
  },
  encode(v) {
    const body = Buffer.alloc(30)
    if (!Number.isInteger(v.prefixLength) || v.prefixLength < 0 || v.prefixLength > 128) throw new ArgumentError('prefixLength', `0..128, got ${v.prefixLength}`)
    body[0] = v.prefixLength
    body[1] = (v.onLink ? L : 0) | (v.autonomous ? A : 0) | (v.routerAddress ? R : 0) | ((v.reservedFlags ?? 0) & 0x1f)
    body.writeUInt32BE(v.validLifetime >>> 0, 2)
    body.writeUInt32BE(v.preferredLifetime >>> 0, 6)
    const ip = parseIp(v.prefix, 'prefix')
    if (ip.family !== 6) throw new ArgumentError('prefix', `expected an IPv6 prefix, got ${v.prefix}`)
    ip.bytes.copy(body, 14)
    return body
  },
  format: (v) =>
    `prefix info: ${v.prefix}/${v.prefixLength}, Flags [${[v.onLink && 'onlink', v.autonomous && 'auto', v.routerAddress && 'router'].filter(Boolean).join(', ')}], valid time ${lifetimeText(v.validLifetime)}, pref. time ${lifetimeText(v.preferredLifetime)}`,
}
