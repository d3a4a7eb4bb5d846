import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TestNetns, cleanupAll, isRoot, vethPair } from '@lab/testkit'
import { ArgumentError, Netlink, UdpSocket, type Datagram } from '../src/index.js'

function nextDatagram(socket: UdpSocket, ms = 3000): Promise<Datagram | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), ms)
    socket.once('message', (d) => {
      clearTimeout(timer)
      resolve(d)
    })
  })
}

describe.skipIf(!isRoot())('UDP over IPv6 in namespaces (needs root)', () => {
  let server: TestNetns
  let client: TestNetns
  let s0: number
  beforeAll(async () => {
    server = await TestNetns.create('udp6-s')
    client = await TestNetns.create('udp6-c')
    // No duplicate address detection: link-local addresses are usable at once.
    for (const ns of [server, client]) await ns.exec(['sysctl', '-qw', 'net.ipv6.conf.default.accept_dad=0'])
    await vethPair({ netns: server, ifname: 's0' }, { netns: client, ifname: 'c0' })
    // The kernel adds the link-local address (and the multicast route) shortly after carrier comes up.
    for (const [ns, ifname] of [[server, 's0'], [client, 'c0']] as const) {
      for (let i = 0; i < 100; i++) {
        const out = await ns.exec(['ip', '-6', '-o', 'addr', 'show', 'dev', ifname, 'scope', 'link'])
        if (out.stdout.includes('fe80') && !out.stdout.includes('tentative')) break
        await new Promise((r) => setTimeout(r, 50))
      }
    }
    const nl = await Netlink.open({ netns: server.name })
    s0 = (await nl.link.get('s0')).index
    nl.close()
  })
  afterAll(() => cleanupAll())

  it('joins ff02::1:2 on its interface, receives a multicast from a link-local client and answers it there', async () => {
    const s = await UdpSocket.open({ netns: server.name, address: '::', port: 547, interface: 's0', multicastGroups: ['ff02::1:2'] })
    const c = await UdpSocket.open({ netns: client.name, address: '::', port: 546, interface: 'c0' })
    expect(s.family).toBe(6)
    const got = nextDatagram(s)
    await c.send({ data: Buffer.from('solicit'), address: 'ff02::1:2', port: 547 })
    const d = (await got)!
    expect(d.data.toString()).toBe('solicit')
    expect(d.from.address).toMatch(/^fe80::/)
    expect(d.from.port).toBe(546)
    expect(d.ifindex).toBe(s0)
    const back = nextDatagram(c)
    await s.send({ data: Buffer.from('advertise'), address: d.from.address, port: d.from.port })
    expect((await back)?.data.toString()).toBe('advertise')
    s.close()
    c.close()
  })

  it('does not receive the group without joining it', async () => {
    const s = await UdpSocket.open({ netns: server.name, address: '::', port: 5470, interface: 's0' })
    const c = await UdpSocket.open({ netns: client.name, address: '::', port: 0, interface: 'c0' })
    const got = nextDatagram(s, 500)
    await c.send({ data: Buffer.from('x'), address: 'ff02::1:2', port: 5470 })
    expect(await got).toBeUndefined()
    s.close()
    c.close()
  })

  it('sends batches to one address on several ports and reads each source right, as the sockaddr and source memos change', async () => {
    await client.exec(['ip', 'link', 'set', 'lo', 'up'])
    await client.exec(['ip', '-6', 'addr', 'add', 'fd00:77::1/128', 'dev', 'lo', 'nodad'])
    const a = await UdpSocket.open({ netns: client.name, address: '::1', port: 0 })
    const b = await UdpSocket.open({ netns: client.name, address: '::1', port: 0 })
    const from1 = await UdpSocket.open({ netns: client.name, address: '::1', port: 0 })
    const from2 = await UdpSocket.open({ netns: client.name, address: 'fd00:77::1', port: 0 })
    const got: Array<{ to: string; data: string; from: string; port: number }> = []
    a.on('message', (d) => got.push({ to: 'a', data: d.data.toString(), from: d.from.address, port: d.from.port }))
    b.on('message', (d) => got.push({ to: 'b', data: d.data.toString(), from: d.from.address, port: d.from.port }))
    const batch = (n: number) => Array.from({ length: n }, (_, i) => ({ data: Buffer.from(`m${i}`), address: '::1', port: i % 2 ? b.port : a.port }))
    await from1.sendBatch(batch(6))
    // A bad destination fails its batch with an ArgumentError; the socket goes on sending.
    await expect(from1.sendBatch([{ data: Buffer.from('x'), address: 'not-an-address', port: a.port }])).rejects.toThrow(ArgumentError)
    await from2.sendBatch(batch(2))
    await from1.send({ data: Buffer.from('last'), address: '::1', port: b.port })
    for (let i = 0; i < 100 && got.length < 9; i++) await new Promise((r) => setTimeout(r, 10))
    expect(got.filter((g) => g.to === 'a').map((g) => g.data)).toEqual(['m0', 'm2', 'm4', 'm0'])
    expect(got.filter((g) => g.to === 'b').map((g) => g.data)).toEqual(['m1', 'm3', 'm5', 'm1', 'last'])
    // Each datagram names its own sender: the batches from ::1, then two from fd00:77::1, then ::1 again.
    const fromOne = `::1 ${from1.port}`
    const fromTwo = `fd00:77::1 ${from2.port}`
    expect(got.filter((g) => g.to === 'a').map((g) => `${g.from} ${g.port}`)).toEqual([fromOne, fromOne, fromOne, fromTwo])
    expect(got.filter((g) => g.to === 'b').map((g) => `${g.from} ${g.port}`)).toEqual([fromOne, fromOne, fromOne, fromTwo, fromOne])
    expect(from1.counters().sent).toBe(7)
    for (const s of [a, b, from1, from2]) await s.close()
  })

  it('checks multicastGroups before opening anything', async () => {
    await expect(UdpSocket.open({ address: '0.0.0.0', port: 0, interface: 'lo', multicastGroups: ['ff02::1:2'] })).rejects.toThrow(ArgumentError)
    await expect(UdpSocket.open({ address: '::', port: 0, interface: 'lo', multicastGroups: ['fe80::1'] })).rejects.toThrow(/not an IPv6 multicast address/)
    await expect(UdpSocket.open({ address: '::', port: 0, multicastGroups: ['ff02::1:2'] })).rejects.toThrow(/needs an IPv6 address and an interface/)
  })
})
