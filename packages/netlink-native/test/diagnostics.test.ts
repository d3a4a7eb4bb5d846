import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TestNetns, cleanupAll, isRoot } from '@lab/testkit'
import { CHANNELS, Netlink, type NetlinkChange } from '../src/index.js'

describe.skipIf(!isRoot())('lab:netlink:* channels (needs root)', () => {
  let ns: TestNetns
  let nl: Netlink
  const seen: NetlinkChange[] = []
  const record = (message: unknown) => seen.push(message as NetlinkChange)
  beforeAll(async () => {
    ns = await TestNetns.create('diag')
    nl = await Netlink.open({ netns: ns.name })
  })
  afterAll(async () => {
    await nl?.close()
    cleanupAll()
  })

  it('publishes link, addr and route changes the kernel acknowledged, from single calls and batches', async () => {
    for (const name of ['lab:netlink:link', 'lab:netlink:addr', 'lab:netlink:route']) subscribe(name, record)
    try {
      await nl.link.add({ name: 'g0', kind: 'veth', peer: { name: 'g1' } })
      await nl.link.set('g0', { up: true, mtu: 1400 })
      await nl.addr.add('g0', '10.60.0.1/24')
      await nl.route.add({ dst: '10.61.0.0/16', gateway: '10.60.0.2' })
      // A refused change is not published.
      await expect(nl.link.add({ name: 'g0', kind: 'veth', peer: { name: 'g9' } })).rejects.toMatchObject({ code: 'EEXIST' })
      const results = await nl.batch((b) => {
        b.route.del({ dst: '10.61.0.0/16' })
        b.addr.del('g0', '10.99.0.1/24')
        b.addr.del('g0', '10.60.0.1/24')
      }, { throwOnError: false })
      expect(results.map((r) => r.ok)).toEqual([true, false, true])
      await nl.link.del('g0')
    } finally {
      for (const name of ['lab:netlink:link', 'lab:netlink:addr', 'lab:netlink:route']) unsubscribe(name, record)
    }
    expect(seen.map((c) => [c.kind, c.action, c.netns])).toEqual([
      ['link', 'add', ns.name],
      ['link', 'set', ns.name],
      ['addr', 'add', ns.name],
      ['route', 'add', ns.name],
      ['route', 'del', ns.name],
      ['addr', 'del', ns.name],
      ['link', 'del', ns.name],
    ])
    expect(seen[1]).toMatchObject({ link: 'g0', options: { up: true, mtu: 1400 } })
    expect(seen[2]).toMatchObject({ link: 'g0', address: '10.60.0.1/24' })
    expect(seen[3]).toMatchObject({ route: { dst: '10.61.0.0/16', gateway: '10.60.0.2' } })
    // What the channel said happened did happen: ip agrees.
    expect(await ns.ip<unknown[]>(['link', 'show'])).toHaveLength(1)
  })

  it('costs nothing without subscribers: no channel has any after unsubscribing', async () => {
    expect(Object.values(CHANNELS).map((c) => c.hasSubscribers)).toEqual([false, false, false])
    await nl.addr.add('lo', '127.0.0.7/8')
    await nl.addr.del('lo', '127.0.0.7/8')
    expect(seen).toHaveLength(7)
  })
})
