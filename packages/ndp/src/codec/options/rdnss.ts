// Recursive DNS Server option (RFC 8106 5.1): DNS server addresses and how long to use them.
//  1 byte type (25), 1 byte length (1 + 2 per address), 2 bytes reserved, 4 bytes lifetime,
//  16 bytes per address.
import { ArgumentError, formatIp, parseIp } from '@lab/netlink-native'
import { ND_OPT_RDNSS } from '../constants.js'
import { lifetimeText, optionError, type OptionCodec } from './option.js'

export interface Rdnss {
  type: 'rdnss'
  /** Seconds; 0xffffffff is infinity, 0 says stop using them. */
  lifetime: number
  servers: string[]
}

export const rdnss: OptionCodec<Rdnss> = {
  code: ND_OPT_RDNSS,
  name: 'rdnss',
  decode(body, at, length) {
    // "The minimum value is 3 if one IPv6 address is contained in the option. Every additional
    // RDNSS address increases the length by 2." (RFC 8106 5.1)
    if (length < 3 || length % 2 === 0) throw optionError('bad-option-length', ND_OPT_RDNSS, at, `length ${length}, expected 3, 5, 7...`)
    const servers: string[] = []
    for (let i = 6; i < body.length; i += 16) servers.push(formatIp(body.subarray(i, i + 16)))
    return { type: 'rdnss', lifetime: body.readUInt32BE(2), servers }
  },
  encode(v) {
    if (v.servers.length === 0) throw new ArgumentError('servers', 'an RDNSS option needs at least one address')
    const body = Buffer.alloc(6 + 16 * v.servers.length)
    body.writeUInt32BE(v.lifetime >>> 0, 2)
    v.servers.forEach((s, i) => {
      const ip = parseIp(s, 'servers')
      if (ip.family !== 6) throw new ArgumentError('servers', `expected IPv6 addresses, got ${s}`)
      ip.bytes.copy(body, 6 + 16 * i)
    })
    return body
  },
  format: (v) => `rdnss option: lifetime ${lifetimeText(v.lifetime)}, addr: ${v.servers.join(' ')}`,
}
