import { describe, expect, it } from 'vitest'
import { ClientMacError, addressesFromMac, clientMacFor, ipv6PrefixFromMac, isClientMac } from '../src/routed/client-mac.js'

describe('routed mode client MACs (seed 001)', () => {
  it.each([
    ['0a:b3:ec:00:00:02', '100.0.0.2', '100.0.0.3'],
    ['0A:B3:EC:40:01:fe', '100.64.1.254', '100.64.1.255'],
    ['0a:b3:ec:ff:ff:00', '100.255.255.0', '100.255.255.1'],
  ])('%s encodes router %s and client %s', (mac, router, client) => {
    expect(addressesFromMac(mac)).toEqual({ router, client, prefixLength: 31 })
    expect(isClientMac(mac)).toBe(true)
  })

  it.each([
    ['0a:b3:ec:00:00:02', 'fd0a:b3ec:0:2::/64', 'fd0a:b3ec:0:2::1'],
    ['0A:B3:EC:40:01:fe', 'fd0a:b3ec:40:1fe::/64', 'fd0a:b3ec:40:1fe::1'],
    ['0a:b3:ec:ff:ff:00', 'fd0a:b3ec:ff:ff00::/64', 'fd0a:b3ec:ff:ff00::1'],
  ])('%s encodes the IPv6 link %s, router %s', (mac, prefix, router) => {
    expect(ipv6PrefixFromMac(mac)).toEqual({ prefix, router })
  })

  it('gives no IPv6 link for a MAC that encodes no /31', () => {
    expect(() => ipv6PrefixFromMac('0a:b3:ec:00:00:03')).toThrow(ClientMacError)
    expect(() => ipv6PrefixFromMac('02:00:00:00:00:02')).toThrow(/OUI/)
  })

  it('refuses a MAC that encodes the high address of a /31, saying why', () => {
    expect(() => addressesFromMac('0a:b3:ec:00:00:03')).toThrow(ClientMacError)
    expect(() => addressesFromMac('0a:b3:ec:00:00:03')).toThrow('0a:b3:ec:00:00:03: encodes 100.0.0.3, the high address of a /31; the MAC must encode the low (router) address')
  })

  it('refuses another OUI, and honours a configured one', () => {
    expect(isClientMac('02:00:00:00:00:02')).toBe(false)
    expect(() => addressesFromMac('02:00:00:00:00:02')).toThrow(/OUI is not 0a:b3:ec/)
    expect(addressesFromMac('02:11:22:05:06:08', '02:11:22').router).toBe('100.5.6.8')
  })

  it('computes the MAC for a /31 written with either address, and round-trips', () => {
    expect(clientMacFor('100.64.1.254/31')).toBe('0a:b3:ec:40:01:fe')
    expect(clientMacFor('100.64.1.255/31')).toBe('0a:b3:ec:40:01:fe')
    for (let i = 0; i < 256; i += 2) {
      const cidr = `100.10.20.${i}/31`
      expect(addressesFromMac(clientMacFor(cidr)).router).toBe(`100.10.20.${i}`)
    }
  })

  it('rejects addresses outside 100/8 and prefixes other than /31', () => {
    expect(() => clientMacFor('10.0.0.2/31')).toThrow(/cidr: client links live in 100\.0\.0\.0\/8/)
    expect(() => clientMacFor('100.0.0.2/30')).toThrow(/cidr: client links are \/31s/)
    expect(() => clientMacFor('100.0.0.2/31', 'zz:zz')).toThrow(/oui: invalid OUI/)
  })
})
