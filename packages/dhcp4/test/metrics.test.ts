import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Daemon, TestNetns, cleanupAll, deferCleanup, hasCommand, isRoot, vethPair } from '@lab/testkit'
import { UdpSocket } from '@lab/netlink-native'
import type { Registry } from 'prom-client'
import { DhcpMessage, DhcpServer } from '../src/index.js'

/** The value of one series (labels matched exactly on the given keys), 0 when absent. */
async function value(registry: Registry, name: string, labels: Record<string, string | number> = {}): Promise<number> {
  const base = registry.getSingleMetric(name) ? name : name.replace(/_(bucket|count|sum)$/, '')
  const metric = registry.getSingleMetric(base)
  if (!metric) throw new Error(`no metric ${name}`)
  const { values } = await metric.get()
  const found = values.find((v) => ((v as { metricName?: string }).metricName ?? base) === name && Object.entries(labels).every(([k, x]) => String(v.labels[k]) === String(x)))
  return found?.value ?? 0
}

describe.skipIf(!isRoot() || !hasCommand('udhcpc'))('DhcpServer.metrics() after real exchanges (needs root, udhcpc)', () => {
  let server: TestNetns
  let dhcp: DhcpServer
  let n = 0
  const dir = mkdtempSync(join(tmpdir(), 'lab-dhcp4-metrics-'))
  beforeAll(async () => {
    deferCleanup(`rm -r ${dir}`, () => rmSync(dir, { recursive: true, force: true }))
    server = await TestNetns.create('dhmet')
    await server.exec(['ip', 'link', 'add', 'br0', 'type', 'bridge'])
    await server.exec(['ip', 'addr', 'add', '10.60.0.1/24', 'dev', 'br0'])
    await server.exec(['ip', 'link', 'set', 'br0', 'up'])
    dhcp = await DhcpServer.start({
      netns: server.name,
      interface: 'br0',
      subnets: [{ subnet: '10.60.0.0/24', range: ['10.60.0.10', '10.60.0.19'], exclude: ['10.60.0.19'], router: '10.60.0.1', leaseTime: 3600 }],
      leaseFile: join(dir, 'leases.jsonl'),
    })
  })
  afterAll(async () => {
    await dhcp?.stop()
    cleanupAll()
  })

  async function clientPort(): Promise<TestNetns> {
    const i = ++n
    const ns = await TestNetns.create(`dhmc${i}`)
    const port = `m${i}${process.pid % 1000}`
    await vethPair({ netns: ns, ifname: 'eth0' }, { netns: server, ifname: port })
    await server.exec(['ip', 'link', 'set', port, 'master', 'br0'])
    return ns
  }

  it('starts with the pool and no traffic', async () => {
    const r = dhcp.metrics()
    expect(await value(r, 'lab_dhcp4_pool_addresses', { subnet: '10.60.0.0/24' })).toBe(9)
    expect(await value(r, 'lab_dhcp4_pool_free_addresses', { subnet: '10.60.0.0/24' })).toBe(9)
    expect(await value(r, 'lab_dhcp4_leases_active', { subnet: '10.60.0.0/24' })).toBe(0)
    expect(await value(r, 'lab_dhcp4_messages_received_total', { type: 'DISCOVER' })).toBe(0)
    expect(await value(r, 'lab_dhcp4_healthy')).toBe(1)
    // The text format Prometheus scrapes, with its type lines.
    const text = await r.metrics()
    expect(text).toContain('# TYPE lab_dhcp4_messages_received_total counter')
    expect(text).toContain('# TYPE lab_dhcp4_exchange_duration_seconds histogram')
  })

  it('counts two udhcpc leases, a NAK and a malformed packet', async () => {
    const r = dhcp.metrics()
    for (let i = 0; i < 2; i++) {
      const ns = await clientPort()
      const d = await Daemon.start({ name: 'udhcpc', netns: ns.name, argv: ['udhcpc', '-f', '-q', '-i', 'eth0', '-t', '5', '-T', '1', '-n'] })
      await d.waitFor(/lease of 10\.60\.0\.\d+ obtained/, 20_000)
      await d.stop()
    }
    const ns = await clientPort()
    const sock = await UdpSocket.open({ netns: ns.name, port: 68, interface: 'eth0', broadcast: true })
    try {
      // INIT-REBOOT for an address of another network: NAK (RFC 2131 4.3.2).
      const request = new DhcpMessage({ xid: 0x1234, chaddr: '02:00:00:00:60:01', broadcast: true }).set(53, 'REQUEST').set(50, '10.9.0.5')
      await sock.send({ data: request.encode(), address: '255.255.255.255', port: 67 })
      await sock.send({ data: Buffer.from('not a dhcp packet'), address: '255.255.255.255', port: 67 })
    } finally {
      await sock.close()
    }
    const deadline = Date.now() + 5000
    while ((await value(r, 'lab_dhcp4_naks_total', { reason: 'wrong-network' })) < 1 || (await value(r, 'lab_dhcp4_malformed_dropped_total')) < 1) {
      if (Date.now() > deadline) throw new Error('NAK and malformed packet not counted')
      await new Promise((res) => setTimeout(res, 20))
    }
    expect(await value(r, 'lab_dhcp4_naks_total', { reason: 'wrong-network' })).toBe(1)
    expect(await value(r, 'lab_dhcp4_malformed_dropped_total')).toBe(1)
    expect(await value(r, 'lab_dhcp4_messages_received_total', { type: 'DISCOVER' })).toBeGreaterThanOrEqual(2)
    expect(await value(r, 'lab_dhcp4_messages_received_total', { type: 'REQUEST' })).toBeGreaterThanOrEqual(3)
    expect(await value(r, 'lab_dhcp4_messages_sent_total', { type: 'ACK' })).toBe(dhcp.counters().acks)
    expect(await value(r, 'lab_dhcp4_messages_sent_total', { type: 'ACK' })).toBe(2)
    expect(await value(r, 'lab_dhcp4_messages_sent_total', { type: 'NAK' })).toBe(1)
    expect(await value(r, 'lab_dhcp4_pool_free_addresses', { subnet: '10.60.0.0/24' })).toBe(7)
    expect(await value(r, 'lab_dhcp4_leases_active', { subnet: '10.60.0.0/24' })).toBe(2)
    // Every reply was timed, by type; the ACKs waited for the journal, which wrote both bindings.
    expect(await value(r, 'lab_dhcp4_exchange_duration_seconds_count', { type: 'ACK' })).toBe(2)
    expect(await value(r, 'lab_dhcp4_exchange_duration_seconds_count', { type: 'OFFER' })).toBe(await value(r, 'lab_dhcp4_messages_sent_total', { type: 'OFFER' }))
    expect(await value(r, 'lab_dhcp4_exchange_duration_seconds_sum', { type: 'ACK' })).toBeGreaterThan(0)
    const commits = await value(r, 'lab_dhcp4_journal_commits_total')
    expect(commits).toBeGreaterThanOrEqual(1)
    expect(await value(r, 'lab_dhcp4_journal_commit_duration_seconds_count')).toBe(commits)
    expect(await value(r, 'lab_dhcp4_journal_commit_records_sum')).toBe(2)
    expect(await value(r, 'lab_dhcp4_journal_records_total')).toBe(2)
  })

  it('keeps its registry to itself: two servers do not share series', async () => {
    const { register } = await import('prom-client')
    expect(register.getMetricsAsArray().filter((m) => m.name.startsWith('lab_'))).toEqual([])
    expect(dhcp.metrics()).toBe(dhcp.metrics())
  })
})
