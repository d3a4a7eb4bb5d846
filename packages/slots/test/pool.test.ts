import { spawn } from 'node:child_process'
import { existsSync, readdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TestNetns, cleanupAll, deferCleanup, isRoot, runSync, vethPair } from '@lab/testkit'
import { Netlink, Netns, isNotFound, listenTcp } from '@lab/netlink-native'
import { IDLE_ALIAS, Slots, type Slot } from '../src/index.js'
import { attachGuest, endQuietly, connectsWithin } from './guest.js'

const dist = fileURLToPath(new URL('../dist/index.js', import.meta.url))

/** Polls `check` every 20 ms until it holds (the pool fills in the background); 30 s at most. */
async function until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 1500; i++) {
    if (await check()) return
    await new Promise((r) => setTimeout(r, 20))
  }
  throw new Error(`timed out waiting for ${what}`)
}

/** Whether a TCP connection gets through within 3 s. */
const connects = (netns: string, host: string, port: number) => connectsWithin(netns, host, port, 3000)

/** `conntrack -L` in a namespace, with filter arguments: the entries, one per line. */
function conntrack(netns: string, filter: string[] = []): string[] {
  return runSync(['ip', 'netns', 'exec', netns, 'conntrack', '-L', ...filter], true)
    .split('\n')
    .filter((l) => l.includes('src='))
}

