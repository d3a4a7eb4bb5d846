import { isIPv4, isIPv6 } from 'node:net'
import { describe, expect, it } from 'vitest'
import { formatIp, ipv6BytesOf, parseCidr, parseIp, parsePrefixBytes } from '../src/index.js'

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

  it('parses IPv6 in one pass as node:net judges it and parseIp reads it (random groups, gaps, IPv4 tails)', () => {
    let seed = 777
    const random = (k: number) => Math.floor(((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff) * k)
    const parts = ['', '0', 'a', 'ffff', 'FfFf', '12345', '1.2.3.4', '300.1.1.1', ':', 'x', '00000', '0db8']
    const texts = ['::', '::1', '1::', '1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7::', '::2:3:4:5:6:7:8', '::ffff:10.0.0.1', ':::', '1::2::3', '1:2:3:4:5:6:7']
    for (let i = 0; i < 30_000; i++) texts.push(Array.from({ length: random(10) }, () => parts[random(parts.length)]).join(':'))
    for (const text of texts) {
      const bytes = ipv6BytesOf(text)
      expect(bytes !== undefined, text).toBe(isIPv6(text))
      if (bytes) expect(bytes.equals(parseIp(text).bytes), text).toBe(true)
    }
    expect(parsePrefixBytes('fd00:1::/64')).toEqual({ family: 6, bytes: parseIp('fd00:1::').bytes, length: 64 })
    expect(parsePrefixBytes('10.1.2.0/24')).toEqual({ family: 4, bytes: parseIp('10.1.2.0').bytes, length: 24 })
    expect(parsePrefixBytes('10.1.2.3')).toMatchObject({ family: 4, length: 32 })
    expect(() => parsePrefixBytes('10.0.0.300', 'ip saddr')).toThrow(/ip saddr: invalid IP address/)
    expect(() => parsePrefixBytes('fd00::/129')).toThrow(/invalid prefix length/)
    expect(() => parsePrefixBytes('10.0.0.0/')).toThrow(/invalid prefix length/)
  })
})
