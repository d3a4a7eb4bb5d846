import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import pino from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Daemon, TestNetns, cleanupAll, deferCleanup, isRoot, vethPair } from '@lab/testkit'
import { DhcpServer, LoadGenerator, readLeaseFile, type LoadGeneratorOptions, type LoadRunOptions } from '../src/index.js'

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url))

/** A server namespace and a relay namespace; the relay holds giaddrs of two relayed subnets. */
async function relayedNetwork(tag: string): Promise<{ server: TestNetns; relay: TestNetns }> {
  const server = await TestNetns.create(`${tag}s`)
  const relay = await TestNetns.create(`${tag}r`)
  await vethPair({ netns: server, ifname: 's0', address: '10.200.0.1/24' }, { netns: relay, ifname: 'r0', address: '10.200.0.2/24' })
  for (const giaddr of ['10.201.0.1/16', '10.202.0.1/24']) await relay.exec(['ip', 'addr', 'add', giaddr, 'dev', 'r0'])
  for (const net of ['10.201.0.0/16', '10.202.0.0/24']) await server.exec(['ip', 'route', 'add', net, 'via', '10.200.0.2'])
  return { server, relay }
}

/** One run of a fresh generator: the relay's port is free again when it returns. */
async function relayLoad(options: LoadGeneratorOptions & LoadRunOptions) {
  const generator = await LoadGenerator.open(options)
  try {
    return await generator.run(options)
  } finally {
    await generator.close()
  }
}

const subnets = [
  { subnet: '10.201.0.0/16', range: ['10.201.0.10', '10.201.255.250'] as [string, string], router: '10.201.0.1', leaseTime: 3600 },
  { subnet: '10.202.0.0/24', range: ['10.202.0.10', '10.202.0.20'] as [string, string], router: '10.202.0.1', leaseTime: 3600 },
]

describe.skipIf(!isRoot())('relayed requests (needs root)', () => {
  let net: { server: TestNetns; relay: TestNetns }
  let dhcp: DhcpServer
  beforeAll(async () => {
    net = await relayedNetwork('d4rl')
    dhcp = await DhcpServer.start({ netns: net.server.name, interface: 's0', subnets, logger: pino({ level: 'silent' }) })
  })
  afterAll(async () => {
    await dhcp?.stop()
    cleanupAll()
  })

  it('gives addresses from the giaddr subnet, replies to the relay, and echoes option 82', async () => {
    const circuit = new Map([[1, Buffer.from('port-7')], [2, Buffer.from('rack-3')]])
    const acks: Array<{ address: string; echoed: unknown; router: unknown; serverId: unknown }> = []
    const exchanges: Array<{ startedMs: number; latencyMs: number; offerMs: number }> = []
    const result = await relayLoad({ netns: net.relay.name, server: '10.200.0.1', giaddr: '10.201.0.1', clients: 40, window: 8, agentInformation: circuit, onAck: ({ address, reply }) => acks.push({ address, echoed: reply.get(82), router: reply.get(3), serverId: reply.get(54) }), onExchange: (x) => exchanges.push(x) })
    expect(result).toMatchObject({ completed: 40, failed: 0, naks: 0 })
    // Each exchange is reported with its timing: the offer comes before the whole exchange ends.
    expect(exchanges).toHaveLength(40)
    for (const x of exchanges) expect(x.offerMs).toBeLessThanOrEqual(x.latencyMs)
    expect(Math.max(...exchanges.map((x) => x.latencyMs))).toBe(result.latencyMs.max)
    expect(new Set(acks.map((a) => a.address)).size).toBe(40)
    for (const a of acks) {
      expect(a.address).toMatch(/^10\.201\.\d+\.\d+$/)
      expect(a.echoed).toEqual(circuit)
      expect(a.router).toEqual(['10.201.0.1'])
      expect(a.serverId).toBe('10.200.0.1')
    }
    const small = await relayLoad({ netns: net.relay.name, server: '10.200.0.1', giaddr: '10.202.0.1', clients: 5, macBase: 1, onAck: ({ address }) => acks.push({ address, echoed: undefined, router: undefined, serverId: undefined }) })
    expect(small.completed).toBe(5)
    expect(acks.slice(-5).every((a) => /^10\.202\.0\.(1\d|20)$/.test(a.address))).toBe(true)
    expect(dhcp.counters().poolFree['10.202.0.0/24']).toBe(11 - 5)
  })

  it('ignores relayed requests for a subnet it does not serve', async () => {
    await net.relay.exec(['ip', 'addr', 'add', '10.203.0.1/24', 'dev', 'r0'])
    await net.server.exec(['ip', 'route', 'add', '10.203.0.0/24', 'via', '10.200.0.2'])
    const before = dhcp.counters().ignored
    const result = await relayLoad({ netns: net.relay.name, server: '10.200.0.1', giaddr: '10.203.0.1', clients: 2, macBase: 2, timeoutMs: 200, retries: 1 })
    expect(result).toMatchObject({ completed: 0, failed: 2 })
    expect(dhcp.counters().ignored).toBeGreaterThanOrEqual(before + 2)
  })

  it('stays silent when the pool is exhausted, and counts it', async () => {
    const before = dhcp.counters().exhausted
    const result = await relayLoad({ netns: net.relay.name, server: '10.200.0.1', giaddr: '10.202.0.1', clients: 8, macBase: 3, timeoutMs: 200, retries: 1 })
    expect(result.completed).toBe(6) // 11 addresses, 5 taken before
    expect(result.failed).toBe(2)
    expect(dhcp.counters().exhausted).toBeGreaterThan(before)
    expect(dhcp.counters().poolFree['10.202.0.0/24']).toBe(0)
  })
})

