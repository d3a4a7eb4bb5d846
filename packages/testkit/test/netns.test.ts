import { existsSync, readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { cleanupAll, deferCleanup } from '../src/cleanup.js'
import { Daemon } from '../src/daemon.js'
import { NETNS_PREFIX, TestNetns, netnsEtc, staleNetns, uniqueIfname, uniqueName, vethPair } from '../src/netns.js'
import { isRoot, run } from '../src/run.js'

describe('names', () => {
  it('are unique and carry the prefix and pid', () => {
    const a = uniqueName('x')
    const b = uniqueName('x')
    expect(a).not.toBe(b)
    expect(a.startsWith(`${NETNS_PREFIX}-${process.pid}-`)).toBe(true)
    expect(uniqueIfname('veth').length).toBeLessThanOrEqual(15)
  })
})

describe('cleanup', () => {
  it('runs undo steps newest first, once', () => {
    const order: string[] = []
    deferCleanup('a', () => order.push('a'))
    const runB = deferCleanup('b', () => order.push('b'))
    runB()
    deferCleanup('c', () => order.push('c'))
    cleanupAll()
    expect(order).toEqual(['b', 'c', 'a'])
  })

  it('reports the steps that failed and still runs the rest', () => {
    const order: string[] = []
    deferCleanup('ok', () => order.push('ok'))
    deferCleanup('broken', () => {
      throw new Error('boom')
    })
    expect(() => cleanupAll()).toThrow(/broken: boom/)
    expect(order).toEqual(['ok'])
  })
})

describe.skipIf(!isRoot())('namespaces (needs root)', () => {
  it('creates two namespaces joined by a veth pair that ping each other, and removes them', async () => {
    const a = await TestNetns.create('a')
    const b = await TestNetns.create('b')
    await vethPair({ netns: a, ifname: 'va', address: '10.200.0.1/24' }, { netns: b, ifname: 'vb', address: '10.200.0.2/24' })
    const ping = await a.exec(['ping', '-c', '1', '-W', '2', '10.200.0.2'], { allowFailure: true })
    expect(ping.code, ping.stdout + ping.stderr).toBe(0)
    const links = await b.ip<Array<{ ifname: string }>>(['link', 'show'])
    expect(links.map((l) => l.ifname)).toContain('vb')
    await a.delete()
    await b.delete()
    expect(existsSync(a.path)).toBe(false)
    expect(existsSync(b.path)).toBe(false)
  })

  it('sweeps namespaces whose owner is gone, and only those', async () => {
    const mine = await TestNetns.create('live')
    const orphan = `${NETNS_PREFIX}-999999999-1-orphan`
    await run(['ip', 'netns', 'add', orphan])
    try {
      expect(staleNetns()).toContain(orphan)
      expect(staleNetns()).not.toContain(mine.name)
    } finally {
      await run(['ip', 'netns', 'del', orphan])
      await mine.delete()
    }
  })

  it('gives each namespace its own resolv.conf, so that what a DHCP client script writes stays out of the host’s', async () => {
    const host = readFileSync('/etc/resolv.conf', 'utf8')
    const ns = await TestNetns.create('r')
    // What udhcpc's default script does with a lease that names no DNS server.
    await ns.exec(['sh', '-c', 'echo "nameserver 10.9.9.9" > /etc/resolv.conf'])
    expect(readFileSync(`${netnsEtc(ns.name)}/resolv.conf`, 'utf8')).toBe('nameserver 10.9.9.9\n')
    expect(readFileSync('/etc/resolv.conf', 'utf8')).toBe(host)
    await ns.delete()
    expect(existsSync(netnsEtc(ns.name))).toBe(false)
  })

  it('captures a daemon’s output and kills it at stop', async () => {
    const ns = await TestNetns.create('d')
    const d = await Daemon.start({ name: 'echo', netns: ns.name, argv: ['sh', '-c', 'echo ready; exec sleep 30'], ready: /ready/ })
    expect(d.running).toBe(true)
    await d.stop()
    expect(d.running).toBe(false)
    expect(d.log).toContain('ready')
    await ns.delete()
  })
})
