import { describe, expect, it } from 'vitest'
import { ArgumentError } from '@lab/netlink-native'
import { bridgePlan6 } from '../src/switched/plan6.js'
import type { Dhcp6Lease } from '@lab/dhcp6'
import { delegatedFromLease } from '../src/switched/delegation.js'
import { formatIpv6 } from '../src/switched/status6.js'

describe('bridge plan, IPv6', () => {
  it('derives the /64 and the DHCPv6 range from the switch address', () => {
    expect(bridgePlan6('fd0a:b3ec:1::1/64')).toEqual({ cidr: 'fd0a:b3ec:1::1/64', address: 'fd0a:b3ec:1::1', prefix: 'fd0a:b3ec:1::/64', range: ['fd0a:b3ec:1::1000', 'fd0a:b3ec:1::ffff'] })
    expect(bridgePlan6('2001:db8:5:7::fe/64').range).toEqual(['2001:db8:5:7::1000', '2001:db8:5:7::ffff'])
  })

  it('refuses what SLAAC cannot use or the switch cannot hold, naming the field', () => {
    for (const [bad, why] of [
      ['fd00::1/48', /needs a \/64/],
      ['fd00::/64', /host address/],
      ['fd00::1234/64', /inside the DHCPv6 range/],
      ['fe80::1/64', /unicast/],
      ['ff02::1/64', /unicast/],
      ['10.1.0.1/24', /IPv6 address/],
      ['fd00::1', /./],
    ] as const) {
      expect(() => bridgePlan6(bad)).toThrow(ArgumentError)
      expect(() => bridgePlan6(bad)).toThrow(why)
    }
  })

  it('formats the IPv6 status for a terminal', () => {
    const lines = formatIpv6(
      {
        address: 'fd0a:b3ec:1::1/64',
        prefix: 'fd0a:b3ec:1::/64',
        range: ['fd0a:b3ec:1::1000', 'fd0a:b3ec:1::ffff'],
        dns: [],
        dhcp: { ok: true, text: 'healthy' },
        ra: { advertisements: 3, solicitations: 1 },
        uplink: { name: 'uplink0', state: 'bound', addresses: ['fd99::15a/128'], router: 'fe80::1', lease: null, nat: true },
        delegated: { prefix: '2001:db8:100::/56', bridgePrefix: '2001:db8:100::/64', address: '2001:db8:100::1/64', preferredLifetime: 3600, validLifetime: 7200, expiresAt: '2030-01-01T00:00:00.000Z' },
      },
      [{ address: 'fd0a:b3ec:1::1000', kind: 'na', duid: '00030001020000000001', iaid: 1, mac: '02:00:00:00:00:01', expiresAt: '2030-01-01T00:00:00.000Z' }],
    )
    expect(lines).toEqual([
      'ipv6 fd0a:b3ec:1::1/64: SLAAC in fd0a:b3ec:1::/64, DHCPv6 fd0a:b3ec:1::1000-fd0a:b3ec:1::ffff (3 RAs sent)',
      'dhcpv6 server: healthy',
      'uplink uplink0 ipv6: fd99::15a/128 via fe80::1 (dhcpv6 bound), fd0a:b3ec:1::/64 masqueraded (NAT66)',
      'delegated 2001:db8:100::/56: 2001:db8:100::1/64 on the bridge, 2001:db8:100::/64 announced and routed without NAT until 2030-01-01T00:00:00.000Z',
      'leases6 (1):',
      '  fd0a:b3ec:1::1000        02:00:00:00:00:01 until 2030-01-01T00:00:00.000Z',
    ])
    expect(formatIpv6(null, [])).toEqual([])
  })

  it('takes the first /64 of the first delegated prefix of 64 bits or fewer, with its lifetimes', () => {
    const lease = (prefixes: Array<{ prefix: string; prefixLength: number; preferredLifetime: number; validLifetime: number }>): Dhcp6Lease =>
      ({ interface: 'uplink0', serverId: '00', iaid: 1, addresses: [], prefixes, dns: [], domains: [], t1: 1800, t2: 2880, validLifetime: 7200, acquiredAt: Date.UTC(2030, 0, 1) })
    expect(delegatedFromLease(lease([{ prefix: '2001:db8:1:ff00::', prefixLength: 56, preferredLifetime: 3600, validLifetime: 7200 }]))).toEqual({
      prefix: '2001:db8:1:ff00::/56',
      bridgePrefix: '2001:db8:1:ff00::/64',
      address: '2001:db8:1:ff00::1/64',
      preferredLifetime: 3600,
      validLifetime: 7200,
      expiresAt: Date.UTC(2030, 0, 1) + 7_200_000,
    })
    // Host bits a server should not have sent are cleared; a /64 is used whole; longer ones cannot hold SLAAC.
    expect(delegatedFromLease(lease([{ prefix: '2001:db8:2::5', prefixLength: 48, preferredLifetime: 10, validLifetime: 20 }]))?.address).toBe('2001:db8:2::1/64')
    expect(delegatedFromLease(lease([{ prefix: '2001:db8:3:4::', prefixLength: 80, preferredLifetime: 10, validLifetime: 20 }, { prefix: '2001:db8:3:5::', prefixLength: 64, preferredLifetime: 10, validLifetime: 0xffffffff }]))).toMatchObject({ bridgePrefix: '2001:db8:3:5::/64', expiresAt: Infinity })
    expect(delegatedFromLease(lease([{ prefix: '2001:db8:3:4::', prefixLength: 80, preferredLifetime: 10, validLifetime: 20 }]))).toBeUndefined()
    expect(delegatedFromLease(lease([]))).toBeUndefined()
    expect(delegatedFromLease(undefined)).toBeUndefined()
  })
})
