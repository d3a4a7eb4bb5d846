import type { Socket } from 'node:net'
import pino from 'pino'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { TestNetns, cleanupAll, isRoot, vethPair } from '@lab/testkit'
import { connectTcp, listenTcp } from '@lab/netlink-native'
import { formatForward, parseForward } from '../src/forward/forward-spec.js'
import { TcpForward } from '../src/forward/tcp-forward.js'
import { KernelForwards } from '../src/forward/kernel-forwards.js'
import { REPLY, encodeReply, parseGreeting, parseRequest } from '../src/socks/socks5-codec.js'
import { SocksServer } from '../src/socks/socks5-server.js'

const logger = pino({ level: 'silent' })

function read(socket: Socket, bytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0)
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d])
      if (buf.length >= bytes) {
        socket.off('data', onData)
        resolve(buf)
      }
    }
    socket.on('data', onData)
    socket.once('error', reject)
    socket.once('close', () => resolve(buf))
  })
}

describe('forward specs and SOCKS5 codec', () => {
  it('parses PORT:IP and PORT:IP:PORT, and rejects the rest', () => {
    expect(parseForward('7835:10.1.0.2')).toEqual({ listenPort: 7835, targetHost: '10.1.0.2', targetPort: 7835 })
    expect(parseForward('8080:10.1.0.3:80')).toEqual({ listenPort: 8080, targetHost: '10.1.0.3', targetPort: 80 })
    expect(() => parseForward('80')).toThrow(/forward: expected PORT:IP/)
    expect(() => parseForward('99999:10.1.0.2')).toThrow(/bad port/)
    expect(() => parseForward('80:vm1')).toThrow(/invalid IP address/)
    // IPv6 targets in brackets, as in URLs (RFC 3986 3.2.2); formatForward writes them back so.
    expect(parseForward('8080:[fd0a:b3ec:1::1000]:80')).toEqual({ listenPort: 8080, targetHost: 'fd0a:b3ec:1::1000', targetPort: 80 })
    expect(parseForward('443:[fd0a:b3ec:1::1000]')).toEqual({ listenPort: 443, targetHost: 'fd0a:b3ec:1::1000', targetPort: 443 })
    expect(formatForward(parseForward('8080:[fd0a:b3ec:1::1000]:80'))).toBe('8080:[fd0a:b3ec:1::1000]:80')
    expect(() => parseForward('80:[10.1.0.2]:80')).toThrow(/brackets are for an IPv6 address/)
    expect(() => parseForward('80:fd00::1')).toThrow(/expected PORT:IP/)
  })

  it('parses greetings and requests incrementally (RFC 1928)', () => {
    expect(parseGreeting(Buffer.from([5]))).toBeUndefined()
    expect(parseGreeting(Buffer.from([5, 2, 0, 2]))).toEqual({ value: { methods: [0, 2] }, consumed: 4 })
    expect(() => parseGreeting(Buffer.from([4, 1, 0]))).toThrow(/not SOCKS5/)
    const req = Buffer.from([5, 1, 0, 1, 10, 1, 0, 2, 0x1f, 0x90])
    expect(parseRequest(req.subarray(0, 7))).toBeUndefined()
    expect(parseRequest(req)).toEqual({ value: { command: 1, addressType: 1, host: '10.1.0.2', port: 8080 }, consumed: 10 })
    expect(encodeReply(REPLY.connectionRefused)).toEqual(Buffer.from([5, 5, 0, 1, 0, 0, 0, 0, 0, 0]))
  })
})

