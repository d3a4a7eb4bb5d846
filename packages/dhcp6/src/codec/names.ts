// RFC 1035 domain names as DHCPv6 carries them (RFC 8415 section 10): uncompressed, fully
// qualified, each a list of length-prefixed labels ending with a zero byte.
import { ArgumentError } from '@lab/netlink-native'
import { Dhcp6DecodeError } from './errors.js'

/** Encodes one name: `example.com` -> 7 "example" 3 "com" 0. */
export function encodeName(name: string): Buffer {
  const labels = name.split('.').filter(Boolean)
  const parts: Buffer[] = []
  for (const label of labels) {
    const bytes = Buffer.from(label, 'latin1')
    if (bytes.length > 63) throw new ArgumentError('name', `label ${JSON.stringify(label)} is longer than 63 bytes`)
    parts.push(Buffer.from([bytes.length]), bytes)
  }
  parts.push(Buffer.from([0]))
  return Buffer.concat(parts)
}

/** Decodes a list of names filling `d` exactly; compression pointers are refused (RFC 8415 10). */
export function decodeNames(d: Buffer, code: number): string[] {
  const out: string[] = []
  let at = 0
  while (at < d.length) {
    const labels: string[] = []
    for (;;) {
      if (at >= d.length) throw new Dhcp6DecodeError('bad-option-value', 'name not terminated by a zero label', code)
      const len = d[at]!
      if (len === 0) {
        at++
        break
      }
      if (len > 63) throw new Dhcp6DecodeError('bad-option-value', `label length ${len} (compression is not allowed here)`, code)
      if (at + 1 + len > d.length) throw new Dhcp6DecodeError('bad-option-value', 'label overruns the option', code)
      const label = d.toString('latin1', at + 1, at + 1 + len)
      // A dot inside a label could not be told from a label boundary in the text form.
      if (label.includes('.')) throw new Dhcp6DecodeError('bad-option-value', `label ${JSON.stringify(label)} contains a dot`, code)
      labels.push(label)
      at += 1 + len
    }
    out.push(labels.join('.'))
  }
  return out
}
