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

  it('checks multicastGroups before opening anything', async () => {
    await expect(UdpSocket.open({ address: '0.0.0.0', port: 0, interface: 'lo', multicastGroups: ['ff02::1:2'] })).rejects.toThrow(ArgumentError)
    await expect(UdpSocket.open({ address: '::', port: 0, interface: 'lo', multicastGroups: ['fe80::1'] })).rejects.toThrow(/not an IPv6 multicast address/)
    await expect(UdpSocket.open({ address: '::', port: 0, multicastGroups: ['ff02::1:2'] })).rejects.toThrow(/needs an IPv6 address and an interface/)
  })
})