describe.skipIf(!isRoot())('forwards and SOCKS between namespaces (needs root)', () => {
  let outside: TestNetns
  let sw: TestNetns
  let vm: TestNetns
  beforeAll(async () => {
    outside = await TestNetns.create('fw-out')
    sw = await TestNetns.create('fw-sw')
    vm = await TestNetns.create('fw-vm')
    await vethPair({ netns: outside, ifname: 'up0', address: '192.0.2.2/24' }, { netns: sw, ifname: 'up1', address: '192.0.2.1/24' })
    await vethPair({ netns: sw, ifname: 'br1', address: '10.1.0.1/24' }, { netns: vm, ifname: 'eth0', address: '10.1.0.2/24' })
  })
  afterAll(() => cleanupAll())

  it('forwards a TCP port on the switch to a VM, both ways, with many bytes', async () => {
    const echo = await listenTcp({ netns: vm.name, host: '10.1.0.2', port: 7000 }, (s) => s.pipe(s))
    const forward = await TcpForward.start({ ...parseForward('17000:10.1.0.2:7000'), netns: sw.name, logger })
    const client = await connectTcp({ netns: outside.name, host: '192.0.2.1', port: 17000 })
    const payload = Buffer.alloc(1 << 20, 7)
    const back = read(client, payload.length)
    client.write(payload)
    expect((await back).equals(payload)).toBe(true)
    // Bytes are counted when a connection's relay ends.
    expect(forward.counters()).toEqual({ active: 1, total: 1, failed: 0, bytesIn: 0, bytesOut: 0 })
    client.end()
    await vi.waitFor(() => expect(forward.counters().active).toBe(0), { timeout: 10_000 })
    expect(forward.counters()).toEqual({ active: 0, total: 1, failed: 0, bytesIn: payload.length, bytesOut: payload.length })
    client.destroy()
    await forward.stop()
    echo.close()
  })

  it('forwards by kernel DNAT from the uplink side: the VM sees the real client, connections and bytes each way are counted', async () => {
    await vm.exec(['ip', 'route', 'replace', 'default', 'via', '10.1.0.1'])
    await sw.exec(['sysctl', '-qw', 'net.ipv4.ip_forward=1'])
    const peers: string[] = []
    const closed: Array<Promise<unknown>> = []
    const echo = await listenTcp({ netns: vm.name, host: '10.1.0.2', port: 7002 }, (s) => {
      peers.push(s.remoteAddress!)
      closed.push(new Promise((resolve) => s.once('close', resolve)))
      s.pipe(s)
    })
    // Two forwards to the same VM address and port: each counts only its own connections.
    const kernel = new KernelForwards([parseForward('17002:10.1.0.2:7002'), parseForward('17003:10.1.0.2:7002')], sw.name, 'br1')
    await kernel.apply()
    // A connection routed to the VM's port without DNAT (the outside has a route to the bridge's
    // network): the same addresses and port, not a forward's, so not counted.
    await outside.exec(['ip', 'route', 'replace', '10.1.0.0/24', 'via', '192.0.2.1'])
    const direct = await connectTcp({ netns: outside.name, host: '10.1.0.2', port: 7002 })
    const directBack = read(direct, 250_000)
    direct.write(Buffer.alloc(250_000, 9))
    expect((await directBack).length).toBe(250_000)
    direct.end()
    await new Promise((resolve) => direct.once('close', resolve))
    const PAYLOAD = 100_000
    for (let i = 0; i < 2; i++) {
      const client = await connectTcp({ netns: outside.name, host: '192.0.2.1', port: 17002 })
      const payload = Buffer.alloc(PAYLOAD, i + 1)
      const back = read(client, payload.length)
      client.write(payload)
      expect((await back).equals(payload)).toBe(true)
      client.end()
      await new Promise((resolve) => client.once('close', resolve))
    }
    {
      // Through the other forward: three times the payload.
      const client = await connectTcp({ netns: outside.name, host: '192.0.2.1', port: 17003 })
      const back = read(client, 3 * PAYLOAD)
      client.write(Buffer.alloc(3 * PAYLOAD, 5))
      expect((await back).length).toBe(3 * PAYLOAD)
      client.end()
      await new Promise((resolve) => client.once('close', resolve))
    }
    await Promise.all(closed)
    expect(peers).toEqual(['192.0.2.2', '192.0.2.2', '192.0.2.2', '192.0.2.2'])
    // IP packets, headers included: at least the payload each way, well under twice it (the
    // direct connection's 250 000 bytes would break the bound).
    const counted = (await kernel.counters()).get('17002:10.1.0.2:7002')!
    expect(counted.total).toBe(2)
    for (const bytes of [counted.bytesIn, counted.bytesOut]) {
      expect(bytes).toBeGreaterThanOrEqual(2 * PAYLOAD)
      expect(bytes).toBeLessThan(2 * PAYLOAD * 2)
    }
    // The other forward's connection went to the same VM address and port, and is its own.
    const other = (await kernel.counters()).get('17003:10.1.0.2:7002')!
    expect(other.total).toBe(1)
    for (const bytes of [other.bytesIn, other.bytesOut]) {
      expect(bytes).toBeGreaterThanOrEqual(3 * PAYLOAD)
      expect(bytes).toBeLessThan(3 * PAYLOAD * 2)
    }
    // nft's own reading agrees: the forward chain's two counting rules (no verdict), by comment.
    // Read again until a pair is taken after the connections' last ACKs have been routed.
    await vi.waitFor(
      async () => {
        const { stdout } = await sw.exec(['nft', '-j', 'list', 'table', 'ip', 'nanoswitch-forwards'])
        expect(stdout).toContain('"dnat"')
        const items = (JSON.parse(stdout) as { nftables: Array<Record<string, Record<string, unknown>>> }).nftables
        expect(items.find((i) => i.chain?.name === 'forward')?.chain).toMatchObject({ type: 'filter', hook: 'forward', policy: 'accept' })
        const countRules = items.flatMap((i) => (i.rule && i.rule.chain === 'forward' ? [i.rule as { comment: string; expr: Array<Record<string, unknown>> }] : []))
        expect(countRules.map((r) => r.comment)).toEqual(['17002:10.1.0.2:7002', '17002:10.1.0.2:7002', '17003:10.1.0.2:7002', '17003:10.1.0.2:7002'])
        const nftBytes = countRules.slice(0, 2).map((r) => {
          expect(r.expr.some((e) => 'accept' in e || 'drop' in e || 'jump' in e || 'goto' in e)).toBe(false)
          return (r.expr.find((e) => 'counter' in e)!.counter as { bytes: number }).bytes
        })
        const now = (await kernel.counters()).get('17002:10.1.0.2:7002')!
        expect(nftBytes).toEqual([now.bytesIn, now.bytesOut])
      },
      { timeout: 10_000, interval: 100 },
    )
    await kernel.destroy()
    await kernel.destroy() // gone already: destroy does not fail
    expect((await sw.exec(['nft', 'list', 'tables'])).stdout).not.toContain('nanoswitch-forwards')
    echo.close()
  })

  it('closes the client when the VM refuses, and counts it', async () => {
    const forward = await TcpForward.start({ ...parseForward('17001:10.1.0.2:7999'), netns: sw.name, logger })
    const client = await connectTcp({ netns: outside.name, host: '192.0.2.1', port: 17001 })
    await new Promise((resolve) => client.once('close', resolve))
    expect(forward.counters().failed).toBe(1)
    await forward.stop()
  })

  it('proxies SOCKS5 CONNECT to a VM on the bridge, and refuses targets outside it', async () => {
    const echo = await listenTcp({ netns: vm.name, host: '10.1.0.2', port: 7001 }, (s) => s.pipe(s))
    const socks = await SocksServer.start({ netns: sw.name, port: 1080, allow: ['10.1.0.0/24'], logger })
    const connect = async (target: number[], port: number) => {
      const c = await connectTcp({ netns: outside.name, host: '192.0.2.1', port: 1080 })
      c.write(Buffer.from([5, 1, 0]))
      expect([...(await read(c, 2))]).toEqual([5, 0])
      c.write(Buffer.from([5, 1, 0, 1, ...target, port >> 8, port & 255]))
      return { c, reply: await read(c, 10) }
    }
    const ok = await connect([10, 1, 0, 2], 7001)
    expect(ok.reply[1]).toBe(REPLY.succeeded)
    const echoed = read(ok.c, 5)
    ok.c.write('hello')
    expect((await echoed).toString()).toBe('hello')
    ok.c.destroy()
    const denied = await connect([192, 0, 2, 2], 22)
    expect(denied.reply[1]).toBe(REPLY.notAllowed)
    const refused = await connect([10, 1, 0, 2], 7998)
    expect(refused.reply[1]).toBe(REPLY.connectionRefused)
    expect(socks.counters()).toEqual({ connections: 1 }) // the refused CONNECT reached nothing
    await socks.stop()
    echo.close()
  })
})
