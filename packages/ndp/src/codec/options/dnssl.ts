// DNS Search List option (RFC 8106 5.2): domain names in DNS wire format (RFC 1035 3.1, no
// compression), padded with zero octets to the option's end.
//  1 byte type (31), 1 byte length, 2 bytes reserved, 4 bytes lifetime, names, zero padding.
import { ArgumentError } from '@lab/netlink-native'
import { ND_OPT_DNSSL } from '../constants.js'
import { lifetimeText, optionError, type OptionCodec, type Padded } from './option.js'

export interface Dnssl extends Padded {
  type: 'dnssl'
  lifetime: number
  /** Names without the trailing dot: "lab.example". */
  domains: string[]
}

function encodeName(name: string): Buffer {
  const labels = name.replace(/\.$/, '').split('.')
  const parts: Buffer[] = []
  for (const label of labels) {
    const bytes = Buffer.from(label, 'ascii')
    if (bytes.length === 0 || bytes.length > 63) throw new ArgumentError('domains', `"${name}": each label needs 1..63 characters`)
    parts.push(Buffer.from([bytes.length]), bytes)
  }
  parts.push(Buffer.from([0]))
  const out = Buffer.concat(parts)
  if (out.length > 255) throw new ArgumentError('domains', `"${name}" is longer than 255 octets`)
  return out
}

export const dnssl: OptionCodec<Dnssl> = {
  code: ND_OPT_DNSSL,
  name: 'dnssl',
  decode(body, at, length) {
    if (length < 2) throw optionError('bad-option-length', ND_OPT_DNSSL, at, `length ${length}, at least 2`)
    const domains: string[] = []
    let i = 6
    // A zero octet where a name would start is padding; everything after it must be zero too.
    while (i < body.length && body[i] !== 0) {
      const labels: string[] = []
      let nameLength = 0
      for (;;) {
        if (i >= body.length) throw optionError('bad-option-value', ND_OPT_DNSSL, at, 'a domain name runs past the option')
        const n = body[i]!
        if (n === 0) {
          i++
          break
        }
        // Compression pointers (0xc0) and the reserved label types are not allowed here.
        if (n > 63) throw optionError('bad-option-value', ND_OPT_DNSSL, at, `label length ${n}`)
        if (i + 1 + n > body.length) throw optionError('bad-option-value', ND_OPT_DNSSL, at, 'a label runs past the option')
        nameLength += n + 1
        if (nameLength > 254) throw optionError('bad-option-value', ND_OPT_DNSSL, at, 'a domain name longer than 255 octets')
        const label = body.toString('latin1', i + 1, i + 1 + n)
        // A dot inside a label could not be told from a separator once the name is text.
        if (label.includes('.')) throw optionError('bad-option-value', ND_OPT_DNSSL, at, 'a label contains a dot')
        labels.push(label)
        i += 1 + n
      }
      domains.push(labels.join('.'))
    }
    for (let j = i; j < body.length; j++) if (body[j] !== 0) throw optionError('bad-option-value', ND_OPT_DNSSL, at, 'padding is not zero')
    const value: Dnssl = { type: 'dnssl', lifetime: body.readUInt32BE(2), domains }
    const minimal = Math.ceil((2 + 6 + domains.reduce((n, d) => n + encodeName(d).length, 0)) / 8)
    if (length !== minimal) value.length = length
    return value
  },
  encode(v) {
    if (v.domains.length === 0) throw new ArgumentError('domains', 'a DNSSL option needs at least one domain')
    const header = Buffer.alloc(6)
    header.writeUInt32BE(v.lifetime >>> 0, 2)
    const body = Buffer.concat([header, ...v.domains.map(encodeName)])
    const want = (v.length ?? 0) * 8 - 2
    return want > body.length ? Buffer.concat([body, Buffer.alloc(want - body.length)]) : body
  },
  format: (v) => `dnssl option: lifetime ${lifetimeText(v.lifetime)}, domain(s): ${v.domains.join(', ')}`,
}
