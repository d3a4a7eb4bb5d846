import { isIPv4 } from 'node:net'
import { describe, expect, it } from 'vitest'
import { formatIp, parseCidr, parseIp } from '../src/index.js'

describe('IP parsing', () => {
  it('agrees with node:net on random and mutated dotted quads', () => {
    const alphabet = '0123456789.'
    let seed = 12345
    const random = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff)
    for (let i = 0; i < 20_000; i++) {
      const length = 1 + Math.floor(random() * 16)
      let text = ''
      for (let j = 0; j < length; j++) text += alphabet[Math.floor(random() * alphabet.length)]
      const ours = (() => {
        try {
          const ip = parseIp(text)
          return ip.family === 4 ? Array.from(ip.bytes).join('.') : 'v6'
        } catch {
          return 'invalid'
        }
      })()
      expect(ours, JSON.stringify(text)).toBe(isIPv4(text) ? text.split('.').map(Number).join('.') : 'invalid')
    }
  })

  it('parses and formats IPv6 like ip does (RFC 5952)', () => {
    expect(formatIp(parseIp('fd00:0:0:0:0:0:0:1').bytes)).toBe('fd00::1')
    expect(formatIp(parseIp('2001:db8:0:0:1:0:0:1').bytes)).toBe('2001:db8::1:0:0:1')
    expect(formatIp(parseIp('::ffff:10.0.0.1').bytes)).toBe('::ffff:a00:1')
    expect(parseCidr('10.0.0.1/24')).toMatchObject({ length: 24, text: '10.0.0.1' })
    expect(() => parseCidr('10.0.0.1/33')).toThrow(/invalid prefix length/)
  })
})
