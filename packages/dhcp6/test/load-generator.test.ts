// The relay-mode load generator (the benchmark's client) against our server: whole
// Solicit-Advertise-Request-Reply exchanges through Relay-Forward/Relay-Reply, the link-address
// picking the subnet, the interface-id coming back, and clients refused once the pool is empty.
import { afterAll, describe, expect, it } from 'vitest'
import { cleanupAll, isRoot } from '@lab/testkit'
import { DhcpV6Server, LoadGenerator6, type LoadGenerator6Options, type LoadRun6Options } from '../src/index.js'
import { pair } from './helpers.js'

afterAll(() => cleanupAll())

/** One run of a fresh generator: the relay's port is free again when it returns. */
async function relayLoad(options: LoadGenerator6Options & LoadRun6Options) {
  const generator = await LoadGenerator6.open(options)
  try {
    return await generator.run(options)
  } finally {
    await generator.close()
  }
}

describe.skipIf(!isRoot())('LoadGenerator6 (needs root)', () => {
  it('completes relayed Solicit-Advertise-Request-Reply exchanges against our server, and counts clients refused for want of addresses', async () => {
    const t = await pair('d6load', 'fd00:9::1/64')
    await t.client.exec(['ip', 'addr', 'add', 'fd00:9::2/64', 'dev', 'c0', 'nodad'])
    const server = await DhcpV6Server.start({
      netns: t.server.name,
      interface: 's0',
      subnets: [
        { prefix: 'fd00:9::/64', range: ['fd00:9::10', 'fd00:9::20'] },
        { prefix: 'fd00:2::/64', range: ['fd00:2::100', 'fd00:2::1ff'], dns: ['fd00:2::53'] },
        { prefix: 'fd00:3::/64', range: ['fd00:3::10', 'fd00:3::14'] },
      ],
    })
    try {
      const base = { netns: t.client.name, server: 'fd00:9::1', relayAddress: 'fd00:9::2' }
      const replies: Array<{ mac: string; address: string; interfaceId: unknown; dns: unknown; type: string }> = []
      const exchanges: Array<{ latencyMs: number; advertiseMs: number }> = []
      const result = await relayLoad({
        ...base,
        linkAddress: 'fd00:2::1',
        interfaceId: Buffer.from('port1'),
        clients: 40,
        window: 8,
        onReply: ({ mac, address, reply, relay }) => replies.push({ mac, address, interfaceId: relay.options.get(18), dns: reply.options.get(23), type: reply.type }),
        onExchange: (x) => exchanges.push(x),
      })
      expect(result).toMatchObject({ completed: 40, failed: 0, refused: 0 })
      expect(result.rate).toBeGreaterThan(0)
      expect(exchanges).toHaveLength(40)
      for (const x of exchanges) expect(x.advertiseMs).toBeLessThanOrEqual(x.latencyMs)
      expect(Math.max(...exchanges.map((x) => x.latencyMs))).toBe(result.latencyMs.max)
      expect(new Set(replies.map((r) => r.address)).size).toBe(40)
      expect(new Set(replies.map((r) => r.mac)).size).toBe(40)
      for (const r of replies) {
        expect(r.type).toBe('REPLY')
        expect(r.address).toMatch(/^fd00:2::1[0-9a-f]{2}$/)
        expect(r.interfaceId).toEqual(Buffer.from('port1'))
        expect(r.dns).toEqual(['fd00:2::53'])
      }
      expect(server.counters()).toMatchObject({ relayed: 80, advertises: 40, replies: 40 })

      // Five addresses for eight clients: three are answered NoAddrsAvail.
      const small = await relayLoad({ ...base, linkAddress: 'fd00:3::1', clients: 8, window: 2, duidBase: 1 })
      expect(small).toMatchObject({ completed: 5, refused: 3, failed: 0 })
      expect(server.counters().poolFree['fd00:3::/64']).toEqual({ addresses: 0 })
    } finally {
      await server.stop()
    }
  })

  it('rejects a run after close, and addresses that are not IPv6', async () => {
    const t = await pair('d6loadc', 'fd00:9::1/64')
    await t.client.exec(['ip', 'addr', 'add', 'fd00:9::2/64', 'dev', 'c0', 'nodad'])
    await expect(LoadGenerator6.open({ netns: t.client.name, server: '10.0.0.1', relayAddress: 'fd00:9::2', linkAddress: 'fd00:2::1' })).rejects.toMatchObject({ code: 'LAB_ERR_ARGUMENT', field: 'server' })
    const generator = await LoadGenerator6.open({ netns: t.client.name, server: 'fd00:9::1', relayAddress: 'fd00:9::2', linkAddress: 'fd00:2::1' })
    await generator.close()
    await expect(generator.run({ clients: 1 })).rejects.toMatchObject({ code: 'LAB_ERR_DHCP6_CLOSED' })
  })
})