describe.skipIf(!isRoot() || !existsSync(cli))('lab-dhcp4 killed with SIGKILL during a burst (needs root and a build)', () => {
  afterAll(() => cleanupAll())

  it('keeps every acknowledged lease, for the same client, after a restart', async () => {
    const net = await relayedNetwork('d4k9')
    const dir = mkdtempSync(join(tmpdir(), 'lab-dhcp4-k9-'))
    deferCleanup('lease dir', () => rmSync(dir, { recursive: true, force: true }))
    const leaseFile = join(dir, 'leases.jsonl')
    const config = join(dir, 'config.json')
    writeFileSync(config, JSON.stringify({ interface: 's0', leaseFile, subnets: [subnets[0]] }))
    const start = () => Daemon.start({ name: 'lab-dhcp4', argv: [process.execPath, cli, 'server', '--config', config, '--netns', net.server.name] })
    let server = await start()
    await server.waitFor(/"msg":"serving"/)
    const acked = new Map<string, string>()
    const stop = new AbortController()
    const load = relayLoad({
      netns: net.relay.name,
      server: '10.200.0.1',
      giaddr: '10.201.0.1',
      clients: 20_000,
      window: 64,
      timeoutMs: 300,
      retries: 1,
      signal: stop.signal,
      onAck: ({ mac, address }) => {
        acked.set(mac, address)
        if (acked.size === 300) server.child.kill('SIGKILL')
      },
    })
    await new Promise<void>((resolve) => server.child.once('exit', () => resolve()))
    await new Promise((r) => setTimeout(r, 100)) // ACKs already on the wire still count: they were acknowledged
    stop.abort()
    await load
    expect(acked.size).toBeGreaterThanOrEqual(300)

    const { leases } = await readLeaseFile(leaseFile)
    const byAddress = new Map(leases.map((l) => [l.address, l]))
    for (const [mac, address] of acked) {
      expect(byAddress.get(address), `${mac} ${address}`).toMatchObject({ mac, state: 'bound' })
    }

    // The restarted server gives each of those clients the same address again.
    server = await start()
    await server.waitFor(/"msg":"serving"/)
    const again = new Map<string, string>()
    const result = await relayLoad({ netns: net.relay.name, server: '10.200.0.1', giaddr: '10.201.0.1', clients: 300, onAck: ({ mac, address }) => again.set(mac, address) })
    expect(result.completed).toBe(300)
    for (const [mac, address] of again) expect(address, mac).toBe(acked.get(mac))
    await server.stop()
  })
})
