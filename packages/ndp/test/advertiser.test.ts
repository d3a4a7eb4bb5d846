// RouterAdvertiser against real peers in throwaway namespaces: the client kernel's SLAAC and
// default-router handling, rdisc6 (ndisc6), and our own receive path. A FakeClock drives the
// advertiser's timing, so nothing waits for RFC 4861's intervals.
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { afterAll, describe, expect, it } from 'vitest'
import { FakeClock } from '@lab/clock'
import { PacketSocket } from '@lab/netlink-native'
import { TestNetns, cleanupAll, isRoot, vethPair, until } from '@lab/testkit'
import { MAX_INITIAL_RTR_ADVERT_INTERVAL, NdSocket, RA_CHANNEL, RouterAdvertiser, encodeIcmpv6Packet, encodeNdMessage, type NdPacket, type RaEvent } from '../src/index.js'


interface IpAddr {
  addr_info: Array<{ local: string; prefixlen: number; scope: string; dynamic?: boolean }>
}
interface IpRoute {
  dst: string
  gateway?: string
  dev: string
  protocol?: string
}

/** A router namespace and a client namespace joined by r0 <-> c0; the client takes RAs (accept_ra=2). */
async function link(tag: string) {
  const router = await TestNetns.create(`${tag}-r`)
  const client = await TestNetns.create(`${tag}-c`)
  await client.exec(['sysctl', '-q', '-w', 'net.ipv6.conf.default.accept_ra=2', 'net.ipv6.conf.all.accept_ra=2'])
  await vethPair({ netns: router, ifname: 'r0' }, { netns: client, ifname: 'c0' })
  await client.exec(['sysctl', '-q', '-w', 'net.ipv6.conf.c0.accept_ra=2'])
  // The router's link-local address is the RA's source and the client's is rdisc6's: wait until
  // DAD has finished with both (a tentative address cannot be bound).
  for (const [ns, dev] of [[router, 'r0'], [client, 'c0']] as const) {
    await until(`the link-local address on ${dev}`, () => ns.ip<IpAddr[]>(['-6', 'addr', 'show', 'dev', dev]), (a) => a[0]?.addr_info.some((i) => i.scope === 'link' && !('tentative' in i)) ?? false)
  }
  const routerLinkLocal = (await router.ip<IpAddr[]>(['-6', 'addr', 'show', 'dev', 'r0']))[0]!.addr_info.find((i) => i.scope === 'link')!.local
  return { router, client, routerLinkLocal }
}

const defaultRoutes = (ns: TestNetns) => ns.ip<IpRoute[]>(['-6', 'route', 'show', 'default'])

