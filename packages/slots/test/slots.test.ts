import { existsSync, readdirSync } from 'node:fs'
import pino from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TestNetns, cleanupAll, deferCleanup, isRoot, runSync, vethPair } from '@lab/testkit'
import { Netlink, Netns, connectTcp, listenTcp } from '@lab/netlink-native'
import { Nft } from '@lab/nft'
import { Slots, type Slot } from '../src/index.js'
import { attachGuest, type Guest } from './guest.js'

const logger = pino({ level: 'silent' })

/** Whether a TCP connection gets through within 3 s (a dropped SYN would otherwise hang for minutes). */
async function reaches(netns: string, host: string, port: number): Promise<boolean> {
  const attempt = connectTcp({ netns, host, port }).then(
    (s) => {
      s.destroy()
      return true
    },
    () => false,
  )
  const timeout = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 3000).unref())
  return Promise.race([attempt, timeout])
}

describe.skipIf(!isRoot())('sandbox network slots (needs root)', () => {
  let host: TestNetns
  let internet: TestNetns
  let prefix: string
  let slots: Slots
  const guests: Guest[] = []

  beforeAll(async () => {
    host = await TestNetns.create('slot-host')
    internet = await TestNetns.create('slot-net')
    await vethPair({ netns: host, ifname: 'up0', address: '192.0.2.1/24' }, { netns: internet, ifname: 'w0', address: '192.0.2.2/24' })
    await host.exec(['ip', 'route', 'add', 'default', 'via', '192.0.2.2'])
    // Slot namespaces carry the harness prefix so a crashed run's leftovers are swept.
    prefix = `${host.name}-s`
    deferCleanup('slot namespaces', () => {
      if (!existsSync('/run/netns')) return
      for (const n of readdirSync('/run/netns')) if (n.startsWith(prefix)) runSync(['ip', 'netns', 'del', n], true)
    })
    slots = await Slots.open({ hostNetns: host.name, netnsPrefix: prefix, vethPrefix: 'sv', logger })
  })
  afterAll(() => {
    for (const g of guests) g.stop()
    slots?.close()
    cleanupAll()
  })

  let one: Slot
  let two: Slot

  it('finds the uplink from the default route and creates slots with the seed topology', async () => {
    expect(slots.uplink).toBe('up0')
    one = await slots.create()
    two = await slots.create()
    expect(one).toMatchObject({ index: 1, netns: `${prefix}1`, vethName: 'sv1', vethAddress: '10.12.0.2', peerAddress: '10.12.0.3', hostReachableIP: '10.11.0.1', guestIP: '169.254.0.21', guestMAC: '02:fc:00:00:00:05', tapName: 'tap0' })
    expect(two.index).toBe(2)
    const inner = await Netlink.open({ netns: one.netns })
    const addrs = (await inner.addr.list({ family: 4 })).map((a) => a.cidr).sort()
    expect(addrs).toEqual(['10.12.0.3/31', '127.0.0.1/8', '169.254.0.22/30'])
    expect((await inner.route.list()).find((r) => r.dst === 'default')?.gateway).toBe('10.12.0.2')
    expect(await inner.sysctl.get('net.ipv4.ip_forward')).toBe('1')
    inner.close()
    const routes = await host.ip<Array<{ dst: string; gateway?: string }>>(['route', 'show'])
    expect(routes).toContainEqual(expect.objectContaining({ dst: '10.11.0.1', gateway: '10.12.0.3' }))
  })

  it('lets the guest reach the world through SNAT + masquerade, and the host reach the guest through DNAT', async () => {
    guests.push(await attachGuest(one), await attachGuest(two))
    const [g1] = guests
    let seenFrom!: (address: string) => void
    const from = new Promise<string>((resolve) => (seenFrom = resolve))
    const world = await listenTcp({ netns: internet.name, host: '192.0.2.2', port: 8080 }, (s) => {
      seenFrom(s.remoteAddress ?? '')
      s.end()
    })
    expect(await reaches(g1!.netns.name, '192.0.2.2', 8080)).toBe(true)
    expect(await from).toBe('192.0.2.1') // the host's uplink address: masqueraded on the way out
    world.close()
    let guestSaw!: (address: string) => void
    const at = new Promise<string>((resolve) => (guestSaw = resolve))
    const service = await listenTcp({ netns: g1!.netns.name, host: '169.254.0.21', port: 2222 }, (s) => {
      guestSaw(s.localAddress ?? '')
      s.end()
    })
    expect(await reaches(host.name, one.hostReachableIP, 2222)).toBe(true)
    expect(await at).toBe('169.254.0.21')
    service.close()
  })

  it('keeps a guest away from another slot', async () => {
    const [, g2] = guests
    const service = await listenTcp({ netns: g2!.netns.name, host: '169.254.0.21', port: 2223 }, (s) => s.end())
    expect(await reaches(host.name, two.hostReachableIP, 2223)).toBe(true)
    expect(await reaches(guests[0]!.netns.name, two.hostReachableIP, 2223)).toBe(false)
    service.close()
  })

  it('adopts existing slots after a restart instead of leaking them', async () => {
    slots.close()
    slots = await Slots.open({ hostNetns: host.name, netnsPrefix: prefix, vethPrefix: 'sv', logger })
    expect(slots.list().map((s) => s.index)).toEqual([1, 2])
    expect((await slots.create()).index).toBe(3)
    await slots.destroy(3)
  })

  it('destroys slots completely and idempotently, also 200 of them, leaving nothing behind', async () => {
    for (const g of guests.splice(0)) g.stop()
    await slots.destroy(one.index)
    await slots.destroy(two.index)
    await slots.destroy(two.index)
    const nl = await Netlink.open({ netns: host.name })
    const nft = await Nft.open({ netns: host.name })
    const snapshot = async () => ({
      links: (await nl.link.list()).map((l) => l.name).sort(),
      routes: (await nl.route.list({ table: 'all' })).map((r) => `${r.dst} ${r.gateway ?? ''} ${r.table}`).sort(),
      rules: (await nl.rule.list()).length,
      netns: (await Netns.list()).filter((n) => n.startsWith(prefix)),
      elements: (await nft.elements({ table: { family: 'ip', name: 'lab-slots' }, name: 'slot_sources', type: 'ipv4_addr' })).length,
    })
    const before = await snapshot()
    expect(before.netns).toEqual([])
    const made: number[] = []
    for (let i = 0; i < 200; i++) made.push((await slots.create()).index)
    expect((await snapshot()).elements).toBe(200)
    for (const i of made) await slots.destroy(i)
    expect(await snapshot()).toEqual(before)
    // Overlapping: createMany and plain concurrent creates get distinct indexes and whole slots.
    const many = await slots.createMany(40, 4)
    const more = await Promise.all(Array.from({ length: 10 }, () => slots.create()))
    const all = [...many, ...more]
    expect(new Set(all.map((s) => s.index)).size).toBe(50)
    const mid = await snapshot()
    expect(mid.elements).toBe(50)
    expect(mid.netns.length).toBe(50)
    for (const s of [all[0]!, all[25]!, all[49]!]) {
      const inner = await Netlink.open({ netns: s.netns })
      const addrs = (await inner.addr.list()).map((a) => a.cidr).sort()
      inner.close()
      expect(addrs).toEqual(expect.arrayContaining([`${s.peerAddress}/31`, `${s.tapAddress}/${s.tapPrefixLength}`]))
    }
    await slots.destroyMany(all.map((s) => s.index))
    expect(await snapshot()).toEqual(before)
    nl.close()
    nft.close()
  }, 120_000)
})
