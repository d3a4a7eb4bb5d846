// Faults injected on purpose into a running switch (the built CLI, real clients, real upstream):
// its uplink's carrier flaps, and the switch is killed with -9 in the middle of traffic and a
// burst of relayed DHCP load.
import { existsSync } from 'node:fs'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { Daemon, TestNetns, cleanupAll, deferCleanup, isRoot } from '@lab/testkit'
import { Netlink } from '@lab/netlink-native'
import { LoadGenerator } from '@lab/dhcp4'
import { CLIENTS, cli, peers, scenario } from './switch-scenario.js'

afterEach(() => cleanupAll())
afterAll(() => cleanupAll())

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value) return value
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`)
    await sleep(50)
  }
}

type Route = { dst: string; gateway?: string; dev?: string; protocol?: string }
type Ruleset = { nftables: Array<{ table?: { family: string; name: string }; rule?: { table: string; expr: object[] } }> }

describe.skipIf(!isRoot() || !existsSync(cli) || !peers)('faults injected into a running switch (needs root, a build, dnsmasq, udhcpc)', () => {
  const routes = async (t: Awaited<ReturnType<typeof scenario>>) => (await t.sw.ip<Route[]>(['route', 'show'])).map((r) => `${r.dst} ${r.gateway ?? '-'} ${r.dev ?? '-'}`).sort()
  const masquerades = async (t: Awaited<ReturnType<typeof scenario>>) => {
    const rs = JSON.parse((await t.sw.exec(['nft', '-j', 'list', 'ruleset'])).stdout) as Ruleset
    return { tables: rs.nftables.flatMap((o) => (o.table ? [`${o.table.family} ${o.table.name}`] : [])), masquerade: rs.nftables.filter((o) => o.rule && JSON.stringify(o.rule.expr).includes('masquerade')).length }
  }

  it('the uplink flaps 20 times in 10 s: its lease, default route and masquerade come back; no route is leaked or doubled', async () => {
    const t = await scenario()
    const sw = await t.startSwitch()
    const vm = await t.vm('udhcpc')
    await until('uplink lease', async () => (await t.status()).uplink?.address ?? undefined)
    const before = await routes(t)
    expect(before.filter((r) => r.startsWith('default '))).toEqual(['default 10.99.0.1 uplink0'])
    expect(await t.ping(vm.ns, '10.99.0.1')).toBe(true)
    const natBefore = await masquerades(t)
    expect(natBefore.tables).toContain('ip nanoswitch')

    // Carrier down and up from the far end, 250 ms each; the switch's routes are sampled meanwhile.
    await using upstream = await Netlink.open({ netns: t.up.name })
    let maxDefaults = 0
    let sampling = true
    const sampler = (async () => {
      while (sampling) {
        maxDefaults = Math.max(maxDefaults, (await routes(t)).filter((r) => r.startsWith('default ')).length)
        await sleep(20)
      }
    })()
    for (let i = 0; i < 20; i++) {
      await upstream.link.set('u0', { up: false })
      await sleep(250)
      await upstream.link.set('u0', { up: true })
      await sleep(250)
    }
    sampling = false
    await sampler
    expect(maxDefaults).toBeLessThanOrEqual(1)

    // After the last flap: everything back, exactly once, and nothing else left over.
    await until('uplink lease after the flaps', async () => (await t.status()).uplink?.address ?? undefined)
    await until('the routes as before', async () => JSON.stringify(await routes(t)) === JSON.stringify(before))
    expect(await masquerades(t)).toEqual(natBefore)
    expect(await until('upstream reachable through NAT', () => t.ping(vm.ns, '10.99.0.1'))).toBe(true)
    expect((await t.status()).supervisor.children.every((c) => c.state === 'healthy')).toBe(true)
    await sw.stop()
  }, 60_000)

  it('kill -9 in the middle of traffic and relayed DHCP load: every acknowledged lease is kept, nothing is duplicated, clients renew their addresses', async () => {
    const t = await scenario()
    let sw = await t.startSwitch()
    const [a, b] = [await t.vm('udhcpc'), await t.vm('udhcpc')]
    await until('uplink lease', async () => (await t.status()).uplink?.address ?? undefined)
    const tablesBefore = await masquerades(t)

    // A relay on its own port of the bridge sends the load (giaddr outside what the load can use up).
    const relay = await TestNetns.create('e2e-relay')
    await t.nl.link.add({ name: 'portr', kind: 'veth', peer: { name: 'eth0', netns: relay.name } })
    await relay.exec(['ip', 'addr', 'add', '10.1.0.250/24', 'dev', 'eth0'])
    await relay.exec(['ip', 'link', 'set', 'eth0', 'up'])
    await until('the relay port on the bridge', async () => (await t.status()).bridge?.ports.includes('portr'))
    await using load = await LoadGenerator.open({ netns: relay.name, server: '10.1.0.1', giaddr: '10.1.0.250' })
    const acked = new Map<string, string>()
    // Traffic across the bridge all along (kernel forwarding: it must not notice the switch dying).
    const pinging = Daemon.start({ name: 'ping a->b', netns: a.ns.name, argv: ['ping', '-n', '-i', '0.02', '-c', '400', b.address] })
    deferCleanup('ping', async () => void (await pinging).stop())
    let killed = false
    const run = load.run({
      clients: 150,
      window: 8,
      timeoutMs: 300,
      retries: 2,
      durationMs: 15_000,
      onAck: ({ mac, address }) => {
        acked.set(mac, address)
        if (acked.size === 40 && !killed) {
          killed = true
          sw.child.kill('SIGKILL')
        }
      },
    })
    const result = await run
    expect(killed).toBe(true)
    await sw.stop()
    expect(result.failed).toBeGreaterThan(0) // the switch really was gone for part of the load

    sw = await t.startSwitch()
    const status = await t.status()
    const leased = new Map(status.leases.map((l) => [l.mac, l.address]))
    // Every ACK that left the switch is in its lease file, for the same client.
    for (const [mac, address] of acked) expect(leased.get(mac), mac).toBe(address)
    expect(leased.get(await mac(a.ns))).toBe(a.address)
    expect(leased.get(await mac(b.ns))).toBe(b.address)
    // Adopted, not duplicated: one table, one masquerade rule, one default route.
    await until('uplink lease after the restart', async () => (await t.status()).uplink?.address ?? undefined)
    expect(await masquerades(t)).toEqual(tablesBefore)
    expect((await routes(t)).filter((r) => r.startsWith('default '))).toHaveLength(1)
    // The traffic never stopped: the kernel's bridge forwarded through the kill.
    const ping = await pinging
    await ping.waitFor(/400 packets transmitted, (\d+) received/, 20_000)
    const received = Number(ping.log.match(/400 packets transmitted, (\d+) received/)![1])
    expect(received).toBeGreaterThanOrEqual(390)
    // Renewals (udhcpc renews on SIGUSR1) are acknowledged for the same addresses.
    for (const v of [a, b]) {
      const obtained = () => [...v.client.log.matchAll(new RegExp(CLIENTS.udhcpc.leased.source, 'g'))].map((m) => m[1])
      const count = obtained().length
      v.client.child.kill('SIGUSR1')
      await until(`renewal of ${v.address}`, async () => obtained().length > count)
      expect(obtained().at(-1)).toBe(v.address)
    }
    await sw.stop()
  }, 90_000)
})

async function mac(ns: TestNetns): Promise<string> {
  const [link] = await ns.ip<Array<{ address: string }>>(['link', 'show', 'dev', 'eth0'])
  return link!.address
}
