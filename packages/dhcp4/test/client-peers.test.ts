// Our client against real servers (dnsmasq, Kea, ISC dhcpd) and our own, each in a throwaway
// namespace pair: the lease is configured (read back with `ip -j`), renewed at T1, rebound and
// dropped at expiry when the server is gone, dropped on a NAK from a server that forgot it, and
// released so the server hands the address to someone else.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { TestNetns, cleanupAll, isRoot, vethPair } from '@lab/testkit'
import { DhcpClient, compose, manageDNS, manageIP, manageRoutes, realClock, type ClientLease, type ClientState, type Clock, type LeaseChangeReason } from '../src/index.js'
import { PEER_SERVERS, network, type PeerServer } from './helpers/servers.js'

const NET = network(1)

interface IpAddr {
  ifname: string
  addr_info: Array<{ family: string; local: string; prefixlen: number; valid_life_time?: number }>
}
interface IpRoute {
  dst: string
  gateway?: string
  dev: string
  protocol?: string
  prefsrc?: string
}

/** The client's sense of time runs `factor` times faster, so a 2-minute lease passes in 8 s. */
function fastClock(factor: number): Clock {
  if (factor === 1) return realClock
  const t0 = Date.now()
  return { now: () => t0 + (Date.now() - t0) * factor, setTimeout: (fn, ms) => realClock.setTimeout(fn, ms / factor) }
}

