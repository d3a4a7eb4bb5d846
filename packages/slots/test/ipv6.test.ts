import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TestNetns, cleanupAll, deferCleanup, isRoot, runSync, vethPair } from '@lab/testkit'
import { Netlink, Netns, listenTcp } from '@lab/netlink-native'
import { Nft } from '@lab/nft'
import { Slots, type Slot } from '../src/index.js'
import { attachGuest, endQuietly, connectsWithin, type Guest } from './guest.js'

const dist = fileURLToPath(new URL('../dist/index.js', import.meta.url))

/** Whether a TCP connection gets through within 2 s. */
const reaches = (netns: string, host: string, port: number) => connectsWithin(netns, host, port, 2000)

/** Polls `check` every 20 ms until it holds (a pool fills in the background); 30 s at most. */
async function until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 1500; i++) {
    if (await check()) return
    await new Promise((r) => setTimeout(r, 20))
  }
  throw new Error(`timed out waiting for ${what}`)
}

/** The address a server in `netns` sees a connection from `from` come from. */
async function seenFrom(listen: { netns: string; host: string; port: number }, from: string): Promise<string> {
  let seen!: (address: string) => void
  const remote = new Promise<string>((resolve) => (seen = resolve))
  const server = await listenTcp(listen, (s) => {
    seen(s.remoteAddress ?? '')
    endQuietly(s)
  })
  try {
    expect(await reaches(from, listen.host, listen.port)).toBe(true)
    return await remote
  } finally {
    server.close()
  }
}

