// Pinger against the kernel: two namespaces on a veth pair, the far side's kernel answering (or,
// with icmp_echo_ignore_all, a raw socket of the test answering with crafted replies), each
// answer compared with what /bin/ping says from the same namespace.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TestNetns, cleanupAll, isRoot, vethPair } from '@lab/testkit'
import { ArgumentError, FdHandle, Pinger, internetChecksum, ping, sockaddrIn } from '../src/index.js'
import { native } from '../src/native.js'

/** /bin/ping's count of replies ("3 packets transmitted, 3 received"), from inside `ns`. */
async function binPing(ns: TestNetns, args: string[]): Promise<{ code: number; received: number }> {
  const out = await ns.exec(['ping', '-n', ...args], { allowFailure: true })
  const m = /(\d+) received/.exec(out.stdout)
  return { code: out.code, received: m ? Number(m[1]) : -1 }
}

describe('internetChecksum (RFC 1071)', () => {
  it('sums 16-bit words with end-around carry, an odd byte padded', () => {
    // RFC 1071 §3's example: 0001 f203 f4f5 f6f7 sums to ddf2, checksum 220d.
    expect(internetChecksum(Buffer.from('0001f203f4f5f6f7', 'hex'))).toBe(0x220d)
    expect(internetChecksum(Buffer.from('ff', 'hex'))).toBe(0x00ff)
    const withSum = Buffer.from('0001f203f4f5f6f7220d', 'hex')
    expect(internetChecksum(withSum)).toBe(0)
  })
})