describe.skipIf(!isRoot())('RouterAdvertiser (needs root)', () => {
  afterAll(() => cleanupAll())

  it('configures the client by SLAAC with a default route via its link-local address, answers rdisc6, and withdraws the route on stop', async () => {
    const { router, client, routerLinkLocal } = await link('ra')
    const clock = new FakeClock()
    const events: RaEvent[] = []
    const onEvent = (m: unknown) => events.push(m as RaEvent)
    subscribe(RA_CHANNEL, onEvent)
    const ra = await RouterAdvertiser.start({
      netns: router.name,
      interface: 'r0',
      prefixes: ['fd00:1::/64'],
      rdnss: ['fd00:1::53'],
      dnssl: ['lab.example'],
      routes: [{ prefix: 'fd00:99::/48', preference: 'high' }],
      other: true,
      mtu: 1400,
      clock,
      random: () => 0.5,
    })
    try {
      // The first RA went out at start; the kernel forms fd00:1::<EUI-64> and a default route.
      const addrs = await until('a SLAAC address', () => client.ip<IpAddr[]>(['-6', 'addr', 'show', 'dev', 'c0']), (a) => a[0]?.addr_info.some((i) => i.local.startsWith('fd00:1:') && i.prefixlen === 64) ?? false)
      expect(addrs[0]!.addr_info.find((i) => i.local.startsWith('fd00:1:'))!.dynamic).toBe(true)
      const routes = await until('a default route', () => defaultRoutes(client), (r) => r.length > 0)
      expect(routes[0]).toMatchObject({ gateway: routerLinkLocal, dev: 'c0', protocol: 'ra' })
      // The RFC 4191 route: the kernel takes it with accept_ra_rt_info_max_plen >= 48 only, so it is checked with rdisc6 below.
      const mtu = await client.exec(['cat', '/proc/sys/net/ipv6/conf/c0/mtu'])
      expect(mtu.stdout.trim()).toBe('1400')

      // rdisc6 solicits; the answer waits for MIN_DELAY_BETWEEN_RAS after the first RA, on the fake clock.
      const rdisc6 = client.exec(['rdisc6', '-1', '-r', '1', '-w', '10000', 'c0'], { timeout: 15_000 })
      await until('the solicitation', () => ra.counters().solicitations, (n) => n >= 1)
      expect(clock.pendingDelays()[0]).toBe(3000)
      await clock.advance(3000)
      const out = (await rdisc6).stdout
      expect(out).toMatch(/Hop limit\s+:\s+64/)
      expect(out).toMatch(/Stateful address conf\.\s+:\s+No/)
      expect(out).toMatch(/Stateful other conf\.\s+:\s+Yes/)
      expect(out).toMatch(/Router preference\s+:\s+medium/)
      expect(out).toMatch(/Router lifetime\s+:\s+1800 \(0x00000708\) seconds/)
      expect(out).toMatch(/Prefix\s+:\s+fd00:1::\/64/)
      expect(out).toMatch(/MTU\s+:\s+1400 bytes/)
      expect(out).toMatch(/Route\s+:\s+fd00:99::\/48/)
      expect(out).toMatch(/Route preference\s+:\s+high/)
      expect(out).toMatch(/Recursive DNS server\s+:\s+fd00:1::53/)
      expect(out).toMatch(/DNS search list\s+:\s+lab\.example/)
      expect(out).toMatch(new RegExp(`from ${routerLinkLocal.replace(/\./g, '\\.')}`))
      expect(ra.counters()).toMatchObject({ unsolicited: 1, solicited: 1, solicitations: 1, malformed: 0, sendErrors: 0 })

      await ra.stop()
      await until('the default route to go', () => defaultRoutes(client), (r) => r.length === 0)
      expect(ra.counters()).toMatchObject({ final: 1, advertisements: 3 })
      expect(events.map((e) => [e.kind, e.advertisement.routerLifetime])).toEqual([
        ['unsolicited', 1800],
        ['solicited', 1800],
        ['final', 0],
      ])
    } finally {
      unsubscribe(RA_CHANNEL, onEvent)
      await ra.stop()
    }
  })

  it('setPrefixes announces a new prefix at once (the client forms an address in it) and withdraws a removed one with lifetimes 0 in the next three RAs (deprecated, on-link route gone)', async () => {
    const { router, client } = await link('rapfx')
    const clock = new FakeClock()
    const events: RaEvent[] = []
    const onEvent = (m: unknown) => events.push(m as RaEvent)
    subscribe(RA_CHANNEL, onEvent)
    const ra = await RouterAdvertiser.start({ netns: router.name, interface: 'r0', prefixes: ['fd00:1::/64'], clock, random: () => 0.5 })
    const addresses = async () => (await client.ip<Array<{ addr_info: Array<{ local: string; prefixlen: number; deprecated?: boolean; preferred_life_time?: number }> }>>(['-6', 'addr', 'show', 'dev', 'c0']))[0]?.addr_info ?? []
    const onLink = async () => (await client.ip<IpRoute[]>(['-6', 'route', 'show', 'dev', 'c0'])).map((r) => r.dst)
    try {
      await until('a SLAAC address in fd00:1::/64', addresses, (a) => a.some((i) => i.local.startsWith('fd00:1:')))
      ra.setPrefixes(['fd00:1::/64', { prefix: 'fd00:2:0:5::/64', validLifetime: 7200, preferredLifetime: 3600 }])
      const added = await until('a SLAAC address in fd00:2:0:5::/64', addresses, (a) => a.some((i) => i.local.startsWith('fd00:2:0:5:')))
      expect(added.find((i) => i.local.startsWith('fd00:2:0:5:'))!.preferred_life_time).toBeLessThanOrEqual(3600)
      expect(await onLink()).toContain('fd00:2:0:5::/64')

      ra.setPrefixes(['fd00:1::/64'])
      await until('the fd00:2:0:5:: address deprecated', addresses, (a) => a.some((i) => i.local.startsWith('fd00:2:0:5:') && i.deprecated === true))
      await until('the on-link route of fd00:2:0:5::/64 to go', onLink, (r) => !r.includes('fd00:2:0:5::/64'))
      expect((await addresses()).find((i) => i.local.startsWith('fd00:1:'))!.deprecated).toBeUndefined()
      // Withdrawn in three RAs (the one setPrefixes sent and the next two periodic ones), then left out.
      for (let i = 0; i < 3; i++) await clock.advance(clock.pendingDelays()[0]!)
      await until('five RAs sent', () => events.length, (n) => n >= 5)
      const second = (e: RaEvent) => e.advertisement.options.find((o) => o.type === 'prefix-information' && o.prefix === 'fd00:2:0:5::')
      expect(events.slice(0, 6).map((e) => (second(e) as { validLifetime: number } | undefined)?.validLifetime ?? null)).toEqual([null, 7200, 0, 0, 0, null])
      expect(() => ra.setPrefixes(['fd00:1::/64', { prefix: 'fd00:3::/64', validLifetime: 10, preferredLifetime: 20 }])).toThrow(/exceeds the valid lifetime/)
    } finally {
      unsubscribe(RA_CHANNEL, onEvent)
      await ra.stop()
    }
  })

  it('spaces unsolicited RAs as RFC 4861 6.2.4 says and rate-limits answers to solicitations (6.2.6)', async () => {
    const { router, client } = await link('ratime')
    const clock = new FakeClock()
    let r = 0.99
    await using watcher = await NdSocket.open({ netns: client.name, interface: 'c0', receive: ['router-advertisement'] })
    const seen: NdPacket[] = []
    watcher.on('message', (p) => seen.push(p))
    const ra = await RouterAdvertiser.start({ netns: router.name, interface: 'r0', prefixes: ['fd00:2::/64'], clock, random: () => r })
    try {
      // Intervals are uniform in [198 s, 600 s] (MinRtrAdvInterval defaults to 0.33 * 600); the
      // ones after the first three RAs are capped at MAX_INITIAL_RTR_ADVERT_INTERVAL.
      const delays: number[] = []
      for (let i = 0; i < 4; i++) {
        delays.push(clock.pendingDelays()[0]!)
        await clock.advance(clock.pendingDelays()[0]!)
      }
      expect(delays).toEqual([MAX_INITIAL_RTR_ADVERT_INTERVAL, MAX_INITIAL_RTR_ADVERT_INTERVAL, MAX_INITIAL_RTR_ADVERT_INTERVAL, 198_000 + 0.99 * 402_000])
      r = 0
      // An RS right after a multicast RA waits MIN_DELAY_BETWEEN_RAS; a second one is served by the same answer.
      await clock.advance(1000)
      const rs = { type: 'router-solicitation' as const, options: [{ type: 'source-link-layer-address' as const, address: watcher.mac }] }
      await watcher.send(rs, { destination: 'ff02::2' })
      await watcher.send(rs, { destination: 'ff02::2' })
      await until('two solicitations', () => ra.counters().solicitations, (n) => n === 2)
      expect(clock.pendingDelays()).toEqual([2000, 198_000 + 0.99 * 402_000 - 1000])
      await clock.advance(2000)
      expect(ra.counters()).toMatchObject({ unsolicited: 5, solicited: 1 })
      // After the answer, the periodic timer restarts from it.
      expect(clock.pendingDelays()).toEqual([198_000])
      await until('six RAs at the client', () => seen.length, (n) => n >= 6)
      expect(seen.every((p) => p.hopLimit === 255 && p.destination === 'ff02::1' && p.message.type === 'router-advertisement')).toBe(true)
    } finally {
      await ra.stop()
    }
  })

  it('counts the RAs it cannot send while the interface has no link-local address, and advertises once it has one', async () => {
    const { router, client } = await link('ranoll')
    // As with addrgenmode none, or a link an orchestrator numbers itself: no link-local address for a while.
    await router.exec(['ip', 'addr', 'flush', 'dev', 'r0', 'scope', 'link'])
    const clock = new FakeClock()
    const logged: string[] = []
    const logger = { debug() {}, info() {}, error() {}, warn: (_: unknown, msg?: string) => void logged.push(msg ?? '') }
    await using watcher = await NdSocket.open({ netns: client.name, interface: 'c0', receive: ['router-advertisement'] })
    const heard: NdPacket[] = []
    watcher.on('message', (p) => heard.push(p))
    const ra = await RouterAdvertiser.start({ netns: router.name, interface: 'r0', prefixes: ['fd00:4::/64'], clock, random: () => 0, logger })
    try {
      await until('the first send to fail', () => ra.counters().sendErrors, (n) => n === 1)
      expect(logged).toEqual(['router advertisement not sent'])
      await router.exec(['ip', 'addr', 'add', 'fe80::1/64', 'dev', 'r0', 'nodad'])
      await clock.advance(clock.pendingDelays()[0]!)
      await until('an RA at the client', () => heard.length, (n) => n === 1)
      expect(heard[0]!.source).toBe('fe80::1')
      expect(ra.counters()).toMatchObject({ unsolicited: 2, advertisements: 1, sendErrors: 1 })
    } finally {
      await ra.stop()
    }
  })

  it('counts and drops malformed ND packets: a hop limit other than 255, a zero option length, a bad checksum, invalid sources', async () => {
    const { router, client } = await link('rabad')
    const clock = new FakeClock()
    const ra = await RouterAdvertiser.start({ netns: router.name, interface: 'r0', prefixes: ['fd00:3::/64'], clock, random: () => 0 })
    await using raw = await PacketSocket.open({ netns: client.name, interface: 'c0', protocol: 'ipv6', type: 'dgram' })
    await using nd = await NdSocket.open({ netns: client.name, interface: 'c0', receive: ['router-advertisement'] })
    try {
      const source = (await nd.linkLocal())!
      const rs = encodeNdMessage({ type: 'router-solicitation', options: [] })
      const to = '33:33:00:00:00:02'
      // Sent from off-link as far as ND is concerned (RFC 4861 6.1.1).
      await raw.send(encodeIcmpv6Packet({ source, destination: 'ff02::2', hopLimit: 64, icmp: rs }), { to })
      await raw.send(encodeIcmpv6Packet({ source, destination: 'ff02::2', icmp: Buffer.from('8500000000000000' + '0100020000000002', 'hex') }), { to })
      const badSum = encodeIcmpv6Packet({ source, destination: 'ff02::2', icmp: rs })
      badSum[43]! ^= 0xff
      await raw.send(badSum, { to })
      // An RS from :: must not carry a source link-layer address.
      await raw.send(encodeIcmpv6Packet({ source: '::', destination: 'ff02::2', icmp: encodeNdMessage({ type: 'router-solicitation', options: [{ type: 'source-link-layer-address', address: nd.mac }] }) }), { to })
      await until('four malformed packets', () => ra.counters().malformed, (n) => n === 4)
      expect(ra.counters().solicitations).toBe(0)
      // Nothing was scheduled for them: only the periodic timer is armed.
      expect(clock.pending).toBe(1)
      // A valid RS from :: (a host without an address yet) is answered.
      await raw.send(encodeIcmpv6Packet({ source: '::', destination: 'ff02::2', icmp: rs }), { to })
      await until('the valid solicitation', () => ra.counters().solicitations, (n) => n === 1)
      expect(clock.pending).toBe(2)
      // The host side: an RA whose source is not link-local is discarded (RFC 4861 6.1.2).
      const heard: NdPacket[] = []
      nd.on('message', (p) => heard.push(p))
      await using routerRaw = await PacketSocket.open({ netns: router.name, interface: 'r0', protocol: 'ipv6', type: 'dgram' })
      const advert = encodeNdMessage({ ...ra.advertisement(), options: [] })
      await routerRaw.send(encodeIcmpv6Packet({ source: 'fd00:3::1', destination: 'ff02::1', icmp: advert }), { to: '33:33:00:00:00:01' })
      await until('the RA from a global address to be dropped', () => nd.counters().malformed, (n) => n === 1)
      expect(heard).toEqual([])
    } finally {
      await ra.stop()
    }
  })
})

describe('RouterAdvertiser options', () => {
  it('refuses bad options before opening anything', async () => {
    await expect(RouterAdvertiser.start({ interface: 'r0', maxInterval: 2 })).rejects.toMatchObject({ code: 'LAB_ERR_ARGUMENT', field: 'maxInterval' })
    await expect(RouterAdvertiser.start({ interface: 'r0', lifetime: 100 })).rejects.toMatchObject({ field: 'lifetime' })
    await expect(RouterAdvertiser.start({ interface: 'r0', prefixes: ['10.0.0.0/24'] })).rejects.toMatchObject({ field: 'prefixes[0]' })
    await expect(RouterAdvertiser.start({ interface: 'r0', dnssl: ['a'.repeat(64)] })).rejects.toMatchObject({ field: 'dnssl' })
  })
})
