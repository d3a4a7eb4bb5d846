import { spawn } from 'node:child_process'
import { closeSync } from 'node:fs'
import { readdirSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TestNetns, cleanupAll, isRoot, until, vethPair } from '@lab/testkit'
import { Netlink, UdpSocket, cable, type Datagram } from '../src/index.js'

function nextDatagram(socket: UdpSocket, ms = 3000): Promise<Datagram | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), ms)
    socket.once('message', (d) => {
      clearTimeout(timer)
      resolve(d)
    })
  })
}

describe.skipIf(!isRoot())('UDP in namespaces (needs root)', () => {
  let server: TestNetns
  let c1: TestNetns
  let c2: TestNetns
  let d1: number
  beforeAll(async () => {
    server = await TestNetns.create('udp-s')
    c1 = await TestNetns.create('udp-c1')
    c2 = await TestNetns.create('udp-c2')
    await vethPair({ netns: server, ifname: 'd1', address: '10.91.1.1/24' }, { netns: c1, ifname: 'e1', address: '10.91.1.2/24' })
    await vethPair({ netns: server, ifname: 'd2', address: '10.91.2.1/24' }, { netns: c2, ifname: 'e2', address: '10.91.2.2/24' })
    const nl = await Netlink.open({ netns: server.name })
    d1 = (await nl.link.get('d1')).index
    nl.close()
  })
  afterAll(() => cleanupAll())

  it('reports the arrival interface and destination (IP_PKTINFO), and answers from there', async () => {
    const s = await UdpSocket.open({ netns: server.name, port: 6700 })
    const c = await UdpSocket.open({ netns: c1.name, port: 0 })
    const got = nextDatagram(s)
    await c.send({ data: Buffer.from('ping'), address: '10.91.1.1', port: 6700 })
    const d = (await got)!
    expect(d).toMatchObject({ ifindex: d1, to: '10.91.1.1', from: { address: '10.91.1.2', port: c.port } })
    const back = nextDatagram(c)
    await s.send({ data: Buffer.from('pong'), address: d.from.address, port: d.from.port, ifindex: d.ifindex })
    expect((await back)?.data.toString()).toBe('pong')
    s.close()
    c.close()
  })

  it('does not see broadcasts on another device when bound to one', async () => {
    const bound = await UdpSocket.open({ netns: server.name, port: 6767, interface: 'd1', reuseAddress: true })
    const onD2 = await UdpSocket.open({ netns: c2.name, port: 0, broadcast: true })
    const onD1 = await UdpSocket.open({ netns: c1.name, port: 0, broadcast: true })
    const seen: string[] = []
    bound.on('message', (d) => seen.push(d.data.toString()))
    const index = async (ns: TestNetns, name: string) => {
      const nl = await Netlink.open({ netns: ns.name })
      const i = (await nl.link.get(name)).index
      nl.close()
      return i
    }
    // No route covers 255.255.255.255 there: the interface is chosen per datagram (IP_PKTINFO).
    await expect(onD2.send({ data: Buffer.from('x'), address: '255.255.255.255', port: 6767 })).rejects.toThrow(/^ENETUNREACH: udp send 255\.255\.255\.255:6767/)
    await onD2.send({ data: Buffer.from('via d2'), address: '255.255.255.255', port: 6767, ifindex: await index(c2, 'e2') })
    await onD1.send({ data: Buffer.from('via d1'), address: '255.255.255.255', port: 6767, ifindex: await index(c1, 'e1') })
    await new Promise((r) => setTimeout(r, 300))
    expect(seen).toEqual(['via d1'])
    for (const s of [bound, onD2, onD1]) s.close()
  })

  it('broadcasts from 0.0.0.0 out of a chosen device with no address, as a DHCP client must', async () => {
    const bare = await TestNetns.create('udp-bare')
    await vethPair({ netns: bare, ifname: 'cl0' }, { netns: server, ifname: 'd3', address: '10.91.3.1/24' })
    // A broadcast sent before the kernel's link watcher has seen the carrier is dropped: wait for it.
    const operstate = async (ns: TestNetns, dev: string) => (await ns.ip<Array<{ operstate: string }>>(['link', 'show', 'dev', dev]))[0]?.operstate
    await until('cl0 and d3 up', async () => [await operstate(bare, 'cl0'), await operstate(server, 'd3')], (s) => s.every((x) => x === 'UP'))
    const serverSide = await UdpSocket.open({ netns: server.name, port: 6767, interface: 'd3', reuseAddress: true })
    const client = await UdpSocket.open({ netns: bare.name, port: 6868, interface: 'cl0', broadcast: true })
    const got = nextDatagram(serverSide)
    await client.send({ data: Buffer.from('DISCOVER'), address: '255.255.255.255', port: 6767 })
    const d = (await got)!
    expect(d.data.toString()).toBe('DISCOVER')
    expect(d.from).toEqual({ address: '0.0.0.0', port: 6868 })
    expect(d.to).toBe('255.255.255.255')
    serverSide.close()
    client.close()
  })

  it('drains and sends in batches', async () => {
    const s = await UdpSocket.open({ netns: server.name, port: 6701, batch: 64 })
    const c = await UdpSocket.open({ netns: c1.name, port: 0 })
    const all: string[] = []
    const done = new Promise<void>((resolve) =>
      s.on('message', (d) => {
        all.push(d.data.toString())
        if (all.length === 200) resolve()
      }),
    )
    await c.sendBatch(Array.from({ length: 200 }, (_, i) => ({ data: Buffer.from(`m${i}`), address: '10.91.1.1', port: 6701 })))
    await done
    expect(all).toEqual(Array.from({ length: 200 }, (_, i) => `m${i}`))
    s.close()
    c.close()
  })

  it('counts what it received, sent and dropped as too long, and closes at the end of an await using scope', async () => {
    let kept: UdpSocket
    {
      await using s = await UdpSocket.open({ netns: server.name, port: 6703, maxDatagram: 16 })
      await using c = await UdpSocket.open({ netns: c1.name, port: 0 })
      kept = s
      const got = nextDatagram(s)
      await c.sendBatch([
        { data: Buffer.alloc(100), address: '10.91.1.1', port: 6703 },
        { data: Buffer.from('short'), address: '10.91.1.1', port: 6703 },
      ])
      expect((await got)?.data.toString()).toBe('short')
      expect(s.counters()).toEqual({ received: 1, truncated: 1, sent: 0 })
      expect(c.counters()).toEqual({ received: 0, truncated: 0, sent: 2 })
      // A fresh object each time: callers may keep or change it.
      expect(s.counters()).not.toBe(s.counters())
    }
    expect(kept.closed).toBe(true)
    await kept.close()
  })

  it('names errno, operation and object on failure, and keeps fds flat over 2,000 cycles', async () => {
    const first = await UdpSocket.open({ netns: server.name, port: 6702 })
    await expect(UdpSocket.open({ netns: server.name, port: 6702 })).rejects.toThrow(`EADDRINUSE: udp bind 0.0.0.0:6702 netns ${server.name}`)
    await expect(UdpSocket.open({ netns: server.name, port: 67, interface: 'nope0' })).rejects.toThrow(/ENODEV: udp bind nope0/)
    await first.close()
    const fds = () => readdirSync('/proc/self/fd').length
    const before = fds()
    for (let i = 0; i < 2000; i++) await (await UdpSocket.open({ netns: server.name, port: 0 })).close()
    expect(fds()).toBe(before)
  })
})

