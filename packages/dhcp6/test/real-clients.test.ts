// Real DHCPv6 clients against our server in throwaway namespaces: each gets an address, renews it
// and releases it; dhclient -6 -P gets a delegated prefix.
import { readFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { cleanupAll, hasCommand, isRoot } from '@lab/testkit'
import { DhcpV6Server, type Lease6Event } from '../src/index.js'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { pair, until } from './helpers.js'

const SUBNET = {
  prefix: 'fd00:1::/64',
  range: ['fd00:1::1000', 'fd00:1::1fff'] as [string, string],
  pdPool: { prefix: 'fd00:100::/48', length: 56 },
  dns: ['fd00:1::53'],
  domains: ['lab.example'],
  // T1 = 2 s: renewals come quickly.
  preferredLifetime: 4,
  validLifetime: 30,
}

afterAll(() => cleanupAll())

describe.skipIf(!isRoot() || !hasCommand('dhclient'))('dhclient -6 (needs root)', () => {
  it('gets an address, renews it, releases it; -P gets a delegated prefix', async () => {
    const t = await pair('d6dhc')
    const events: Lease6Event[] = []
    const listen = (e: unknown) => events.push(e as Lease6Event)
    subscribe('lab:dhcp6:lease', listen)
    const server = await DhcpV6Server.start({ netns: t.server.name, interface: 's0', subnets: [SUBNET], leaseFile: join(t.dir, 'leases'), preference: 255 })
    try {
      const lf = join(t.dir, 'dhclient6.leases')
      const pf = join(t.dir, 'dhclient6.pid')
      const base = ['dhclient', '-6', '-1', '-lf', lf, '-pf', pf, '-sf', '/bin/true']
      await t.client.exec([...base, 'c0'], { timeout: 20_000 })
      const text = readFileSync(lf, 'utf8')
      expect(text).toMatch(/iaaddr fd00:1::1[0-9a-f]{3} /)
      expect(text).toContain('dhcp6.name-servers fd00:1::53')
      const bound = events.find((e) => e.event === 'bind' && e.lease.kind === 'na')!
      expect(bound.lease.address).toMatch(/^fd00:1::1[0-9a-f]{3}$/)
      // T1 is 2 s: the running dhclient renews by itself.
      await until('a renewal', () => server.counters().replies >= 2)
      expect(server.db.at(bound.lease.address)).toMatchObject({ state: 'bound', client: bound.lease.client })
      await t.client.exec(['dhclient', '-6', '-r', '-lf', lf, '-pf', pf, '-sf', '/bin/true', 'c0'], { timeout: 20_000 })
      await until('the release', () => server.counters().releases >= 1)
      expect(server.db.at(bound.lease.address)?.state).toBe('released')

      // Prefix delegation: a fresh dhclient asking for IA_PD only.
      const lfp = join(t.dir, 'dhclient6-pd.leases')
      const pfp = join(t.dir, 'dhclient6-pd.pid')
      await t.client.exec(['dhclient', '-6', '-P', '-1', '-lf', lfp, '-pf', pfp, '-sf', '/bin/true', 'c0'], { timeout: 20_000 })
      expect(readFileSync(lfp, 'utf8')).toMatch(/iaprefix fd00:100:[0-9a-f:]*\/56 /)
      expect(events.some((e) => e.event === 'bind' && e.lease.kind === 'pd')).toBe(true)
      await t.client.exec(['dhclient', '-6', '-P', '-r', '-lf', lfp, '-pf', pfp, '-sf', '/bin/true', 'c0'], { timeout: 20_000 })
      expect(existsSync(pfp) ? readFileSync(pfp, 'utf8') : '').toBe('')
    } finally {
      unsubscribe('lab:dhcp6:lease', listen)
      await server.stop()
    }
  }, 60_000)
})
