// DhcpV6Server.metrics() after a real client's exchanges (dhclient -6 in a throwaway namespace).
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { connectTcp } from '@lab/netlink-native'
import { afterAll, describe, expect, it } from 'vitest'
import type { Registry } from 'prom-client'
import { Daemon, cleanupAll, hasCommand, isRoot } from '@lab/testkit'
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

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url))

/** GET inside a namespace: status line and body. */
async function get(netns: string, host: string, port: number, path: string): Promise<{ status: number; body: string }> {
  const socket = await connectTcp({ netns, host, port })
  const chunks: Buffer[] = []
  const done = new Promise<void>((resolve, reject) => {
    socket.on('data', (c: Buffer) => chunks.push(c))
    socket.once('end', () => resolve())
    socket.once('error', reject)
  })
  socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`)
  await done
  const text = Buffer.concat(chunks).toString('utf8')
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]), body: text.slice(text.indexOf('\r\n\r\n') + 4) }
}

describe.skipIf(!isRoot() || !existsSync(cli))('lab-dhcp6 server --metrics (needs root and a build)', () => {
  it('serves the server registry and process metrics at an IPv6 address inside --netns', async () => {
    const t = await pair('d6mcli')
    const server = await Daemon.start({
      name: 'lab-dhcp6',
      argv: ['node', cli, 'server', '--netns', t.server.name, '--interface', 's0', '--prefix', 'fd00:1::/64', '--range', 'fd00:1::1000-fd00:1::10ff', '--metrics', '[fd00:1::1]:9465'],
      ready: /"msg":"metrics served"/,
    })
    try {
      const { status, body } = await get(t.server.name, 'fd00:1::1', 9465, '/metrics')
      expect(status).toBe(200)
      expect(body).toContain('lab_dhcp6_pool_free_addresses{subnet="fd00:1::/64",kind="na"} 256')
      expect(body).toContain('# TYPE process_resident_memory_bytes gauge')
      expect((await get(t.server.name, 'fd00:1::1', 9465, '/other')).status).toBe(404)
    } finally {
      await server.stop()
    }
  })
})
