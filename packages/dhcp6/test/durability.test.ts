// durability: 'commit' | 'none', as @lab/dhcp4's. 'commit' (the default) is covered by the kill -9
// test of relay.test.ts (which runs both modes); here: the option is checked in the API and the
// CLI, and a server with 'none' has every binding it acknowledged in its lease file (written
// without O_DSYNC before the Reply leaves) while it still runs, as does one with 'commit'.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { cleanupAll, isRoot, run } from '@lab/testkit'
import { ArgumentError } from '@lab/netlink-native'
import { readBindingFile, DhcpV6Server, LoadGenerator6, type Durability, type Lease6 } from '../src/index.js'
import { pair } from './helpers.js'

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url))

afterAll(() => cleanupAll())

describe('durability option', () => {
  it('is checked by DhcpV6Server.start and the CLI', async () => {
    await expect(DhcpV6Server.start({ interface: 's0', subnets: [{ prefix: 'fd00:2::/64', range: ['fd00:2::10', 'fd00:2::20'] }], durability: 'fast' as 'none' })).rejects.toMatchObject({ name: ArgumentError.name, field: 'durability' })
    if (!existsSync(cli)) return
    const bad = await run(['node', cli, 'server', '--interface', 's0', '--prefix', 'fd00:2::/64', '--range', 'fd00:2::10-fd00:2::20', '--durability', 'fast'], { allowFailure: true })
    expect(bad.code).toBe(2)
    expect(bad.stderr).toBe('lab-dhcp6: --durability fast: expected commit or none (see lab-dhcp6 --help)\n')
  })
})

describe.skipIf(!isRoot())('a server with either durability (needs root)', () => {
  it.each<Durability>(['none', 'commit'])('%s: every binding it acknowledged to relayed clients is in its lease file while it runs', async (durability) => {
    const t = await pair(`d6dur${durability[0]}`, 'fd00:9::1/64')
    await t.client.exec(['ip', 'addr', 'add', 'fd00:9::2/64', 'dev', 'c0', 'nodad'])
    const leaseFile = join(t.dir, 'leases6')
    const server = await DhcpV6Server.start({ netns: t.server.name, interface: 's0', subnets: [{ prefix: 'fd00:2::/64', range: ['fd00:2::1000', 'fd00:2::1fff'] }], leaseFile, durability })
    try {
      const acked = new Map<string, string>()
      const generator = await LoadGenerator6.open({ netns: t.client.name, server: 'fd00:9::1', relayAddress: 'fd00:9::2', linkAddress: 'fd00:2::1' })
      try {
        const result = await generator.run({ clients: 300, window: 48, onReply: ({ mac, address }) => acked.set(mac, address) })
        expect(result).toMatchObject({ completed: 300, failed: 0, refused: 0 })
      } finally {
        await generator.close()
      }
      // Read before stop(): nothing was written by a stop.
      const { leases } = readBindingFile<Lease6>(leaseFile)
      const bound = new Map(leases.filter((l) => l.state === 'bound').map((l) => [l.mac, l.address]))
      expect(acked.size).toBe(300)
      for (const [mac, address] of acked) expect(bound.get(mac), mac).toBe(address)
      expect(server.counters()).toMatchObject({ replies: 300, withheld: 0, journal: { records: 300, failures: 0 } })
    } finally {
      await server.stop()
    }
  })
})
