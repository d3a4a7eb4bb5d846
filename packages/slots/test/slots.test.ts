import { existsSync, readdirSync } from 'node:fs'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TestNetns, cleanupAll, deferCleanup, isRoot, runSync, vethPair } from '@lab/testkit'
import { LabError, Netlink, Netns, isNotFound, listenTcp, type Logger } from '@lab/netlink-native'
import { Nft } from '@lab/nft'
import { BUILDING_ALIAS, CHANNELS, SlotsError, Slots, type Slot, type SlotEvent } from '../src/index.js'
import { attachGuest, endQuietly, connectsWithin, type Guest } from './guest.js'

/** A logger that keeps what it is given, to check what the library reports. */
function recordingLogger() {
  const records: Array<{ level: string; obj: unknown; msg?: string }> = []
  const at = (level: string) => (obj: unknown, msg?: string) => void records.push({ level, obj, msg })
  const logger: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }
  return { logger, records }
}
const { logger } = recordingLogger()

/** Whether a TCP connection gets through within 3 s. */
const reaches = (netns: string, host: string, port: number) => connectsWithin(netns, host, port, 3000)

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
  afterAll(async () => {
    for (const g of guests) g.stop()
    await slots?.close()
    cleanupAll()
  })

  let one: Slot
  let two: Slot

  it('finds the uplink from the default route and creates slots with the seed topology', async () => {
    expect(slots.uplink).toBe('up0')
    one = await slots.add()
    two = await slots.add()
    expect(one).toMatchObject({ index: 1, netns: `${prefix}1`, vethName: 'sv1', vethAddress: '10.12.0.2', peerAddress: '10.12.0.3', hostReachableIP: '10.11.0.1', guestIP: '169.254.0.21', guestMAC: '02:fc:00:00:00:05', tapName: 'tap0' })
    expect(two.index).toBe(2)
    const inner = await Netlink.open({ netns: one.netns })
    const addrs = (await inner.addr.list({ family: 4 })).map((a) => a.cidr).sort()
    expect(addrs).toEqual(['10.12.0.3/31', '127.0.0.1/8', '169.254.0.22/30'])
    expect((await inner.route.list()).find((r) => r.dst === 'default')?.gateway).toBe('10.12.0.2')
    // Forwarding is on per link (the guest's TAP and the veth), not namespace-wide.
    expect(await inner.sysctl.get('net/ipv4/conf/eth0/forwarding')).toBe('1')
    expect(await inner.sysctl.get('net/ipv4/conf/tap0/forwarding')).toBe('1')
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
      endQuietly(s)
    })
    expect(await reaches(g1!.netns.name, '192.0.2.2', 8080)).toBe(true)
    expect(await from).toBe('192.0.2.1') // the host's uplink address: masqueraded on the way out
    world.close()
    let guestSaw!: (address: string) => void
    const at = new Promise<string>((resolve) => (guestSaw = resolve))
    const service = await listenTcp({ netns: g1!.netns.name, host: '169.254.0.21', port: 2222 }, (s) => {
      guestSaw(s.localAddress ?? '')
      endQuietly(s)
    })
    expect(await reaches(host.name, one.hostReachableIP, 2222)).toBe(true)
    expect(await at).toBe('169.254.0.21')
    service.close()
  })

  it('keeps a guest away from another slot', async () => {
    const [, g2] = guests
    const service = await listenTcp({ netns: g2!.netns.name, host: '169.254.0.21', port: 2223 }, endQuietly)
    expect(await reaches(host.name, two.hostReachableIP, 2223)).toBe(true)
    expect(await reaches(guests[0]!.netns.name, two.hostReachableIP, 2223)).toBe(false)
    service.close()
  })

  it('adopts existing slots after a restart instead of leaking them', async () => {
    await slots.close()
    await slots.close() // idempotent
    await expect(slots.add()).rejects.toMatchObject({ code: 'LAB_ERR_SLOTS_CLOSED' })
    slots = await Slots.open({ hostNetns: host.name, netnsPrefix: prefix, vethPrefix: 'sv', logger })
    expect(slots.list().map((s) => s.index)).toEqual([1, 2])
    expect((await slots.add()).index).toBe(3)
    await slots.del(3)
  })

  it('removes half-made slots (an owner killed between the messages of an add) instead of adopting them', async () => {
    await slots.close()
    // Slot 3: the veth exists but was never brought up. Slot 4: up, but still marked as being built.
    for (const [index, up] of [
      [3, false],
      [4, true],
    ] as const) {
      await Netns.add(`${prefix}${index}`)
      await using nl = await Netlink.open({ netns: host.name })
      await nl.link.add({ name: `sv${index}`, kind: 'veth', peer: { name: 'eth0', netns: `${prefix}${index}` } })
      if (up) await nl.link.set(`sv${index}`, { up: true, alias: BUILDING_ALIAS })
    }
    slots = await Slots.open({ hostNetns: host.name, netnsPrefix: prefix, vethPrefix: 'sv', logger })
    expect(slots.list().map((s) => s.index)).toEqual([1, 2])
    await slots.settled() // the removal finishes in the background
    expect(existsSync(`/run/netns/${prefix}3`) || existsSync(`/run/netns/${prefix}4`)).toBe(false)
    const links = await host.ip<Array<{ ifname: string }>>(['link', 'show'])
    expect(links.map((l) => l.ifname).filter((n) => n === 'sv3' || n === 'sv4')).toEqual([])
    // A slot added now is complete: up and unmarked.
    const three = await slots.add()
    const veth = (await host.ip<Array<{ ifname: string; flags: string[]; ifalias?: string }>>(['link', 'show', 'sv3']))[0]!
    expect(veth.flags).toContain('UP')
    expect(veth.ifalias).toBeUndefined()
    await slots.del(three.index)
  })

  it('del fails for a slot that does not exist (isNotFound), destroy does not; both publish on lab:slots:slot', async () => {
    const events: SlotEvent[] = []
    const listener = (message: unknown) => void events.push(message as SlotEvent)
    subscribe(CHANNELS.slot, listener)
    try {
      const added = await slots.add()
      await slots.del(added.index)
      const error = await slots.del(added.index).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(SlotsError)
      expect(error).toBeInstanceOf(LabError)
      expect(isNotFound(error)).toBe(true)
      expect((error as Error).message).toBe(`ENOENT: slot del ${added.index} (no such slot)`)
      await slots.destroy(added.index)
      expect(events).toEqual([
        { action: 'added', hostNetns: host.name, slot: added },
        { action: 'removed', hostNetns: host.name, slot: added },
      ])
    } finally {
      unsubscribe(CHANNELS.slot, listener)
    }
  })

  it('works with await using and logs to the logger it is given', async () => {
    const { logger: recorder, records } = recordingLogger()
    let index: number
    {
      await using scoped = await Slots.open({ hostNetns: host.name, netnsPrefix: prefix, vethPrefix: 'sv', logger: recorder })
      index = (await scoped.add()).index
      await scoped.del(index)
    }
    expect(records).toContainEqual({ level: 'info', obj: { slot: index, netns: `${prefix}${index}` }, msg: 'slot added' })
  })

  it('removes slots completely, also 200 of them, leaving nothing behind', async () => {
    for (const g of guests.splice(0)) g.stop()
    await slots.del(one.index)
    await slots.destroy(two.index)
    await slots.destroy(two.index)
    await slots.settled()
    const nl = await Netlink.open({ netns: host.name })
    const nft = await Nft.open({ netns: host.name })
    const snapshot = async () => ({
      links: (await nl.link.list()).map((l) => l.name).sort(),
      // IPv4: the uplink's IPv6 link-local route appears whenever its DAD ends, slots or not.
      routes: (await nl.route.list({ table: 'all', family: 4 })).map((r) => `${r.dst} ${r.gateway ?? ''} ${r.table}`).sort(),
      rules: (await nl.rule.list()).length,
      netns: (await Netns.list()).filter((n) => n.startsWith(prefix)),
      elements: (await nft.elements({ table: { family: 'ip', name: 'lab-slots' }, name: 'slot_sources', type: 'ipv4_addr' })).length,
    })
    const before = await snapshot()
    expect(before.netns).toEqual([])
    const made: number[] = []
    for (let i = 0; i < 200; i++) made.push((await slots.add()).index)
    expect((await snapshot()).elements).toBe(200)
    for (const i of made) await slots.del(i)
    // A removal leaves the veth pair to the kernel's namespace cleanup: wait for it.
    await slots.settled()
    expect(await snapshot()).toEqual(before)
    // Overlapping: addMany and plain concurrent adds get distinct indexes and whole slots.
    const many = await slots.addMany(40, 4)
    const more = await Promise.all(Array.from({ length: 10 }, () => slots.add()))
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
    await slots.destroyMany(all.slice(0, 25).map((s) => s.index))
    await slots.flush()
    expect(slots.list()).toEqual([])
    await slots.settled()
    expect(await snapshot()).toEqual(before)
    await nl.close()
    await nft.close()
  }, 120_000)
})