describe.skipIf(!isRoot())('IPv6 slots (needs root)', () => {
  let host: TestNetns
  let internet: TestNetns
  let prefix: string
  let slots: Slots
  const guests: Guest[] = []
  const servers: Array<{ close(): void }> = []

  beforeAll(async () => {
    host = await TestNetns.create('v6-host')
    internet = await TestNetns.create('v6-net')
    await vethPair({ netns: host, ifname: 'up0', address: '192.0.2.1/24' }, { netns: internet, ifname: 'w0', address: '192.0.2.2/24' })
    // The "internet" over IPv6 (documentation prefix, RFC 3849); nodad: usable at once.
    await host.exec(['ip', 'addr', 'add', '2001:db8::1/64', 'dev', 'up0', 'nodad'])
    for (const a of ['2001:db8::2/64', '2001:db8::3/64']) await internet.exec(['ip', 'addr', 'add', a, 'dev', 'w0', 'nodad'])
    await host.exec(['ip', 'route', 'add', 'default', 'via', '192.0.2.2'])
    await host.exec(['ip', '-6', 'route', 'add', 'default', 'via', '2001:db8::2'])
    prefix = `${host.name}-6`
    deferCleanup('ipv6 slot namespaces', () => {
      if (!existsSync('/run/netns')) return
      for (const n of readdirSync('/run/netns')) if (n.startsWith(prefix)) runSync(['ip', 'netns', 'del', n], true)
    })
    slots = await Slots.open({ hostNetns: host.name, netnsPrefix: prefix, vethPrefix: 'v6s', ipv6: true })
    for (const address of ['2001:db8::2', '2001:db8::3']) servers.push(await listenTcp({ netns: internet.name, host: address, port: 8080 }, endQuietly))
  })
  afterAll(async () => {
    for (const g of guests) g.stop()
    for (const s of servers) s.close()
    await slots?.flush()
    await slots?.settled()
    await slots?.close()
    cleanupAll()
  })

  let one: Slot
  let two: Slot

  it('gives a slot IPv6 on the veth and the TAP, routes both ways and forwarding in the slot and the host', async () => {
    one = await slots.add()
    two = await slots.add()
    expect(one.ipv6).toEqual({ vethAddress: 'fd0a:b3ec:12::2', peerAddress: 'fd0a:b3ec:12::3', hostReachableIP: 'fd0a:b3ec:11::1', tapAddress: 'fd0a:b3ec:fc::1', tapPrefixLength: 64, guestIP: 'fd0a:b3ec:fc::2' })
    expect(two.ipv6?.hostReachableIP).toBe('fd0a:b3ec:11::2')
    await using inner = await Netlink.open({ netns: one.netns })
    const addrs = (await inner.addr.list({ family: 6 })).filter((a) => a.scope === 0)
    expect(addrs.map((a) => a.cidr).sort()).toEqual(['fd0a:b3ec:12::3/127', 'fd0a:b3ec:fc::1/64'])
    expect(addrs.every((a) => !a.tentative)).toBe(true)
    expect((await inner.route.list({ family: 6 })).find((r) => r.dst === 'default')?.gateway).toBe('fd0a:b3ec:12::2')
    expect(await inner.sysctl.get('net.ipv6.conf.all.forwarding')).toBe('1')
    await using hostNl = await Netlink.open({ netns: host.name })
    expect(await hostNl.sysctl.get('net.ipv6.conf.all.forwarding')).toBe('1')
    expect((await hostNl.addr.list({ link: one.vethName, family: 6 })).map((a) => a.cidr)).toContain('fd0a:b3ec:12::2/127')
    expect((await hostNl.route.list({ family: 6 })).find((r) => r.dst === 'fd0a:b3ec:11::1/128')?.gateway).toBe('fd0a:b3ec:12::3')
    // NAT66 lives in the same kind of tables as NAT44: the slot's and the host's.
    await using nft = await Nft.open({ netns: one.netns })
    expect((await nft.tables()).map((t) => `${t.family} ${t.name}`).sort()).toEqual(['ip lab-slot', 'ip6 lab-slot'])
  })

  it('lets the guest reach the world over IPv6 through NAT66, and the host reach the guest at its host-reachable IPv6 address', async () => {
    guests.push(await attachGuest(one), await attachGuest(two))
    const [g1] = guests
    // Masqueraded out of the uplink: the world sees the host's address, not the slot's or the guest's.
    expect(await seenFrom({ netns: internet.name, host: '2001:db8::2', port: 8081 }, g1!.netns.name)).toBe('2001:db8::1')
    let guestSaw!: (address: string) => void
    const at = new Promise<string>((resolve) => (guestSaw = resolve))
    const service = await listenTcp({ netns: g1!.netns.name, host: one.ipv6!.guestIP, port: 2222 }, (s) => {
      guestSaw(s.localAddress ?? '')
      endQuietly(s)
    })
    try {
      expect(await reaches(host.name, one.ipv6!.hostReachableIP, 2222)).toBe(true)
      expect(await at).toBe(one.ipv6!.guestIP) // DNATed in the slot
    } finally {
      service.close()
    }
  })

  it('keeps a guest away from another slot over IPv6', async () => {
    const [g1, g2] = guests
    const service = await listenTcp({ netns: g2!.netns.name, host: two.ipv6!.guestIP, port: 2223 }, endQuietly)
    try {
      expect(await reaches(host.name, two.ipv6!.hostReachableIP, 2223)).toBe(true)
      expect(await reaches(g1!.netns.name, two.ipv6!.hostReachableIP, 2223)).toBe(false)
      expect(await reaches(g1!.netns.name, two.ipv6!.peerAddress, 2223)).toBe(false)
    } finally {
      service.close()
    }
  })

  it('egress policies cover IPv6: deny blocks it, allow and deny lists take IPv6 CIDRs', async () => {
    const from = guests[0]!.netns.name
    expect(await reaches(from, '2001:db8::2', 8080)).toBe(true)
    await slots.setEgress(one.index, 'deny')
    expect(await reaches(from, '2001:db8::2', 8080)).toBe(false)
    await slots.setEgress(one.index, { allow: ['2001:db8::2/128', '192.0.2.2'] })
    expect(await reaches(from, '2001:db8::2', 8080)).toBe(true)
    expect(await reaches(from, '2001:db8::3', 8080)).toBe(false)
    await slots.setEgress(one.index, { deny: ['2001:db8::2'] })
    expect(await reaches(from, '2001:db8::2', 8080)).toBe(false)
    expect(await reaches(from, '2001:db8::3', 8080)).toBe(true)
    // An IPv4-only list leaves IPv6 as the policy's kind says: allow-list -> none of it.
    await slots.setEgress(one.index, { allow: ['192.0.2.0/24'] })
    expect(await reaches(from, '2001:db8::3', 8080)).toBe(false)
    await slots.setEgress(one.index, 'allow')
    expect(await reaches(from, '2001:db8::3', 8080)).toBe(true)
    // Another slot was never affected.
    expect(await reaches(guests[1]!.netns.name, '2001:db8::2', 8080)).toBe(true)
    const table = await host.exec(['nft', 'list', 'table', 'ip6', 'lab-slots'])
    expect(table.stdout).not.toMatch(/chain egress_/)
  })

  it('adopts slots with their IPv6 after a restart, also by an owner without ipv6, whose new slots have none', async () => {
    await slots.close()
    slots = await Slots.open({ hostNetns: host.name, netnsPrefix: prefix, vethPrefix: 'v6s' })
    expect(slots.ipv6).toBe(false)
    expect(slots.list().map((s) => [s.index, s.ipv6?.hostReachableIP])).toEqual([
      [1, 'fd0a:b3ec:11::1'],
      [2, 'fd0a:b3ec:11::2'],
    ])
    // Still reachable, still masqueraded (the host's IPv6 table was kept).
    const service = await listenTcp({ netns: guests[0]!.netns.name, host: one.ipv6!.guestIP, port: 2224 }, endQuietly)
    expect(await reaches(host.name, one.ipv6!.hostReachableIP, 2224)).toBe(true)
    service.close()
    expect(await seenFrom({ netns: internet.name, host: '2001:db8::3', port: 8082 }, guests[0]!.netns.name)).toBe('2001:db8::1')
    const plain = await slots.add()
    expect(plain.ipv6).toBeUndefined()
    await slots.del(plain.index)
    await slots.close()
    slots = await Slots.open({ hostNetns: host.name, netnsPrefix: prefix, vethPrefix: 'v6s', ipv6: true })
  })

  it('a pool hands out and scrubs IPv6 slots; removal leaves no IPv6 route, address or set element behind', async () => {
    for (const g of guests.splice(0)) g.stop()
    await slots.del(one.index)
    await slots.destroy(two.index)
    await slots.settled()
    // Two indexes only: the pool cannot refill behind the acquire, so the release finds room and scrubs.
    await using pooled = await Slots.open({ hostNetns: host.name, netnsPrefix: prefix, vethPrefix: 'v6s', ipv6: true, pool: { size: 2 }, maxSlots: 2 })
    await until(() => pooled.status().pool!.idle === 2, 'the pool to fill')
    const slot = await pooled.acquire()
    expect(slot.ipv6?.guestIP).toBe('fd0a:b3ec:fc::2')
    const guest = await attachGuest(slot)
    const service = await listenTcp({ netns: guest.netns.name, host: slot.ipv6!.guestIP, port: 2222 }, endQuietly)
    const flows = (...filter: string[]) => runSync(['ip', 'netns', 'exec', host.name, 'conntrack', '-L', '-f', 'ipv6', ...filter], true).split('\n').filter((l) => l.includes('src='))
    try {
      expect(await reaches(guest.netns.name, '2001:db8::2', 8080)).toBe(true)
      expect(await reaches(host.name, slot.ipv6!.hostReachableIP, 2222)).toBe(true)
      expect(flows('-s', slot.ipv6!.peerAddress).length).toBeGreaterThan(0)
      expect(flows('-d', slot.ipv6!.hostReachableIP).length).toBeGreaterThan(0)
      await pooled.setEgress(slot.index, 'deny')
      // The guest's relay still holds the TAP open: the release re-creates it, with its IPv6 address.
      await pooled.release(slot)
      expect(flows('-s', slot.ipv6!.peerAddress)).toEqual([])
      expect(flows('-d', slot.ipv6!.hostReachableIP)).toEqual([])
      await using inner = await Netlink.open({ netns: slot.netns })
      expect((await inner.addr.list({ link: slot.tapName, family: 6 })).map((a) => a.cidr)).toEqual(['fd0a:b3ec:fc::1/64'])
    } finally {
      service.close()
      guest.stop()
    }
    const again = await pooled.acquire()
    expect(again.index).toBe(slot.index)
    expect(pooled.egress(again.index)).toBe('allow')
    const second = await attachGuest(again)
    const service2 = await listenTcp({ netns: second.netns.name, host: again.ipv6!.guestIP, port: 2222 }, endQuietly)
    try {
      expect(await reaches(second.netns.name, '2001:db8::3', 8080)).toBe(true)
      expect(await reaches(host.name, again.ipv6!.hostReachableIP, 2222)).toBe(true)
    } finally {
      service2.close()
      second.stop()
    }
    await pooled.flush()
    await pooled.settled()
    await using nl = await Netlink.open({ netns: host.name })
    expect((await nl.route.list({ family: 6 })).filter((r) => r.dst.startsWith('fd0a:b3ec:'))).toEqual([])
    expect((await nl.addr.list({ family: 6 })).filter((a) => a.address.startsWith('fd0a:b3ec:'))).toEqual([])
    await using nft = await Nft.open({ netns: host.name })
    expect(await nft.elements({ table: { family: 'ip6', name: 'lab-slots' }, name: 'slot_sources', type: 'ipv6_addr' })).toEqual([])
    expect(await nft.elements({ table: { family: 'ip6', name: 'lab-slots' }, name: 'slot_veths', type: 'ifname' })).toEqual([])
    expect((await Netns.list()).filter((n) => n.startsWith(prefix))).toEqual([])
  }, 60_000)

  it.skipIf(!existsSync(dist))('after kill -9 of a pool owner, a new open takes its IPv6 slots back with their IPv6', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'slots-v6-'))
    deferCleanup('v6 pool owner script', () => rmSync(dir, { recursive: true, force: true }))
    const script = join(dir, 'owner.mjs')
    writeFileSync(
      script,
      `import { Slots } from ${JSON.stringify(pathToFileURL(dist).href)}
const slots = await Slots.open({ hostNetns: ${JSON.stringify(host.name)}, netnsPrefix: ${JSON.stringify(prefix)}, vethPrefix: 'v6s', pool: { size: 3 }, ipv6: true })
while (slots.status().pool.idle < 3) await new Promise((r) => setTimeout(r, 20))
console.log('ready')
setInterval(() => {}, 1000)
`,
    )
    const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] })
    deferCleanup('v6 pool owner', () => child.kill('SIGKILL'))
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve())
      child.on('exit', (code) => reject(new Error(`owner exited with ${code}`)))
    })
    child.kill('SIGKILL')
    await new Promise((r) => child.once('exit', r))
    // A pool with IPv6 takes two back with their IPv6 (and removes the third: no room).
    {
      await using v6pool = await Slots.open({ hostNetns: host.name, netnsPrefix: prefix, vethPrefix: 'v6s', pool: { size: 2 }, ipv6: true })
      expect(v6pool.status().pool).toMatchObject({ idle: 2, acquired: 0 })
      const slot = await v6pool.acquire()
      expect(slot.ipv6?.hostReachableIP).toBe(`fd0a:b3ec:11::${slot.index.toString(16)}`)
      const guest = await attachGuest(slot)
      expect(await reaches(guest.netns.name, '2001:db8::2', 8080)).toBe(true)
      guest.stop()
      await v6pool.release(slot)
      await v6pool.settled()
      expect((await Netns.list()).filter((n) => n.startsWith(prefix)).length).toBe(2)
    }
    // They stay idle after close. An IPv4-only pool would hand out the wrong addresses: it removes them instead.
    {
      await using v4pool = await Slots.open({ hostNetns: host.name, netnsPrefix: prefix, vethPrefix: 'v6s', pool: { size: 1 } })
      await until(() => v4pool.status().pool!.idle === 1, 'the IPv4 pool to fill')
      expect(v4pool.list().every((s) => s.ipv6 === undefined)).toBe(true)
      await v4pool.flush()
      await v4pool.settled()
    }
    expect((await Netns.list()).filter((n) => n.startsWith(prefix))).toEqual([])
  }, 60_000)
})
