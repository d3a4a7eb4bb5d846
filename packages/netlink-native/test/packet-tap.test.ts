import { readdirSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Daemon, TestNetns, cleanupAll, isRoot, vethPair } from '@lab/testkit'
import { Netlink, PacketSocket, Tap, ethertypeFilter, type Frame } from '../src/index.js'

const EXPERIMENTAL = 0x88b5 // IEEE 802 local experimental ethertype: nothing else sends it

function frame(dst: string, src: string, ethertype: number, payload: string): Buffer {
  const mac = (m: string) => Buffer.from(m.split(':').map((h) => parseInt(h, 16)))
  const type = Buffer.alloc(2)
  type.writeUInt16BE(ethertype)
  return Buffer.concat([mac(dst), mac(src), type, Buffer.from(payload.padEnd(46, '.'))])
}

function next(socket: PacketSocket | Tap, match: (f: Buffer) => boolean, ms = 5000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no matching frame')), ms)
    const source = socket as unknown as { on(event: 'message', listener: (m: Frame | Buffer) => void): void }
    source.on('message', (m) => {
      const data = Buffer.isBuffer(m) ? m : m.data
      if (match(data)) {
        clearTimeout(timer)
        resolve(data)
      }
    })
  })
}

describe.skipIf(!isRoot())('AF_PACKET and TAP (needs root)', () => {
  let a: TestNetns
  let b: TestNetns
  let macB: string
  beforeAll(async () => {
    a = await TestNetns.create('pkt-a')
    b = await TestNetns.create('pkt-b')
    await vethPair({ netns: a, ifname: 'pa', address: '10.88.0.1/24' }, { netns: b, ifname: 'pb', address: '10.88.0.2/24' })
    const nl = await Netlink.open({ netns: b.name })
    macB = (await nl.link.get('pb')).address!
    nl.close()
  })
  afterAll(() => cleanupAll())

  it('sends raw frames that tcpdump sees on the far side, and receives them there with link-layer info', async () => {
    const dump = await Daemon.start({ name: 'tcpdump', netns: b.name, argv: ['tcpdump', '-i', 'pb', '-n', '-e', '-l', '-c', '1', 'ether proto 0x88b5'], ready: /listening on/ })
    const receiver = await PacketSocket.open({ netns: b.name, interface: 'pb', protocol: EXPERIMENTAL })
    const sender = await PacketSocket.open({ netns: a.name, interface: 'pa' })
    const got = next(receiver, (f) => f.readUInt16BE(12) === EXPERIMENTAL)
    await sender.send(frame(macB, '02:00:00:00:00:aa', EXPERIMENTAL, 'hello lab'))
    const data = await got
    expect(data.subarray(14, 23).toString()).toBe('hello lab')
    await dump.waitFor(/02:00:00:00:00:aa > .*ethertype Unknown \(0x88b5\)/)
    sender.close()
    receiver.close()
    await dump.stop()
  })

  it('drops in the kernel what the BPF filter rejects', async () => {
    const filtered = await PacketSocket.open({ netns: b.name, interface: 'pb', filter: ethertypeFilter(EXPERIMENTAL) })
    const seen: number[] = []
    filtered.on('message', (f) => seen.push(f.data.readUInt16BE(12)))
    const sender = await PacketSocket.open({ netns: a.name, interface: 'pa' })
    await sender.send(frame(macB, '02:00:00:00:00:aa', 0x88b6, 'not me'))
    await sender.send(frame(macB, '02:00:00:00:00:aa', EXPERIMENTAL, 'me'))
    await new Promise((r) => setTimeout(r, 200))
    expect(seen).toEqual([EXPERIMENTAL])
    sender.close()
    filtered.close()
  })

  it('writes frames to a TAP that tcpdump sees, and reads frames the kernel sends to it', async () => {
    const tap = await Tap.open({ netns: a.name, interface: 'tapx' })
    expect(tap.interface).toBe('tapx')
    await a.exec(['ip', 'link', 'set', 'tapx', 'up'])
    await a.exec(['ip', 'addr', 'add', '10.89.0.1/24', 'dev', 'tapx'])
    const dump = await Daemon.start({ name: 'tcpdump', netns: a.name, argv: ['tcpdump', '-i', 'tapx', '-n', '-e', '-l', '-c', '1', 'ether proto 0x88b5'], ready: /listening on/ })
    await tap.write(frame('ff:ff:ff:ff:ff:ff', '02:00:00:00:00:bb', EXPERIMENTAL, 'from the tap'))
    await dump.waitFor(/02:00:00:00:00:bb > ff:ff:ff:ff:ff:ff/)
    await dump.stop()
    // The kernel ARPs for an address behind the TAP: that request arrives on our fd.
    const arp = next(tap, (f) => f.readUInt16BE(12) === 0x0806)
    const ping = a.exec(['ping', '-c', '1', '-W', '1', '10.89.0.2'], { allowFailure: true })
    const request = await arp
    expect(request.subarray(38, 42)).toEqual(Buffer.from([10, 89, 0, 2]))
    // Its pipes must be gone before the next test counts this process's fds.
    await ping
    await tap.close()
    await tap.close()
  })

  it('a TAP whose device is deleted under it reports EBADFD once and stops reading', async () => {
    const tap = await Tap.open({ netns: a.name, interface: 'tapgone' })
    const errors: Array<{ code?: string }> = []
    tap.on('error', (error) => void errors.push(error as { code?: string }))
    tap.on('message', () => undefined)
    await a.exec(['ip', 'link', 'set', 'tapgone', 'up'])
    await a.exec(['ip', 'link', 'del', 'tapgone'])
    for (let i = 0; i < 40 && errors.length === 0; i++) await new Promise((r) => setTimeout(r, 25))
    await new Promise((r) => setTimeout(r, 300))
    expect(errors.map((e) => e.code)).toEqual(['EBADFD'])
    await tap.close()
  })

  it('keeps the fd count flat across 2,000 open/close cycles', async () => {
    // Attaching to a persistent TAP exercises the fd path without a device teardown (an RCU wait) per cycle.
    const nl = await Netlink.open({ netns: a.name })
    await nl.link.add({ name: 'tapp', kind: 'tap' })
    const fds = () => readdirSync('/proc/self/fd').length
    const before = fds()
    for (let i = 0; i < 1000; i++) await (await PacketSocket.open({ netns: a.name, interface: 'pa', protocol: 'arp' })).close()
    for (let i = 0; i < 1000; i++) await (await Tap.open({ netns: a.name, interface: 'tapp' })).close()
    expect(fds()).toBe(before)
    await nl.link.del('tapp')
    nl.close()
  })

  it('reports errors with errno, operation and object', async () => {
    await expect(PacketSocket.open({ netns: a.name, interface: 'nope0' })).rejects.toThrow(`ENODEV: packet bind nope0`)
    await expect(Tap.open({ netns: 'no-such-netns-here', interface: 't0' })).rejects.toThrow(/ENOENT: tap open t0 netns no-such-netns-here/)
  })
})
