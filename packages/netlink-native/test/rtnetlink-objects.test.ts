import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TestNetns, cleanupAll, isRoot } from '@lab/testkit'
import { BatchError, Netlink, NetlinkError } from '../src/index.js'

type IpAddr = { ifname: string; addr_info: Array<{ family: string; local: string; prefixlen: number; scope: string; broadcast?: string }> }
type IpRoute = { dst: string; gateway?: string; dev?: string; protocol?: string; scope?: string; metric?: number; table?: string; nexthops?: Array<{ gateway: string; dev: string; weight: number }> }
type IpRule = { priority: number; src?: string; srclen?: number; dst?: string; table: string; fwmark?: string }
type IpNeigh = { dst: string; dev: string; lladdr: string; state: string[] }

describe.skipIf(!isRoot())('addresses, routes, neighbours, rules (needs root)', () => {
  let ns: TestNetns
  let nl: Netlink

  beforeAll(async () => {
    ns = await TestNetns.create('obj')
    nl = await Netlink.open({ netns: ns.name })
    await nl.link.add({ name: 'e0', kind: 'veth', peer: { name: 'e1' }, up: true })
    await nl.link.set('e1', { up: true })
  })
  afterAll(() => {
    nl?.close()
    cleanupAll()
  })

  it('adds, replaces, lists and deletes IPv4 and IPv6 addresses, as ip sees them', async () => {
    await nl.addr.add('e0', '10.0.0.1/24')
    await nl.addr.add('e0', '10.0.1.1/24', { broadcast: '10.0.1.255', label: 'e0:x' })
    await nl.addr.add('e0', 'fd00::1/64', { nodad: true })
    await expect(nl.addr.add('e0', '10.0.0.1/24')).rejects.toMatchObject({ code: 'EEXIST', op: 'addr add' })
    await nl.addr.replace('e0', '10.0.0.1/24')
    const ours = await nl.addr.list({ link: 'e0' })
    const [ip] = await ns.ip<IpAddr[]>(['addr', 'show', 'dev', 'e0'])
    const ipSet = ip!.addr_info.filter((a) => a.scope === 'global').map((a) => `${a.local}/${a.prefixlen}`).sort()
    expect(ours.filter((a) => a.scope === 0).map((a) => a.cidr).sort()).toEqual(ipSet)
    const second = ours.find((a) => a.address === '10.0.1.1')!
    expect(second.broadcast).toBe('10.0.1.255')
    expect(second.label).toBe('e0:x')
    expect(second.permanent).toBe(true)
    expect(ours.find((a) => a.address === 'fd00::1')?.family).toBe(6)
    await nl.addr.del('e0', '10.0.1.1/24')
    expect((await nl.addr.list({ link: 'e0', family: 4 })).map((a) => a.cidr)).toEqual(['10.0.0.1/24'])
    await expect(nl.addr.add('nonexistent', '10.0.0.9/24')).rejects.toMatchObject({ code: 'ENODEV', op: 'addr add' })
  })

  it('adds routes with gateway, table, metric, src and multipath, and ip -j route agrees', async () => {
    await nl.addr.add('e1', '10.0.2.1/24')
    await nl.route.add({ dst: 'default', gateway: '10.0.0.254' })
    await nl.route.add({ dst: '192.168.50.0/24', interface: 'e0', metric: 50, src: '10.0.0.1' })
    await nl.route.add({ dst: '172.16.0.0/16', multipath: [{ gateway: '10.0.0.2', interface: 'e0', weight: 1 }, { gateway: '10.0.2.2', interface: 'e1', weight: 3 }] })
    await nl.route.add({ dst: '198.51.100.0/24', gateway: '10.0.0.3', table: 100 })
    await nl.route.add({ dst: 'fd01::/64', gateway: 'fd00::2' })
    const ip = await ns.ip<IpRoute[]>(['route', 'show'])
    const def = ip.find((r) => r.dst === 'default')!
    expect(def).toMatchObject({ gateway: '10.0.0.254', dev: 'e0' })
    expect(def.protocol).toBeUndefined() // ip omits the default protocol, boot
    expect(ip.find((r) => r.dst === '192.168.50.0/24')).toMatchObject({ dev: 'e0', metric: 50, scope: 'link' })
    const mp = ip.find((r) => r.dst === '172.16.0.0/16')!
    expect(mp.nexthops?.map((h) => [h.gateway, h.dev, h.weight])).toEqual([['10.0.0.2', 'e0', 1], ['10.0.2.2', 'e1', 3]])
    const ours = await nl.route.list()
    const e0 = (await nl.link.get('e0')).index
    expect(ours.find((r) => r.dst === 'default')).toMatchObject({ gateway: '10.0.0.254', index: e0, table: 254, type: 'unicast', protocol: 3 })
    expect(ours.find((r) => r.dst === '192.168.50.0/24')).toMatchObject({ metric: 50, prefsrc: '10.0.0.1' })
    expect(ours.find((r) => r.dst === '172.16.0.0/16')?.multipath?.map((h) => h.weight)).toEqual([1, 3])
    expect((await nl.route.list({ table: 100 })).map((r) => r.dst)).toEqual(['198.51.100.0/24'])
    // A link filter keeps routes out of that link, directly or through one of their next hops.
    expect((await nl.route.list({ link: 'e1', family: 4 })).map((r) => r.dst).sort()).toEqual(['10.0.2.0/24', '172.16.0.0/16'])
    expect((await nl.route.list({ family: 6 })).some((r) => r.dst === 'fd01::/64' && r.gateway === 'fd00::2')).toBe(true)
    await nl.route.replace({ dst: 'default', gateway: '10.0.2.254' })
    expect((await ns.ip<IpRoute[]>(['route', 'show', 'default']))[0]).toMatchObject({ gateway: '10.0.2.254', dev: 'e1' })
    await nl.route.del({ dst: 'default' })
    await nl.route.del({ dst: '198.51.100.0/24', table: 100 })
    expect((await nl.route.list()).some((r) => r.dst === 'default')).toBe(false)
    await expect(nl.route.del({ dst: '203.0.113.0/24' })).rejects.toMatchObject({ code: 'ESRCH', op: 'route del' })
  })

  it('adds, lists and deletes neighbours', async () => {
    await nl.neigh.add({ interface: 'e0', address: '10.0.0.77', lladdr: '02:aa:bb:cc:dd:ee' })
    const ip = await ns.ip<IpNeigh[]>(['neigh', 'show', 'dev', 'e0'])
    expect(ip.find((n) => n.dst === '10.0.0.77')).toMatchObject({ lladdr: '02:aa:bb:cc:dd:ee', state: ['PERMANENT'] })
    const ours = await nl.neigh.list({ link: 'e0', family: 4 })
    expect(ours.find((n) => n.address === '10.0.0.77')).toMatchObject({ lladdr: '02:aa:bb:cc:dd:ee', state: ['permanent'] })
    await nl.neigh.del({ interface: 'e0', address: '10.0.0.77' })
    expect((await nl.neigh.list({ link: 'e0', family: 4 })).some((n) => n.address === '10.0.0.77')).toBe(false)
  })

  it('adds, lists and deletes policy rules', async () => {
    await nl.rule.add({ priority: 1000, src: '10.0.0.0/24', table: 100 })
    await nl.rule.add({ priority: 1001, fwmark: 7, table: 101 })
    const ip = await ns.ip<IpRule[]>(['rule', 'show'])
    expect(ip.find((r) => r.priority === 1000)).toMatchObject({ src: '10.0.0.0', srclen: 24, table: '100' })
    expect(ip.find((r) => r.priority === 1001)).toMatchObject({ fwmark: '0x7', table: '101' })
    const ours = await nl.rule.list({ family: 4 })
    expect(ours.find((r) => r.priority === 1000)).toMatchObject({ src: '10.0.0.0/24', table: 100, action: 'table' })
    expect(ours.find((r) => r.priority === 1001)).toMatchObject({ fwmark: 7, table: 101 })
    await nl.rule.del({ priority: 1000 })
    await nl.rule.del({ priority: 1001 })
    expect((await nl.rule.list({ family: 4 })).some((r) => r.priority === 1000 || r.priority === 1001)).toBe(false)
  })

  it('runs a batch pipelined, resolving links created in the same batch, with per-op results', async () => {
    const results = await nl.batch((b) => {
      for (let i = 0; i < 5; i++) b.link.add({ name: `bt${i}`, kind: 'veth', peer: { name: `bp${i}` } })
      for (let i = 0; i < 5; i++) b.addr.add(`bt${i}`, `10.50.${i}.1/24`)
      for (let i = 0; i < 5; i++) b.link.set(`bt${i}`, { up: true })
    })
    expect(results).toHaveLength(15)
    expect(results.every((r) => r.ok)).toBe(true)
    const ip = await ns.ip<IpAddr[]>(['addr', 'show', 'dev', 'bt3'])
    expect(ip[0]!.addr_info.some((a) => a.local === '10.50.3.1')).toBe(true)
  })

  it('streams a batch whose links are created with given indexes: operations naming them use those indexes', async () => {
    const results = await nl.batch((b) => {
      for (let i = 0; i < 4; i++) {
        b.link.add({ name: `sx${i}`, kind: 'veth', index: 3000 + 2 * i, up: true, peer: { name: `sy${i}`, index: 3001 + 2 * i } })
        b.addr.add(`sx${i}`, `10.51.${i}.1/32`)
        b.addr.add(`sy${i}`, `10.51.${i}.2/32`)
        b.link.set(`sy${i}`, { up: true })
      }
    })
    expect(results.every((r) => r.ok)).toBe(true)
    type IpLinkAddr = IpAddr & { ifindex: number; flags: string[] }
    const ip = (await ns.ip<IpLinkAddr[]>(['addr', 'show'])).filter((l) => /^s[xy]\d$/.test(l.ifname))
    expect(ip.map((l) => [l.ifname, l.ifindex, l.flags.includes('UP'), l.addr_info.filter((a) => a.family === 'inet').map((a) => a.local)]).sort()).toEqual(
      [0, 1, 2, 3].flatMap((i) => [
        [`sx${i}`, 3000 + 2 * i, true, [`10.51.${i}.1`]],
        [`sy${i}`, 3001 + 2 * i, true, [`10.51.${i}.2`]],
      ]).sort(),
    )
    // The name exists already (index 3000): the creation fails, and the address meant for the new
    // link goes to index 3100, which does not exist, instead of onto the old sx0.
    const failed = await nl.batch((b) => {
      b.link.add({ name: 'sx0', kind: 'bridge', index: 3100 })
      b.addr.add('sx0', '10.52.0.1/32')
    }, { throwOnError: false })
    expect(failed.map((r) => (r.ok ? 'ok' : r.error.code))).toEqual(['EEXIST', 'ENODEV'])
    // The index is taken (by sx0): the creation fails, the address waits for it, finds no sz0,
    // and sx0 does not get it either.
    const taken = await nl.batch((b) => {
      b.link.add({ name: 'sz0', kind: 'bridge', index: 3000 })
      b.addr.add('sz0', '10.52.0.2/32')
    }, { throwOnError: false })
    expect(taken.map((r) => (r.ok ? 'ok' : r.error.code))).toEqual(['EEXIST', 'ENODEV'])
    expect((await nl.addr.list({ link: 'sx0' })).map((a) => a.address).filter((a) => a.startsWith('10.'))).toEqual(['10.51.0.1'])
    await nl.batch((b) => [0, 1, 2, 3].forEach((i) => b.link.del(`sx${i}`)))
  })

  it('resolves links created in the same batch pair by pair, the veth peer too', async () => {
    await nl.batch((b) => {
      for (let i = 0; i < 3; i++) {
        b.link.add({ name: `pa${i}`, kind: 'veth', peer: { name: `pb${i}` } })
        b.addr.add(`pa${i}`, `10.53.${i}.1/32`)
        b.addr.add(`pb${i}`, `10.53.${i}.2/32`)
      }
    })
    for (let i = 0; i < 3; i++) {
      expect((await nl.addr.list({ link: `pa${i}` })).map((a) => a.address)).toEqual([`10.53.${i}.1`])
      expect((await nl.addr.list({ link: `pb${i}` })).map((a) => a.address)).toEqual([`10.53.${i}.2`])
    }
    await nl.batch((b) => [0, 1, 2].forEach((i) => b.link.del(`pa${i}`)))
  })

  it('reports which batch operation failed and still applies the others', async () => {
    const err = (await nl
      .batch((b) => {
        b.link.add({ name: 'ok0', kind: 'bridge' })
        b.link.add({ name: 'bt0', kind: 'bridge' })
        b.addr.add('missing0', '10.60.0.1/24')
        b.link.add({ name: 'ok1', kind: 'bridge' })
      })
      .catch((e) => e)) as BatchError
    expect(err).toBeInstanceOf(BatchError)
    expect(err.failed.map((f) => [f.index, f.error.code])).toEqual([[1, 'EEXIST'], [2, 'ENODEV']])
    expect(err.failed[0]!.error).toBeInstanceOf(NetlinkError)
    expect(err.failed[0]!.error.message).toMatch(/^EEXIST: link add bt0/)
    expect(err.results.map((r) => r.ok)).toEqual([true, false, false, true])
    const results = await nl.batch((b) => b.link.del('ok0'), { throwOnError: false })
    expect(results).toEqual([{ ok: true }])
  })
})