describe('socketpair cables', () => {
  it('carries frames both ways between two ends, with boundaries', async () => {
    const [a, b] = cable('seqpacket')
    const got: string[] = []
    const two = new Promise<void>((resolve) =>
      b.on('message', (f) => {
        got.push(f.toString())
        if (got.length === 2) resolve()
      }),
    )
    await a.write(Buffer.from('frame one'))
    await a.write(Buffer.from('frame two'))
    await two
    expect(got).toEqual(['frame one', 'frame two'])
    a.close()
    b.close()
  })

  it('reads with for await, and ends the iteration when closed', async () => {
    const [a, b] = cable('dgram')
    for (const word of ['x', 'yy', 'zzz']) await a.write(Buffer.from(word))
    const got: string[] = []
    for await (const frame of b) {
      got.push(frame.toString())
      if (got.length === 3) break
    }
    expect(got).toEqual(['x', 'yy', 'zzz'])
    expect(b.closed).toBe(true)
    a.close()
  })

  it('passes one end to a child process that echoes frames back', async () => {
    const [mine, theirs] = cable('dgram')
    const fd = theirs.handOff()
    const child = spawn(process.execPath, ['-e', `
      const fs = require('node:fs')
      const buf = Buffer.alloc(2048)
      for (let i = 0; i < 3; i++) { const n = fs.readSync(3, buf); fs.writeSync(3, Buffer.concat([Buffer.from('echo:'), buf.subarray(0, n)])) }
    `], { stdio: ['ignore', 'inherit', 'inherit', fd] })
    closeSync(fd)
    const replies: string[] = []
    const three = new Promise<void>((resolve) =>
      mine.on('message', (f) => {
        replies.push(f.toString())
        if (replies.length === 3) resolve()
      }),
    )
    for (const word of ['a', 'bb', 'ccc']) await mine.write(Buffer.from(word))
    await three
    expect(replies).toEqual(['echo:a', 'echo:bb', 'echo:ccc'])
    await new Promise((r) => child.once('exit', r))
    mine.close()
  })
})
