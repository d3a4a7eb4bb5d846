import { existsSync, readdirSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TestNetns, cleanupAll, deferCleanup, isRoot, runSync, vethPair } from '@lab/testkit'
import { ArgumentError, connectTcp, listenTcp } from '@lab/netlink-native'
import { Slots } from '../src/index.js'
import { attachGuest, endQuietly, connectsWithin, type Guest } from './guest.js'

/** Whether a TCP connection gets through within 2 s. */
const reaches = (netns: string, host: string, port: number) => connectsWithin(netns, host, port, 2000)

describe.skipIf(!isRoot())('egress policy per slot (needs root)', () => {
  let host: TestNetns
  let internet: TestNetns
  let slots: Slots
  let guest: Guest
  const servers: Array<{ close(): void }> = []

  beforeAll(async () => {
    host = await TestNetns.create('egr-host')
    internet = await TestNetns.create('egr-net')
    await vethPair({ netns: host, ifname: 'up0', address: '192.0.2.1/24' }, { netns: internet, ifname: 'w0', address: '192.0.2.2/24' })
    // A second "internet" address, and a resolver.
    await internet.exec(['ip', 'addr', 'add', '192.0.2.3/24', 'dev', 'w0'])
    await internet.exec(['ip', 'addr', 'add', '192.0.2.53/24', 'dev', 'w0'])
    await host.exec(['ip', 'route', 'add', 'default', 'via', '192.0.2.2'])
    const prefix = `${host.name}-e`
    deferCleanup('egress slot namespaces', () => {
      if (!existsSync('/run/netns')) return
      for (const n of readdirSync('/run/netns')) if (n.startsWith(prefix)) runSync(['ip', 'netns', 'del', n], true)
    })
    slots = await Slots.open({ hostNetns: host.name, netnsPrefix: prefix, vethPrefix: 'ev', resolver: '192.0.2.53' })
    for (const address of ['192.0.2.2', '192.0.2.3']) servers.push(await listenTcp({ netns: internet.name, host: address, port: 8080 }, endQuietly))
    servers.push(await listenTcp({ netns: internet.name, host: '192.0.2.53', port: 53 }, endQuietly))
  })
  afterAll(async () => {
    guest?.stop()
    for (const s of servers) s.close()
    await slots?.flush()
    await slots?.settled()
    await slots?.close()
    cleanupAll()
  })

  it('deny keeps the guest off the internet but lets it reach the resolver; setEgress changes it at once', async () => {
    const slot = await slots.add({ egress: 'deny' })
    guest = await attachGuest(slot)
    const from = guest.netns.name
    expect(await reaches(from, '192.0.2.2', 8080)).toBe(false)
    expect(await reaches(from, '192.0.2.53', 53)).toBe(true)
    expect(slots.egress(slot.index)).toBe('deny')

    await slots.setEgress(slot.index, { allow: ['192.0.2.2/32'] })
    expect(await reaches(from, '192.0.2.2', 8080)).toBe(true)
    expect(await reaches(from, '192.0.2.3', 8080)).toBe(false)

    await slots.setEgress(slot.index, { deny: ['192.0.2.2'] })
    expect(await reaches(from, '192.0.2.2', 8080)).toBe(false)
    expect(await reaches(from, '192.0.2.3', 8080)).toBe(true)

    await slots.setEgress(slot.index, 'allow')
    expect(await reaches(from, '192.0.2.2', 8080)).toBe(true)
    expect(slots.egress(slot.index)).toBe('allow')
    // One chain per slot with a policy, none left behind by 'allow'.
    const chains = await host.exec(['nft', 'list', 'table', 'ip', 'lab-slots'])
    expect(chains.stdout).not.toMatch(/chain egress_/)
  }, 60_000)

  it('rate: a transfer into a limited slot stays within 10% of the limit; the tbf is on the host veth', async () => {
    const slot = await slots.add({ rate: '8mbit' })
    const limited = await attachGuest(slot)
    const bytes = 2_000_000 // 2 s at 8 Mbit/s
    const server = await listenTcp({ netns: internet.name, host: '192.0.2.2', port: 9090 }, (s) => {
      // The guest's end goes away with its namespace: a reset here afterwards is expected.
      s.on('error', () => undefined)
      s.end(Buffer.alloc(bytes))
    })
    try {
      const qdiscs = JSON.parse((await host.exec(['tc', '-j', 'qdisc', 'show', 'dev', slot.vethName])).stdout) as Array<{ kind: string }>
      expect(qdiscs.map((q) => q.kind)).toContain('tbf')
      const socket = await connectTcp({ netns: limited.netns.name, host: '192.0.2.2', port: 9090 })
      // Measured from the first byte: the handshake and the bucket's initial burst are not the rate.
      const { received, seconds } = await new Promise<{ received: number; seconds: number }>((resolve, reject) => {
        let received = 0
        let first: bigint | undefined
        let firstBytes = 0
        socket.on('data', (d: Buffer) => {
          if (first === undefined) {
            first = process.hrtime.bigint()
            firstBytes = d.length
          }
          received += d.length
        })
        socket.on('end', () => resolve({ received: received - firstBytes, seconds: Number(process.hrtime.bigint() - first!) / 1e9 }))
        socket.on('error', reject)
      })
      socket.destroy()
      const bitsPerSecond = (received * 8) / seconds
      expect(bitsPerSecond).toBeLessThan(8e6 * 1.1)
      expect(bitsPerSecond).toBeGreaterThan(8e6 * 0.9)
    } finally {
      server.close()
      limited.stop()
    }
  }, 60_000)

  it('rejects a malformed policy before touching the kernel', async () => {
    await expect(slots.add({ egress: 'maybe' as never })).rejects.toBeInstanceOf(ArgumentError)
    await expect(slots.setEgress(1, { allow: ['10.0.0.300/8'] })).rejects.toMatchObject({ field: 'egress.allow[0]' })
    await expect(slots.add({ rate: 'fast' })).rejects.toMatchObject({ field: 'rate' })
  })
})