async function setup(server: PeerServer, range: [string, string] = ['10.1.0.10', '10.1.0.50']) {
  const srv = await TestNetns.create('dcs')
  const cli = await TestNetns.create('dcc')
  await vethPair({ netns: srv, ifname: 's0', address: `${NET.server}/${NET.prefixLength}` }, { netns: cli, ifname: 'c0' })
  const running = await server.start({ netns: srv, interface: 's0', net: NET, range })
  const dir = mkdtempSync(join(tmpdir(), 'lab-dhcp4-client-'))
  const resolvConf = join(dir, 'resolv.conf')
  const events: Array<{ reason: LeaseChangeReason; next?: ClientLease; old?: ClientLease }> = []
  const states: ClientState[] = []
  const clock = fastClock(server.leaseSeconds / 8)
  const start = async (extra: { leaseFile?: string } = {}) => {
    const client = await DhcpClient.start({
      interface: 'c0',
      netns: cli.name,
      clock,
      vendorClass: 'lab-test',
      hostname: 'vm1',
      onLease: compose(manageIP({ netns: cli.name }), manageRoutes({ netns: cli.name }), manageDNS(resolvConf)),
      ...extra,
    })
    client.on('lease', (e) => events.push(e))
    client.on('state', (s) => states.push(s))
    clients.push(client)
    return client
  }
  const clients: DhcpClient[] = []
  const addresses = async () => (await cli.ip<IpAddr[]>(['addr', 'show', 'dev', 'c0'])).flatMap((l) => l.addr_info.filter((a) => a.family === 'inet'))
  const routes = async () => cli.ip<IpRoute[]>(['route', 'show', 'dev', 'c0'])
  const until = async (what: string, ok: () => boolean, timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs
    while (!ok()) {
      if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms; events: ${events.map((e) => e.reason).join(',')}; states: ${states.join(',')}`)
      await new Promise((r) => setTimeout(r, 20))
    }
  }
  const teardown = async () => {
    for (const c of clients) await c.stop()
    await running.stop().catch(() => undefined)
    rmSync(dir, { recursive: true, force: true })
    await srv.delete()
    await cli.delete()
  }
  return { srv, cli, dir, running, start, events, states, addresses, routes, until, resolvConf, teardown, clock }
}

let teardown: (() => Promise<void>) | undefined
afterEach(async () => {
  await teardown?.()
  teardown = undefined
})
afterAll(() => cleanupAll())

for (const server of PEER_SERVERS) {
  describe.skipIf(!isRoot() || !server.available)(`DhcpClient against ${server.name} (needs root)`, () => {
    it('acquires and configures the lease (address, classless routes, resolv.conf), then renews at T1', async () => {
      const t = await setup(server)
      teardown = t.teardown
      const client = await t.start()
      const lease = await client.waitForLease(10_000)
      expect(lease).toMatchObject({ interface: 'c0', prefixLength: 24, serverId: NET.server, router: NET.server, dns: [NET.dns], domain: NET.domain, leaseTime: server.leaseSeconds })
      expect(lease.routes).toEqual(NET.routes)
      expect(lease.address).toMatch(/^10\.1\.0\.(\d+)$/)
      const addrs = await t.addresses()
      expect(addrs.map((a) => `${a.local}/${a.prefixlen}`)).toEqual([`${lease.address}/24`])
      expect(addrs[0]!.valid_life_time).toBeLessThanOrEqual(server.leaseSeconds)
      const routes = await t.routes()
      const dhcpRoutes = routes.filter((r) => r.protocol === 'dhcp').map((r) => `${r.dst} via ${r.gateway} src ${r.prefsrc}`)
      expect(dhcpRoutes.sort()).toEqual([`10.9.0.0/16 via 10.1.0.254 src ${lease.address}`, `default via 10.1.0.1 src ${lease.address}`])
      expect(readFileSync(t.resolvConf, 'utf8')).toMatch(/search lab\.test\nnameserver 10\.1\.0\.53\n$/)
      // T1 is half the lease: the client renews with the server and stays bound.
      await t.until('renewal', () => t.events.some((e) => e.reason === 'renew'), 15_000)
      expect(t.states).toContain('renewing')
      expect(client.state).toBe('bound')
      expect(client.lease!.address).toBe(lease.address)
      expect((await t.addresses()).map((a) => a.local)).toEqual([lease.address])
    })

    it('with the server gone, rebinds at T2 and removes the address and routes at expiry', async () => {
      const t = await setup(server)
      teardown = t.teardown
      const client = await t.start()
      const lease = await client.waitForLease(10_000)
      await t.running.stop()
      await t.until('expiry', () => t.events.some((e) => e.reason === 'expire'), 20_000)
      expect(t.states.slice(0, t.states.indexOf('rebinding') + 1)).toEqual(expect.arrayContaining(['bound', 'renewing', 'rebinding']))
      expect(t.events.find((e) => e.reason === 'expire')!.old!.address).toBe(lease.address)
      expect(await t.addresses()).toEqual([])
      expect((await t.routes()).filter((r) => r.protocol === 'dhcp')).toEqual([])
      expect(() => readFileSync(t.resolvConf)).toThrow()
      expect(client.state).toBe('selecting')
    })

    it('restarted after the server was renumbered and forgot it: INIT-REBOOT, NAK, a new lease', async () => {
      const t = await setup(server)
      teardown = t.teardown
      const leaseFile = join(t.dir, 'lease.json')
      const before = await t.start({ leaseFile })
      const lease = await before.waitForLease(10_000)
      await before.stop() // the client stops; the address stays, and the lease file keeps the lease
      await t.running.stop()
      const renumbered = network(2)
      await t.srv.exec(['ip', 'addr', 'flush', 'dev', 's0'])
      await t.srv.exec(['ip', 'addr', 'add', `${renumbered.server}/24`, 'dev', 's0'])
      const again = await server.start({ netns: t.srv, interface: 's0', net: renumbered, range: ['10.2.0.10', '10.2.0.50'] })
      teardown = async () => {
        await again.stop()
        await t.teardown()
      }
      t.states.length = 0
      const after = await t.start({ leaseFile })
      const next = await after.waitForLease(15_000)
      expect(t.states.slice(0, 2)).toEqual(['rebooting', 'selecting'])
      expect(t.events.find((e) => e.reason === 'nak')!.old!.address).toBe(lease.address)
      expect(next.address).toMatch(/^10\.2\.0\.\d+$/)
      expect(next.routes).toEqual(renumbered.routes)
      expect((await t.addresses()).map((a) => a.local)).toEqual([next.address])
      const dhcpRoutes = (await t.routes()).filter((r) => r.protocol === 'dhcp').map((r) => `${r.dst} via ${r.gateway}`)
      expect(dhcpRoutes.sort()).toEqual(['10.9.0.0/16 via 10.2.0.254', 'default via 10.2.0.1'])
      expect(JSON.parse(readFileSync(leaseFile, 'utf8')).address).toBe(next.address)
    })

    it('restarted on the same network: INIT-REBOOT gets the same lease back', async () => {
      const t = await setup(server)
      teardown = t.teardown
      const leaseFile = join(t.dir, 'lease.json')
      const before = await t.start({ leaseFile })
      const lease = await before.waitForLease(10_000)
      await before.stop()
      t.states.length = 0
      const after = await t.start({ leaseFile })
      const again = await after.waitForLease(10_000)
      expect(t.states.slice(0, 2)).toEqual(['rebooting', 'bound'])
      expect(again.address).toBe(lease.address)
      expect((await t.addresses()).map((a) => a.local)).toEqual([lease.address])
    })

    it('releases: the address leaves the interface and the server gives it to another client', async () => {
      // A one-address pool: the second client gets an address only if the release freed it.
      const t = await setup(server, ['10.1.0.10', '10.1.0.10'])
      teardown = t.teardown
      const first = await t.start()
      const lease = await first.waitForLease(10_000)
      expect(lease.address).toBe('10.1.0.10')
      await first.release()
      expect(t.events.map((e) => e.reason)).toEqual(['acquire', 'release'])
      expect(await t.addresses()).toEqual([])
      await t.cli.exec(['ip', 'link', 'set', 'c0', 'address', '02:00:00:aa:bb:cc'])
      const second = await t.start()
      expect(second.mac).toBe('02:00:00:aa:bb:cc')
      const again = await second.waitForLease(10_000)
      expect(again.address).toBe('10.1.0.10')
    })
  })
}
