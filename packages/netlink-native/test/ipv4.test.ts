// The IPv4 number helpers every package shares (dhcp4's pools, nanoswitch's bridge plan, slots'
// /31 pairs): one dotted-quad rule, the one `ip` and node:net apply.
import { isIPv4 } from 'node:net'
import { describe, expect, it } from 'vitest'
import { ArgumentError, ipv4ToNumber, maskToPrefix, numberToIpv4, parseIp, parseIpv4Cidr, prefixToMask } from '../src/index.js'

describe('ipv4ToNumber / numberToIpv4', () => {
  it.each([
    { text: '0.0.0.0', n: 0 },
    { text: '10.0.0.1', n: 0x0a000001 },
    { text: '192.168.1.254', n: 0xc0a801fe },
    { text: '255.255.255.255', n: 0xffffffff },
  ])('$text <-> $n', ({ text, n }) => {
    expect(ipv4ToNumber(text)).toBe(n)
    expect(numberToIpv4(n)).toBe(text)
  })

  it.each(['010.0.0.1', '10.00.0.1', '1.2.3', '1.2.3.4.5', '1.2.3.256', '1..2.3', '1.2.3.4.', ' 1.2.3.4', '1.2.3.-4', '', '::1', '1e1.0.0.1'])(
    'rejects %j with an ArgumentError naming the field, as ip does',
    (text) => {
      expect(isIPv4(text)).toBe(false)
      expect(() => ipv4ToNumber(text, 'router')).toThrow(ArgumentError)
      expect(() => ipv4ToNumber(text, 'router')).toThrow(/^router: invalid IPv4 address/)
      // parseIp applies the same rule.
      if (!text.includes(':')) expect(() => parseIp(text)).toThrow(ArgumentError)
    },
  )

  it('agrees with node:net on random dotted quads', () => {
    let seed = 7
    const random = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff)
    for (let i = 0; i < 20_000; i++) {
      let text = ''
      for (let j = 1 + Math.floor(random() * 15); j > 0; j--) text += '0123456789.'[Math.floor(random() * 11)]
      const ours = (() => {
        try {
          return numberToIpv4(ipv4ToNumber(text))
        } catch {
          return 'invalid'
        }
      })()
      expect(ours, JSON.stringify(text)).toBe(isIPv4(text) ? text : 'invalid')
    }
  })

  it.each([-1, 2 ** 32, 1.5, Number.NaN])('numberToIpv4 rejects %d', (n) => {
    expect(() => numberToIpv4(n)).toThrow(ArgumentError)
  })
})

describe('prefixToMask / maskToPrefix', () => {
  it.each([
    { length: 0, mask: '0.0.0.0' },
    { length: 1, mask: '128.0.0.0' },
    { length: 8, mask: '255.0.0.0' },
    { length: 23, mask: '255.255.254.0' },
    { length: 24, mask: '255.255.255.0' },
    { length: 31, mask: '255.255.255.254' },
    { length: 32, mask: '255.255.255.255' },
  ])('/$length is $mask', ({ length, mask }) => {
    expect(numberToIpv4(prefixToMask(length))).toBe(mask)
    expect(maskToPrefix(mask)).toBe(length)
    expect(maskToPrefix(prefixToMask(length))).toBe(length)
  })

  it('rejects lengths outside 0..32 and masks that are not contiguous', () => {
    for (const bad of [-1, 33, 8.5]) expect(() => prefixToMask(bad)).toThrow(ArgumentError)
    for (const bad of ['255.0.255.0', '0.0.0.255', '255.255.255.253', '255.255.255.00']) expect(() => maskToPrefix(bad, 'netmask')).toThrow(/^netmask: /)
  })
})

describe('parseIpv4Cidr', () => {
  it('gives the numbers of a prefix, host bits kept in address and cleared in network', () => {
    expect(parseIpv4Cidr('10.1.0.7/24')).toEqual({ address: 0x0a010007, prefixLength: 24, mask: 0xffffff00, network: 0x0a010000, broadcast: 0x0a0100ff })
    expect(parseIpv4Cidr('10.0.0.4/31')).toMatchObject({ network: 0x0a000004, broadcast: 0x0a000005 })
    expect(parseIpv4Cidr('0.0.0.0/0')).toMatchObject({ mask: 0, network: 0, broadcast: 0xffffffff })
    expect(parseIpv4Cidr('10.0.0.1')).toMatchObject({ prefixLength: 32, network: 0x0a000001, broadcast: 0x0a000001 })
  })

  it.each(['10.0.0.0/33', '10.0.0.0/', '10.0.0.0/024', '10.0.0.0/-1', '010.0.0.0/8', 'fd00::/64'])('rejects %j', (text) => {
    expect(() => parseIpv4Cidr(text, 'subnet')).toThrow(/^subnet: /)
  })
})