describe.skipIf(!isRoot())('warm pool (needs root)', () => {
  let host: TestNetns
  let internet: TestNetns
  let prefix: string

  beforeAll(async () => {
    host = await TestNetns.create('pool-host')
    internet = await TestNetns.create('pool-net')
    await vethPair({ netns: host, ifname: 'up0', address: '192.0.2.1/24' }, { netns: internet, ifname: 'w0', address: '192.0.2.2/24' })
    await host.exec(['ip', 'route', 'add', 'default', 'via', '192.0.2.2'])
    prefix = `${host.name}-p`
    deferCleanup('pool slot namespaces', () => {
      if (!existsSync('/run/netns')) return
      for (const n of readdirSync('/run/netns')) if (n.startsWith(prefix)) runSync(['ip', 'netns', 'del', n], true)
    })
  })
  afterAll(() => cleanupAll())

  const open = (size: number, extra: Partial<Parameters<typeof Slots.open>[0]> = {}) =>
    Slots.open({ hostNetns: host.name, netnsPrefix: prefix, vethPrefix: 'pv', pool: { size }, ...extra })
  const slotNamespaces = async () => (await Netns.list()).filter((n) => n.startsWith(prefix)).length

  it('fills in the background; 200 concurrent acquires never share a slot; releases go back up to the size', async () => {
    await using slots = await open(8)
    await until(() => slots.status().pool!.idle === 8, 'the pool to fill')
    expect(slots.status()).toMatchObject({ slots: 8, pool: { size: 8, idle: 8, filling: 0, acquired: 0, reuse: true } })
    const links = await host.ip<Array<{ ifname: string; ifalias?: string }>>(['link', 'show'])
    expect(links.filter((l) => l.ifalias === IDLE_ALIAS).length).toBe(8)
    const got = await Promise.all(Array.from({ length: 200 }, () => slots.acquire()))
    expect(new Set(got.map((s) => s.index)).size).toBe(200)
    expect(slots.status().pool!.acquired).toBe(200)
    await Promise.all(got.map((s) => slots.release(s)))
    await until(() => slots.status().pool!.filling === 0, 'refills to end')
    const status = slots.status()
    expect(status.pool).toMatchObject({ idle: 8, acquired: 0 })
    expect(status.slots).toBe(8)
    await slots.flush()
    await slots.settled()
    expect(await slotNamespaces()).toBe(0)
  }, 120_000)

  it('never fills past the index range', async () => {
    await using slots = await open(6, { maxSlots: 4 })
    await until(() => slots.status().pool!.idle === 4 && slots.status().pool!.filling === 0, 'the pool to fill')
    expect(slots.status()).toMatchObject({ slots: 4, free: 0 })
    await expect(slots.add()).rejects.toMatchObject({ code: 'LAB_ERR_SLOTS_FULL' })
    const one = await slots.acquire()
    await slots.destroy(one.index)
    await until(() => slots.status().pool!.idle === 4, 'the freed index to be refilled')
    await slots.flush()
    await slots.settled()
  }, 60_000)

  it('release scrubs: conntrack entries of the slot gone, a TAP still held open re-created', async () => {
    // Two indexes only: the pool cannot refill behind the acquire, so the release finds room.
    await using slots = await open(2, { maxSlots: 2 })
    await until(() => slots.status().pool!.idle === 2, 'the pool to fill')
    const slot = await slots.acquire()
    const guest = await attachGuest(slot)
    const world = await listenTcp({ netns: internet.name, host: '192.0.2.2', port: 8080 }, endQuietly)
    const service = await listenTcp({ netns: guest.netns.name, host: slot.guestIP, port: 2222 }, endQuietly)
    try {
      expect(await connects(guest.netns.name, '192.0.2.2', 8080)).toBe(true)
      expect(await connects(host.name, slot.hostReachableIP, 2222)).toBe(true)
      expect(conntrack(slot.netns).length).toBeGreaterThan(0)
      expect(conntrack(host.name, ['-s', slot.peerAddress]).length).toBeGreaterThan(0)
      expect(conntrack(host.name, ['-d', slot.hostReachableIP]).length).toBeGreaterThan(0)
      const tapIndex = async () => {
        const inner = await Netlink.open({ netns: slot.netns })
        try {
          return (await inner.link.get(slot.tapName)).index
        } finally {
          await inner.close()
        }
      }
      const tapBefore = await tapIndex()
      // The guest's relay still holds the TAP open, as a VMM that has not exited would.
      await slots.release(slot)
      expect(conntrack(slot.netns)).toEqual([])
      expect(conntrack(host.name, ['-s', slot.peerAddress])).toEqual([])
      expect(conntrack(host.name, ['-d', slot.hostReachableIP])).toEqual([])
      expect(await tapIndex()).not.toBe(tapBefore)
      const inner = await Netlink.open({ netns: slot.netns })
      const tap = await inner.link.get(slot.tapName)
      expect(tap.up).toBe(true)
      expect((await inner.addr.list({ link: slot.tapName })).map((a) => a.cidr)).toEqual([`${slot.tapAddress}/${slot.tapPrefixLength}`])
      // A new link starts with the namespace's default (forwarding off): the new TAP forwards again.
      expect(await inner.sysctl.get(`net/ipv4/conf/${slot.tapName}/forwarding`)).toBe('1')
      await inner.close()
      expect(slots.status().idle).toContain(slot.index)
    } finally {
      world.close()
      service.close()
      guest.stop()
    }
    await slots.flush()
    await slots.settled()
  }, 60_000)

  it('a removed slot carries nothing once del() resolves; destroy-then-add of one index in a tight loop gives whole slots; fds stay flat', async () => {
    await using slots = await open(0)
    const slot = await slots.add()
    const guest = await attachGuest(slot)
    const world = await listenTcp({ netns: internet.name, host: '192.0.2.2', port: 8081 }, endQuietly)
    try {
      expect(await connects(guest.netns.name, '192.0.2.2', 8081)).toBe(true)
      await slots.del(slot.index)
      // The veth is still up here (its namespace dies in the background): the retired set stops it.
      expect(await connects(guest.netns.name, '192.0.2.2', 8081)).toBe(false)
    } finally {
      world.close()
      guest.stop()
    }
    const fds = () => readdirSync('/proc/self/fd').length
    await slots.settled()
    const before = fds()
    for (let i = 0; i < 30; i++) {
      const again = await slots.add()
      expect(again.index).toBe(slot.index)
      await slots.del(again.index)
    }
    const last = await slots.add()
    const inner = await Netlink.open({ netns: last.netns })
    expect((await inner.addr.list({ family: 4 })).map((a) => a.cidr).sort()).toEqual([`${last.peerAddress}/31`, '127.0.0.1/8', `${last.tapAddress}/${last.tapPrefixLength}`].sort())
    await inner.close()
    const hostLink = (await host.ip<Array<{ ifname: string; operstate: string }>>(['link', 'show', last.vethName]))[0]!
    expect(hostLink.operstate).toBe('UP')
    await slots.del(last.index)
    await slots.settled()
    expect(fds()).toBeLessThanOrEqual(before)
    expect(await slotNamespaces()).toBe(0)
    const leftovers = (await host.ip<Array<{ ifname: string }>>(['link', 'show'])).filter((l) => l.ifname.startsWith('pv') || l.ifname.startsWith('lsgone'))
    expect(leftovers).toEqual([])
  }, 90_000)

  it('release and del of a slot it does not have fail with ENOENT', async () => {
    await using slots = await open(0)
    const error = await slots.release(42).catch((e: unknown) => e)
    expect(isNotFound(error)).toBe(true)
  })

  it.skipIf(!existsSync(dist))('after kill -9 of the owner, a new open takes back the idle slots, keeps acquired ones, leaks none', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'slots-pool-'))
    deferCleanup('pool owner script', () => rmSync(dir, { recursive: true, force: true }))
    const script = join(dir, 'owner.mjs')
    writeFileSync(
      script,
      `import { Slots } from ${JSON.stringify(pathToFileURL(dist).href)}
import { Netlink } from ${JSON.stringify(pathToFileURL(fileURLToPath(new URL('../../netlink-native/dist/index.js', import.meta.url))).href)}
const slots = await Slots.open({ hostNetns: ${JSON.stringify(host.name)}, netnsPrefix: ${JSON.stringify(prefix)}, vethPrefix: 'pv', pool: { size: 6 } })
while (slots.status().pool.idle < 6) await new Promise((r) => setTimeout(r, 20))
const got = [await slots.acquire(), await slots.acquire()]
// The idle markers of acquired slots are cleared in the background: wait until the kernel has them.
const nl = await Netlink.open({ netns: ${JSON.stringify(host.name)} })
for (;;) {
  const links = await nl.link.list()
  if (got.every((s) => links.find((l) => l.name === s.vethName)?.alias === undefined)) break
  await new Promise((r) => setTimeout(r, 20))
}
console.log(JSON.stringify(got.map((s) => s.index)))
setInterval(() => {}, 1000)
`,
    )
    const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] })
    deferCleanup('pool owner', () => child.kill('SIGKILL'))
    const line = await new Promise<string>((resolve, reject) => {
      let out = ''
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString()
        if (out.includes('\n')) resolve(out.split('\n')[0]!)
      })
      child.on('exit', (code) => reject(new Error(`owner exited with ${code}`)))
    })
    const acquired = JSON.parse(line) as number[]
    child.kill('SIGKILL')
    await new Promise((r) => child.once('exit', r))
    expect(await slotNamespaces()).toBe(8)

    // A smaller pool: four idle slots come back into it, the other two are removed.
    await using slots = await open(4)
    expect(slots.status().pool).toMatchObject({ idle: 4 })
    expect(slots.list().map((s: Slot) => s.index).filter((i) => !slots.status().idle.includes(i))).toEqual(acquired.sort((a, b) => a - b))
    await slots.settled()
    expect(await slotNamespaces()).toBe(6)
    const links = await host.ip<Array<{ ifname: string; ifalias?: string }>>(['link', 'show'])
    expect(links.filter((l) => l.ifname.startsWith('pv')).length).toBe(6)
    // The acquired ones are in use: released, they go into the pool or away, never leak.
    for (const i of acquired) await slots.release(i)
    await slots.flush()
    await slots.settled()
    expect(await slotNamespaces()).toBe(0)
  }, 60_000)
})