describe.skipIf(!isRoot())('Pinger against the kernel (needs root)', () => {
  let a: TestNetns
  let b: TestNetns
  let bLinkLocal = ''
  beforeAll(async () => {
    a = await TestNetns.create('ping-a')
    b = await TestNetns.create('ping-b')
    // No duplicate address detection: IPv6 addresses are usable at once.
    for (const ns of [a, b]) await ns.exec(['sysctl', '-qw', 'net.ipv6.conf.default.accept_dad=0'])
    await vethPair({ netns: a, ifname: 'a0', address: '10.77.0.1/24' }, { netns: b, ifname: 'b0', address: '10.77.0.2/24' })
    await a.exec(['ip', '-6', 'addr', 'add', 'fd77::1/64', 'dev', 'a0', 'nodad'])
    await b.exec(['ip', '-6', 'addr', 'add', 'fd77::2/64', 'dev', 'b0', 'nodad'])
    for (let i = 0; i < 100 && !bLinkLocal; i++) {
      const out = await b.exec(['ip', '-6', '-o', 'addr', 'show', 'dev', 'b0', 'scope', 'link'])
      bLinkLocal = /inet6 (fe80::[0-9a-f:]+)\/64/.exec(out.stdout)?.[1] ?? ''
      if (!bLinkLocal) await new Promise((r) => setTimeout(r, 50))
    }
  })
  afterAll(() => cleanupAll())

  it('gets a reply to every request, as /bin/ping does', async () => {
    await using p = await Pinger.open({ netns: a.name })
    const r = await p.ping('10.77.0.2', { count: 3, intervalMs: 0 })
    expect(r).toMatchObject({ address: '10.77.0.2', transmitted: 3, received: 3, lost: 0 })
    expect(r.rtts).toHaveLength(3)
    for (const rtt of r.rtts) expect(rtt).toBeGreaterThan(0)
    expect(r.error).toBeUndefined()
    expect(p.counters()).toMatchObject({ sent: 3, received: 3, malformed: 0, unexpected: 0 })
    expect(await binPing(a, ['-c', '3', '-i', '0.2', '-W', '2', '10.77.0.2'])).toEqual({ code: 0, received: 3 })
  })

  it('times out cleanly on an address nobody has, as /bin/ping does', async () => {
    await using p = await Pinger.open({ netns: a.name })
    const r = await p.ping('10.77.0.99', { count: 2, intervalMs: 0, timeoutMs: 300 })
    expect(r).toMatchObject({ transmitted: 2, received: 0, lost: 2, rtts: [] })
    expect(r.error).toBeUndefined()
    expect(await binPing(a, ['-c', '1', '-W', '1', '10.77.0.99'])).toEqual({ code: 1, received: 0 })
  })

  it('reports a network with no route as an error, sending nothing (/bin/ping exits 2)', async () => {
    await using p = await Pinger.open({ netns: a.name })
    const r = await p.ping('10.99.0.1', { count: 2 })
    expect(r).toMatchObject({ transmitted: 0, received: 0, lost: 0 })
    expect(r.error?.code).toBe('ENETUNREACH')
    expect(r.error?.message).toContain('10.99.0.1')
    expect((await binPing(a, ['-c', '1', '-W', '1', '10.99.0.1'])).code).toBe(2)
  })

  it('pings over IPv6: a global address, and a link-local one through an interface', async () => {
    await using p = await Pinger.open({ netns: a.name, family: 6 })
    const r = await p.ping('fd77::2', { count: 2, intervalMs: 0 })
    expect(r).toMatchObject({ address: 'fd77::2', transmitted: 2, received: 2, lost: 0 })
    expect(await binPing(a, ['-6', '-c', '2', '-i', '0.2', '-W', '2', 'fd77::2'])).toEqual({ code: 0, received: 2 })
    const lost = await p.ping('fd77::99', { timeoutMs: 300 })
    expect(lost).toMatchObject({ transmitted: 1, received: 0, lost: 1 })
    expect(bLinkLocal).not.toBe('')
    await using viaA0 = await Pinger.open({ netns: a.name, family: 6, interface: 'a0' })
    expect(await viaA0.ping(bLinkLocal)).toMatchObject({ received: 1, lost: 0 })
    expect(await binPing(a, ['-6', '-c', '1', '-W', '2', `${bLinkLocal}%a0`])).toEqual({ code: 0, received: 1 })
  })

  it('keeps many requests in flight on one socket, and two Pingers in one namespace apart', async () => {
    await using p = await Pinger.open({ netns: a.name })
    await using q = await Pinger.open({ netns: a.name })
    const [r1, r2] = await Promise.all([p.ping('10.77.0.2', { count: 20, intervalMs: 0 }), p.ping('127.0.0.1', { count: 5, intervalMs: 0 })])
    expect([r1.received, r2.received]).toEqual([20, 5])
    // q's raw socket got p's 25 replies too (kept in its buffer while q waited for nothing): its
    // first read drops them before taking its own.
    const r3 = await q.ping('10.77.0.2', { count: 5, intervalMs: 0 })
    expect(r3.received).toBe(5)
    expect(q.counters().ignored).toBeGreaterThanOrEqual(25)
    expect(p.counters().unexpected + q.counters().unexpected).toBe(0)
  })

  it('counts and drops malformed replies and replies to someone else, takes the good one', async () => {
    await b.exec(['sysctl', '-qw', 'net.ipv4.icmp_echo_ignore_all=1'])
    // b's side: a raw ICMP socket that reads a's request (raw sockets see it before the kernel's ICMP code).
    const raw = new FdHandle(await native.socketAtAsync(b.path, 2, 3, 1), 'test raw')
    try {
      await using p = await Pinger.open({ netns: a.name })
      const result = p.ping('10.77.0.2', { timeoutMs: 3000 })
      const request = await new Promise<Buffer>((resolve) => {
        raw.resumeReading(() => {
          const buf = Buffer.alloc(2048)
          for (;;) {
            const n = native.recvfrom(raw.fd, buf, null)
            if (n < 0) return
            const icmp = buf.subarray((buf[0]! & 15) * 4, n)
            if (icmp[0] === 8 && icmp.readUInt16BE(4) === p.identifier) {
              raw.pauseReading()
              resolve(Buffer.from(icmp))
            }
          }
        })
      })
      const reply = (mutate: (icmp: Buffer) => void, fixChecksum = true): Buffer => {
        const icmp = Buffer.from(request)
        icmp[0] = 0
        mutate(icmp)
        icmp.writeUInt16BE(0, 2)
        if (fixChecksum) icmp.writeUInt16BE(internetChecksum(icmp), 2)
        return icmp
      }
      const send = (icmp: Buffer) => native.sendto(raw.fd, icmp, 0, icmp.length, sockaddrIn('10.77.0.1', 0))
      send(reply((icmp) => icmp.writeUInt16BE(0xbeef, 2), false)) // a bad checksum
      const corrupted = reply(() => {})
      corrupted[20] = corrupted[20]! ^ 0x40 // a bit flipped on the way
      send(corrupted)
      // (An ICMP message shorter than its header never reaches a raw socket with ICMP_FILTER set.)
      send(reply((icmp) => (icmp[8] = icmp[8]! ^ 0xff))) // another token: not ours
      send(reply(() => {}))
      send(reply(() => {})) // twice
      const r = await result
      expect(r).toMatchObject({ transmitted: 1, received: 1, lost: 0 })
      // The duplicate came after the reply: read in the same wake-up, or (a Pinger reads only while
      // it waits for replies) during the next ping, which b leaves unanswered.
      expect(await p.ping('10.77.0.2', { timeoutMs: 200 })).toMatchObject({ received: 0, lost: 1 })
      expect(p.counters()).toMatchObject({ received: 1, malformed: 2, ignored: 1, unexpected: 1 })
    } finally {
      raw.close()
      await b.exec(['sysctl', '-qw', 'net.ipv4.icmp_echo_ignore_all=0'])
    }
  })

  it('one-shot ping(), and close() ends requests still waiting as lost', async () => {
    expect(await ping('10.77.0.2', { netns: a.name })).toMatchObject({ received: 1 })
    expect(await ping('fd77::2', { netns: a.name })).toMatchObject({ received: 1 })
    const p = await Pinger.open({ netns: a.name })
    const waiting = p.ping('10.77.0.98', { timeoutMs: 30_000 })
    setTimeout(() => void p.close(), 50)
    expect(await waiting).toMatchObject({ transmitted: 1, received: 0, lost: 1 })
    await p.close()
  })

  it('checks its arguments before sending', async () => {
    await using p = await Pinger.open({ netns: a.name })
    await expect(p.ping('fd77::2')).rejects.toThrow(ArgumentError)
    await expect(p.ping('10.77.0.2', { count: 0 })).rejects.toThrow(/count/)
    await expect(p.ping('10.77.0.256')).rejects.toThrow(/invalid IP address/)
    await expect(Pinger.open({ netns: a.name, family: 5 as 4 })).rejects.toThrow(/family/)
    await expect(Pinger.open({ netns: a.name, interface: 'nope0' })).rejects.toThrow(/ENODEV/)
  })
})
