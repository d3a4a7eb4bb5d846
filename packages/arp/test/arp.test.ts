import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Daemon, TestNetns, cleanupAll, isRoot, vethPair } from '@lab/testkit'
import { PacketSocket } from '@lab/netlink-native'
import { FakeClock } from '@lab/clock'
import { ArpDecodeError, announce, announcement, announcer, arpToString, decodeArp, encodeArp, linkMac, probe, type ArpPacket } from '../src/index.js'

describe('ARP codec', () => {
  it('encodes the three announcement forms and decodes them back', () => {
    const mac = '02:00:00:00:00:aa'
    const seed = announcement(mac, '10.0.0.5')
    expect(encodeArp(seed).toString('hex')).toBe(
      'ffffffffffff' + '0200000000aa' + '0806' + '0001' + '0800' + '06' + '04' + '0001' + '0200000000aa' + '0a000005' + '000000000000' + '0a000005',
    )
    expect(announcement(mac, '10.0.0.5', 'arping').targetMac).toBe('ff:ff:ff:ff:ff:ff')
    expect(announcement(mac, '10.0.0.5', 'reply').op).toBe(2)
    for (const form of ['request', 'arping', 'reply'] as const) {
      const p = announcement(mac, '10.0.0.5', form)
      expect(decodeArp(encodeArp(p))).toEqual(p)
    }
    expect(arpToString(seed)).toBe('ARP announcement 10.0.0.5 is-at 02:00:00:00:00:aa')
  })

  it('rejects what is not ARP for IPv4 over Ethernet, with a reason', () => {
    const good = encodeArp(announcement('02:00:00:00:00:aa', '10.0.0.5'))
    const cases: Array<[Buffer, string]> = [
      [good.subarray(0, 30), 'short-frame'],
      [Buffer.concat([good.subarray(0, 12), Buffer.from([0x08, 0x00]), good.subarray(14)]), 'not-arp'],
      [(() => { const b = Buffer.from(good); b[19] = 16; return b })(), 'not-ethernet-ipv4'],
      [(() => { const b = Buffer.from(good); b[21] = 9; return b })(), 'bad-op'],
    ]
    for (const [frame, reason] of cases) {
      expect(() => decodeArp(frame)).toThrow(ArpDecodeError)
      try {
        decodeArp(frame)
      } catch (e) {
        expect((e as ArpDecodeError).reason).toBe(reason)
      }
    }
  })
})

describe.skipIf(!isRoot())('ARP on the wire (needs root)', () => {
  let a: TestNetns
  let b: TestNetns
  let macA: string
  let macB: string
  beforeAll(async () => {
    a = await TestNetns.create('arp-a')
    b = await TestNetns.create('arp-b')
    await vethPair({ netns: a, ifname: 'a0' }, { netns: b, ifname: 'b0', address: '10.7.0.2/24' })
    macA = await linkMac('a0', a.name)
    macB = await linkMac('b0', b.name)
  })
  afterAll(() => cleanupAll())

  async function capture(): Promise<{ frames: ArpPacket[]; close(): void }> {
    const frames: ArpPacket[] = []
    const s = await PacketSocket.open({ netns: b.name, interface: 'b0', protocol: 'arp', outgoing: false })
    s.on('message', (f) => frames.push(decodeArp(f.data)))
    return { frames, close: () => s.close() }
  }

  it('puts exactly the seed frame on the wire, as tcpdump on the far side sees it', async () => {
    const dump = await Daemon.start({ name: 'tcpdump', netns: b.name, argv: ['tcpdump', '-i', 'b0', '-n', '-xx', '-l', '-c', '1', 'arp'], ready: /listening on/ })
    await announce({ interface: 'a0', address: '10.7.0.1', netns: a.name })
    await dump.waitFor(/\n\s+0x0020:[^\n]+/)
    await dump.stop()
    const hex = [...dump.log.matchAll(/0x[0-9a-f]{4}:\s+([0-9a-f ]+)/g)].map((m) => m[1]!.replace(/\s+/g, '')).join('')
    expect(hex.slice(0, 84)).toBe(encodeArp(announcement(macA, '10.7.0.1')).toString('hex'))
  })

  it('announces qualifying addresses on link-up and 10 s later, a new round on a flap, none for secondary or temporary ones', async () => {
    await a.exec(['ip', 'addr', 'add', '10.5.0.1/24', 'dev', 'a0'])
    await a.exec(['ip', 'addr', 'add', '10.5.0.2/24', 'dev', 'a0']) // secondary
    await a.exec(['ip', 'addr', 'add', '10.6.0.1/24', 'dev', 'a0', 'valid_lft', '300', 'preferred_lft', '300']) // temporary
    await a.exec(['ip', 'addr', 'add', '169.254.1.1/16', 'dev', 'a0', 'scope', 'link'])
    await a.exec(['ip', 'link', 'set', 'a0', 'down'])
    const clock = new FakeClock()
    const rounds: Array<[string, string[], string]> = []
    const controller = new AbortController()
    let healthy = false
    const run = announcer({ netns: a.name, links: ['a0'], clock, onAnnounce: (l, addrs, r) => rounds.push([l, [...addrs].sort(), r]) })({ signal: controller.signal, healthy: () => (healthy = true) })
    while (!healthy) await new Promise((r) => setTimeout(r, 10))
    const wire = await capture()
    await a.exec(['ip', 'link', 'set', 'a0', 'up'])
    const until = async (n: number) => {
      for (let i = 0; i < 200 && rounds.length < n; i++) await new Promise((r) => setTimeout(r, 10))
    }
    await until(1)
    expect(rounds[0]).toEqual(['a0', ['10.5.0.1', '169.254.1.1'], 'up'])
    await clock.advance(10_000)
    await until(2)
    expect(rounds[1]).toEqual(['a0', ['10.5.0.1', '169.254.1.1'], 'repeat'])
    // A flap: down cancels nothing pending now, up starts a new round with its own repeat.
    await a.exec(['ip', 'link', 'set', 'a0', 'down'])
    await new Promise((r) => setTimeout(r, 50))
    await a.exec(['ip', 'link', 'set', 'a0', 'up'])
    await until(3)
    expect(rounds[2]![2]).toBe('up')
    // Down before the repeat is due: the repeat is cancelled.
    await a.exec(['ip', 'link', 'set', 'a0', 'down'])
    await new Promise((r) => setTimeout(r, 50))
    await clock.advance(10_000)
    await new Promise((r) => setTimeout(r, 100))
    expect(rounds.length).toBe(3)
    await new Promise((r) => setTimeout(r, 50))
    const announced = wire.frames.filter((f) => f.senderIp === f.targetIp).map((f) => f.senderIp)
    expect(new Set(announced)).toEqual(new Set(['10.5.0.1', '169.254.1.1']))
    expect(wire.frames.every((f) => f.targetMac === '00:00:00:00:00:00' && f.dst === 'ff:ff:ff:ff:ff:ff' && f.op === 1)).toBe(true)
    wire.close()
    controller.abort()
    await run
    await a.exec(['ip', 'link', 'set', 'a0', 'up'])
  })

  it('finds a real host holding the address, and none when it is free (RFC 5227)', async () => {
    const timing = { probeWait: 10, probeNum: 3, probeMin: 30, probeMax: 60, announceWait: 200 }
    const taken = await probe({ interface: 'a0', address: '10.7.0.2', netns: a.name, timing })
    expect(taken).toEqual({ conflict: true, holder: macB, malformed: 0 })
    const free = await probe({ interface: 'a0', address: '10.7.0.99', netns: a.name, timing })
    expect(free).toEqual({ conflict: false, malformed: 0 })
  })
})
