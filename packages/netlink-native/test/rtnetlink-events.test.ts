import { readdirSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TestNetns, cleanupAll, isRoot, run } from '@lab/testkit'
import { Netlink, Netns, type NetlinkEvent } from '../src/index.js'

async function take(events: AsyncIterator<NetlinkEvent>, match: (e: NetlinkEvent) => boolean, limit = 200): Promise<NetlinkEvent> {
  for (let i = 0; i < limit; i++) {
    const { value, done } = await events.next()
    if (done) throw new Error('event stream ended')
    if (match(value)) return value
  }
  throw new Error('no matching event')
}

describe.skipIf(!isRoot())('events, sysctl and namespaces (needs root)', () => {
  let ns: TestNetns
  let nl: Netlink

  beforeAll(async () => {
    ns = await TestNetns.create('ev')
    nl = await Netlink.open({ netns: ns.name })
  })
  afterAll(() => {
    nl?.close()
    cleanupAll()
  })

  it('delivers typed events for link up/down, address add/del and route changes', async () => {
    const controller = new AbortController()
    const events = nl.watch(['link', 'addr', 'route'], { signal: controller.signal })
    await nl.link.add({ name: 'w0', kind: 'veth', peer: { name: 'w1' } })
    const added = await take(events, (e) => e.kind === 'link' && e.action === 'new' && e.link.name === 'w0')
    expect(added.kind === 'link' && added.link.kind).toBe('veth')
    await nl.link.set('w0', { up: true })
    await take(events, (e) => e.kind === 'link' && e.link.name === 'w0' && e.link.up)
    await nl.addr.add('w0', '10.70.0.1/24')
    const addr = await take(events, (e) => e.kind === 'addr' && e.action === 'new' && e.addr.address === '10.70.0.1')
    expect(addr.kind === 'addr' && addr.addr.prefixLength).toBe(24)
    await nl.route.add({ dst: '10.71.0.0/16', gateway: '10.70.0.2' })
    await take(events, (e) => e.kind === 'route' && e.action === 'new' && e.route.dst === '10.71.0.0/16')
    await nl.route.del({ dst: '10.71.0.0/16' })
    await take(events, (e) => e.kind === 'route' && e.action === 'del' && e.route.dst === '10.71.0.0/16')
    await nl.addr.del('w0', '10.70.0.1/24')
    await take(events, (e) => e.kind === 'addr' && e.action === 'del' && e.addr.address === '10.70.0.1')
    await nl.link.set('w0', { up: false })
    await take(events, (e) => e.kind === 'link' && e.link.name === 'w0' && !e.link.up)
    await nl.link.del('w0')
    await take(events, (e) => e.kind === 'link' && e.action === 'del' && e.link.name === 'w0')
    controller.abort()
    expect((await events.next()).done).toBe(true)
  })

  it('reports an overrun when the kernel drops events, then resyncs the current state', async () => {
    const { watchEvents } = await import('../src/rtnetlink/watch.js')
    const snapshot = async () => (await nl.link.list()).map((link) => ({ kind: 'link' as const, action: 'new' as const, link, resync: true }))
    // A tiny receive buffer and a burst of changes while nobody reads force ENOBUFS.
    const events = watchEvents(ns.name, ['link'], undefined, snapshot, 4096)
    const first = events.next()
    await nl.batch((b) => {
      for (let i = 0; i < 60; i++) b.link.add({ name: `ov${i}`, kind: 'bridge' })
    })
    const seen: NetlinkEvent[] = [(await first).value]
    for (;;) {
      const { value } = await events.next()
      seen.push(value)
      if (value.kind === 'link' && value.resync && value.link.name === 'ov59') break
    }
    expect(seen.some((e) => e.kind === 'overrun')).toBe(true)
    await events.return?.()
    await nl.batch((b) => {
      for (let i = 0; i < 60; i++) b.link.del(`ov${i}`)
    })
  })

  it('sets a sysctl inside the namespace without changing the host', async () => {
    const host = (await run(['sysctl', '-n', 'net.ipv4.ip_forward'])).stdout.trim()
    const want = host === '1' ? '0' : '1'
    await nl.sysctl.set('net.ipv4.ip_forward', want)
    expect(await nl.sysctl.get('net.ipv4.ip_forward')).toBe(want)
    expect((await ns.exec(['sysctl', '-n', 'net.ipv4.ip_forward'])).stdout.trim()).toBe(want)
    expect((await run(['sysctl', '-n', 'net.ipv4.ip_forward'])).stdout.trim()).toBe(host)
    await expect(nl.sysctl.get('net.ipv4.no_such_thing')).rejects.toMatchObject({ code: 'ENOENT', op: 'sysctl get' })
    await expect(nl.sysctl.set('../../etc/passwd', 1)).rejects.toThrow(/invalid sysctl name/)
  })

  it('adds, lists and deletes named namespaces that ip netns sees; destroy tolerates a missing one', async () => {
    const name = `labt-${process.pid}-own-${Date.now() % 100000}`
    await Netns.add(name)
    try {
      expect(await Netns.list()).toContain(name)
      expect((await run(['ip', 'netns', 'list'])).stdout).toContain(name)
      await expect(Netns.add(name)).rejects.toMatchObject({ code: 'EEXIST', op: 'netns add' })
      const inner = await Netlink.open({ netns: name })
      expect((await inner.link.list()).map((l) => l.name)).toEqual(['lo'])
      inner.close()
    } finally {
      await Netns.del(name)
    }
    expect(await Netns.list()).not.toContain(name)
    await expect(Netns.del(name)).rejects.toMatchObject({ code: 'ENOENT', op: 'netns del' })
    await Netns.destroy(name)
    await Netns.add(name)
    await Netns.destroy(name)
    expect((await run(['ip', 'netns', 'list'])).stdout).not.toContain(name)
  })

  it('keeps fd count and memory flat across 2,000 open/close and create/delete cycles', async () => {
    const fds = () => readdirSync('/proc/self/fd').length
    // Link deletion waits for an RCU grace period in the kernel (~10 ms), so the cycle creates and
    // deletes an address instead: same request/ack path, no kernel-side sleep.
    const cycle = async () => {
      const h = await Netlink.open({ netns: ns.name })
      await h.addr.add('lo', '127.0.0.9/8')
      await h.addr.del('lo', '127.0.0.9/8')
      h.close()
    }
    for (let i = 0; i < 100; i++) await cycle()
    global.gc?.()
    const fdBefore = fds()
    const rssBefore = process.memoryUsage().rss
    for (let i = 0; i < 2000; i++) await cycle()
    global.gc?.()
    expect(fds()).toBe(fdBefore)
    // RSS is noisy; a leak of a socket or buffer per cycle would show as tens of MB.
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(32 << 20)
    for (let i = 0; i < 200; i++) {
      const name = `labt-${process.pid}-cyc`
      await Netns.add(name)
      await Netns.del(name)
    }
    expect(fds()).toBe(fdBefore)
  }, 90_000)
})
