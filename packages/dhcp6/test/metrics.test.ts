// DhcpV6Server.metrics() after a real client's exchanges (dhclient -6 in a throwaway namespace).
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import type { Registry } from 'prom-client'
import { cleanupAll, hasCommand, isRoot } from '@lab/testkit'
import { DhcpV6Server } from '../src/index.js'
import { pair, until } from './helpers.js'

async function value(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const base = registry.getSingleMetric(name) ? name : name.replace(/_(bucket|count|sum)$/, '')
  const metric = registry.getSingleMetric(base)
  if (!metric) throw new Error(`no metric ${name}`)
  const found = (await metric.get()).values.find((v) => ((v as { metricName?: string }).metricName ?? base) === name && Object.entries(labels).every(([k, x]) => String(v.labels[k]) === x))
  return found?.value ?? 0
}

afterAll(() => cleanupAll())

describe.skipIf(!isRoot() || !hasCommand('dhclient'))('DhcpV6Server.metrics() (needs root, dhclient)', () => {
  it('counts a dhclient -6 binding and its release', async () => {
    const t = await pair('d6met')
    const server = await DhcpV6Server.start({
      netns: t.server.name,
      interface: 's0',
      subnets: [{ prefix: 'fd00:1::/64', range: ['fd00:1::1000', 'fd00:1::100f'], pdPool: { prefix: 'fd00:100::/48', length: 56 } }],
      leaseFile: join(t.dir, 'leases'),
      preference: 255,
    })
    const r: Registry = server.metrics()
    const na = { subnet: 'fd00:1::/64', kind: 'na' }
    try {
      expect(await value(r, 'lab_dhcp6_pool_addresses', na)).toBe(16)
      expect(await value(r, 'lab_dhcp6_pool_addresses', { subnet: 'fd00:1::/64', kind: 'pd' })).toBe(256)
      expect(await value(r, 'lab_dhcp6_messages_received_total', { type: 'SOLICIT' })).toBe(0)
      const lf = join(t.dir, 'dhclient6.leases')
      const pf = join(t.dir, 'dhclient6.pid')
      await t.client.exec(['dhclient', '-6', '-1', '-lf', lf, '-pf', pf, '-sf', '/bin/true', 'c0'], { timeout: 20_000 })
      await until('the binding', async () => (await value(r, 'lab_dhcp6_leases_active', na)) === 1 || undefined)
      expect(await value(r, 'lab_dhcp6_pool_free_addresses', na)).toBe(15)
      expect(await value(r, 'lab_dhcp6_messages_received_total', { type: 'SOLICIT' })).toBeGreaterThanOrEqual(1)
      expect(await value(r, 'lab_dhcp6_messages_sent_total', { type: 'ADVERTISE' })).toBeGreaterThanOrEqual(1)
      expect(await value(r, 'lab_dhcp6_messages_sent_total', { type: 'REPLY' })).toBe(server.counters().replies)
      expect(await value(r, 'lab_dhcp6_exchange_duration_seconds_count', { type: 'REPLY' })).toBe(await value(r, 'lab_dhcp6_messages_sent_total', { type: 'REPLY' }))
      expect(await value(r, 'lab_dhcp6_journal_commit_duration_seconds_count')).toBeGreaterThanOrEqual(1)
      expect(await value(r, 'lab_dhcp6_journal_commit_records_sum')).toBe(await value(r, 'lab_dhcp6_journal_records_total'))
      await t.client.exec(['dhclient', '-6', '-r', '-lf', lf, '-pf', pf, '-sf', '/bin/true', 'c0'], { timeout: 20_000 })
      await until('the release', async () => (await value(r, 'lab_dhcp6_messages_received_total', { type: 'RELEASE' })) >= 1 || undefined)
      expect(await value(r, 'lab_dhcp6_leases_active', na)).toBe(0)
      expect(await value(r, 'lab_dhcp6_pool_free_addresses', na)).toBe(16)
    } finally {
      await server.stop()
    }
  }, 40_000)
})
