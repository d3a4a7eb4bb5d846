import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TestNetns, cleanupAll, isRoot } from '@lab/testkit'
import { ArgumentError, Netlink, NetlinkError } from '../src/index.js'

type IpLink = { ifindex: number; ifname: string; mtu: number; address: string; flags: string[]; master?: string; operstate: string; linkinfo?: { info_kind?: string; info_data?: Record<string, unknown> } }

describe.skipIf(!isRoot())('links (needs root)', () => {
  let a: TestNetns
  let b: TestNetns
  let nl: Netlink

  beforeAll(async () => {
    a = await TestNetns.create('link-a')
    b = await TestNetns.create('link-b')
    nl = await Netlink.open({ netns: a.name })
  })
  afterAll(() => {
    nl?.close()
    cleanupAll()
  })

  it('adds a veth pair with the peer in another namespace and reads it back like ip does', async () => {
    await nl.link.add({ name: 'v0', kind: 'veth', peer: { name: 'v1', netns: b.name } })
    const ours = await nl.link.get('v0')
    const [ip] = await a.ip<IpLink[]>(['-d', 'link', 'show', 'v0'])
    expect(ours.index).toBe(ip!.ifindex)
    expect(ours.name).toBe('v0')
    expect(ours.kind).toBe('veth')
    expect(ours.address).toBe(ip!.address)
    expect(ours.mtu).toBe(ip!.mtu)
    expect(ours.up).toBe(false)
    const peer = await b.ip<IpLink[]>(['link', 'show', 'v1'])
    expect(peer[0]!.ifname).toBe('v1')
  })

  it('makes a veth with the queues asked for, on both ends unless the peer says otherwise; ip -d agrees', async () => {
    await nl.link.add({ name: 'vq0', kind: 'veth', txQueues: 1, rxQueues: 1, peer: { name: 'vq1', netns: b.name } })
    await nl.link.add({ name: 'vq2', kind: 'veth', txQueues: 3, rxQueues: 2, peer: { name: 'vq3', txQueues: 1 } })
    type IpQueues = { num_tx_queues: number; num_rx_queues: number }
    const queues = async (ns: TestNetns, name: string) => (await ns.ip<IpQueues[]>(['-d', 'link', 'show', name])).map((l) => [l.num_tx_queues, l.num_rx_queues])[0]
    expect(await queues(a, 'vq0')).toEqual([1, 1])
    expect(await queues(b, 'vq1')).toEqual([1, 1])
    expect(await queues(a, 'vq2')).toEqual([3, 2])
    expect(await queues(a, 'vq3')).toEqual([1, 2])
    const ours = await nl.link.get('vq2')
    expect([ours.txQueues, ours.rxQueues]).toEqual([3, 2])
    // Unasked, a veth gets one queue each way (read back as such); 'kernel' gets what ip gets.
    await nl.link.add({ name: 'vq6', kind: 'veth', peer: { name: 'vq7' } })
    expect(await queues(a, 'vq6')).toEqual([1, 1])
    expect(await queues(a, 'vq7')).toEqual([1, 1])
    expect(await nl.link.get('vq7')).toMatchObject({ txQueues: 1, rxQueues: 1 })
    await nl.link.add({ name: 'vq8', kind: 'veth', txQueues: 'kernel', rxQueues: 'kernel', peer: { name: 'vq9' } })
    await a.ip(['link', 'add', 'vqa', 'type', 'veth', 'peer', 'name', 'vqb'])
    expect(await queues(a, 'vq8')).toEqual(await queues(a, 'vqa'))
    expect(await queues(a, 'vq9')).toEqual(await queues(a, 'vqb'))
    await expect(nl.link.add({ name: 'vq4', kind: 'veth', txQueues: 0, peer: { name: 'vq5' } })).rejects.toThrow(/txQueues: an integer in 1..4096/)
    await expect(nl.link.add({ name: 'vq4', kind: 'veth', peer: { name: 'vq5', rxQueues: 1.5 } })).rejects.toThrow(/peer.rxQueues/)
    for (const l of ['vq0', 'vq2', 'vq6', 'vq8', 'vqa']) await nl.link.del(l)
  })

  it('creates a veth with the interface indexes asked for, on both ends; a taken one is EEXIST', async () => {
    await nl.link.add({ name: 'vi0', kind: 'veth', index: 4000, peer: { name: 'vi1', index: 4001 } })
    const ip = await a.ip<IpLink[]>(['link', 'show'])
    expect(ip.filter((l) => l.ifname.startsWith('vi')).map((l) => [l.ifname, l.ifindex]).sort()).toEqual([['vi0', 4000], ['vi1', 4001]])
    expect((await nl.link.get('vi1')).index).toBe(4001)
    const taken = (await nl.link.add({ name: 'vi2', kind: 'bridge', index: 4001 }).catch((e) => e)) as NetlinkError
    expect(taken).toBeInstanceOf(NetlinkError)
    expect(taken.code).toBe('EEXIST')
    await expect(nl.link.add({ name: 'vi2', kind: 'bridge', index: 0 })).rejects.toThrow(/index: invalid interface index 0/)
    await expect(nl.link.add({ name: 'vi2', kind: 'veth', index: 4002, peer: { name: 'vi3', index: 4002 } })).rejects.toThrow(/peer.index: both ends/)
    await nl.link.del('vi0')
  })

  it('creates a bridge, enslaves, sets up, mtu and address, and ip agrees', async () => {
    await nl.link.add({ name: 'br0', kind: 'bridge', bridge: { stp: false, forwardDelay: 0 } })
    await nl.link.set('v0', { up: true, master: 'br0', mtu: 1400, address: '02:00:00:00:00:01' })
    await nl.link.set('br0', { up: true })
    const [ip] = await a.ip<IpLink[]>(['link', 'show', 'v0'])
    expect(ip!.master).toBe('br0')
    expect(ip!.mtu).toBe(1400)
    expect(ip!.address).toBe('02:00:00:00:00:01')
    expect(ip!.flags).toContain('UP')
    const v0 = await nl.link.get('v0')
    const br = await nl.link.get('br0')
    expect(v0.master).toBe(br.index)
    expect(v0.slaveKind).toBe('bridge')
    expect(br.info).toMatchObject({ stp: false })
    const ports = await nl.link.list({ master: 'br0' })
    expect(ports.map((l) => l.name)).toEqual(['v0'])
    await nl.link.set('v0', { master: null })
    expect((await nl.link.get('v0')).master).toBeUndefined()
  })

  it('lists every link with the same indexes and names as ip -j link', async () => {
    const ours = await nl.link.list()
    const ip = await a.ip<IpLink[]>(['link', 'show'])
    expect(ours.map((l) => [l.index, l.name]).sort()).toEqual(ip.map((l) => [l.ifindex, l.ifname]).sort())
  })

  it('renames, moves a link to another namespace, and deletes', async () => {
    await nl.link.add({ name: 'v2', kind: 'veth', peer: { name: 'v3' } })
    await nl.link.set('v2', { name: 'v2renamed' })
    expect((await nl.link.get('v2renamed')).kind).toBe('veth')
    await nl.link.set('v3', { netns: b.name })
    const names = (await b.ip<IpLink[]>(['link', 'show'])).map((l) => l.ifname)
    expect(names).toContain('v3')
    await nl.link.del('v2renamed')
    await expect(nl.link.get('v2renamed')).rejects.toMatchObject({ code: 'ENODEV', op: 'link get' })
  })

  it('creates macvlan and vxlan links with their options', async () => {
    await nl.link.add({ name: 'mv0', kind: 'macvlan', parent: 'v0', macvlan: { mode: 'bridge' } })
    const mv = await nl.link.get('mv0')
    expect(mv.kind).toBe('macvlan')
    expect(mv.info).toMatchObject({ mode: 'bridge' })
    expect(mv.parent).toBe((await nl.link.get('v0')).index)
    await nl.link.add({ name: 'vx0', kind: 'vxlan', vxlan: { id: 42, local: '10.9.0.1', remote: '10.9.0.2', port: 4789, learning: false, interface: 'v0' } })
    const vx = await nl.link.get('vx0')
    expect(vx.info).toMatchObject({ id: 42, local: '10.9.0.1', group: '10.9.0.2', port: 4789, learning: false })
    const [ip] = await a.ip<IpLink[]>(['-d', 'link', 'show', 'vx0'])
    expect(ip!.linkinfo?.info_data).toMatchObject({ id: 42, local: '10.9.0.1', remote: '10.9.0.2', port: 4789 })
    await nl.link.del('vx0')
    await nl.link.del('mv0')
  })

  it('sets a VXLAN bridge port to learning off and neigh_suppress on, and bridge agrees', async () => {
    await nl.link.add({ name: 'brx', kind: 'bridge', bridge: { stp: false, forwardDelay: 0 } })
    await nl.link.add({ name: 'vx1', kind: 'vxlan', vxlan: { id: 43, local: '10.9.0.1', port: 4789, learning: false }, master: 'brx' })
    type BridgeLink = { ifname: string; learning?: boolean; neigh_suppress?: boolean }
    const show = async () => JSON.parse((await a.exec(['bridge', '-j', '-d', 'link', 'show', 'dev', 'vx1'])).stdout) as BridgeLink[]
    expect((await show())[0]).toMatchObject({ learning: true, neigh_suppress: false })
    await nl.link.setBridgePort('vx1', { learning: false, neighSuppress: true })
    expect((await show())[0]).toMatchObject({ learning: false, neigh_suppress: true })
    await nl.link.setBridgePort((await nl.link.get('vx1')).index, { learning: true })
    expect((await show())[0]).toMatchObject({ learning: true, neigh_suppress: true })
    await expect(nl.link.setBridgePort('vx1', { learning: 'no' as unknown as boolean })).rejects.toBeInstanceOf(ArgumentError)
    await nl.link.del('vx1')
    await nl.link.del('brx')
  })

  it('creates a persistent tap through the tun ioctls', async () => {
    await nl.link.add({ name: 'tap0', kind: 'tap', up: true })
    const tap = await nl.link.get('tap0')
    expect(tap.kind).toBe('tun')
    expect(tap.up).toBe(true)
    await expect(nl.link.add({ name: 'tap0', kind: 'tap' })).rejects.toMatchObject({ code: 'EEXIST' })
    await nl.link.del('tap0')
  })

  it('reports kernel errors with errno, operation and object', async () => {
    const err = await nl.link.add({ name: 'v0', kind: 'veth', peer: { name: 'vdup' } }).catch((e) => e)
    expect(err).toBeInstanceOf(NetlinkError)
    expect(err.message).toMatch(/^EEXIST: link add v0/)
    expect(err.errno).toBe(17)
  })

  it('carries the kernel extended-ack text', async () => {
    const err = await nl.link.add({ name: 'bad0', kind: 'no-such-kind' }).catch((e) => e)
    expect(err).toBeInstanceOf(NetlinkError)
    expect(err.code).toBe('EOPNOTSUPP')
    expect(err.extack.message).toMatch(/unknown device type/i)
    expect(err.message).toContain(err.extack.message)
  })

  it('rejects invalid arguments before sending, naming the field', async () => {
    await expect(nl.link.set('v0', { address: '02:00:00:00:00' })).rejects.toThrow(ArgumentError)
    await expect(nl.link.set('v0', { address: 'zz' })).rejects.toThrow(/address: invalid MAC/)
    await expect(nl.link.add({ name: 'x'.repeat(16), kind: 'bridge' })).rejects.toThrow(/name: invalid interface name/)
    await expect(nl.link.set('v0', { mtu: 10 })).rejects.toThrow(/mtu: invalid MTU/)
    await expect(nl.link.add({ name: 'vv', kind: 'veth' })).rejects.toThrow(/peer/)
  })
})
