// sendThread: replies leave from a worker thread. Relayed clients get their leases (in both
// durability modes, with every acknowledged lease in the file), a client on the link gets its
// broadcast reply, and the option is checked in the API and the configuration file.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { afterAll, describe, expect, it } from 'vitest'
import { TestNetns, cleanupAll, hasCommand, isRoot, vethPair } from '@lab/testkit'
import { ArgumentError } from '@lab/netlink-native'
import { ConfigError, DhcpServer, LoadGenerator, parseConfig, readLeaseFile, type Durability } from '../src/index.js'

/** A logger that keeps what it is given: the server says when it cannot start its send thread. */
function recording(): { logger: pino.Logger; lines: Array<{ level: number; msg: string }> } {
  const lines: Array<{ level: number; msg: string }> = []
  return { lines, logger: pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as { level: number; msg: string }) }) }
}

const subnets = [{ subnet: '10.201.0.0/16', range: ['10.201.0.10', '10.201.0.250'] as [string, string], router: '10.201.0.1', leaseTime: 3600 }]

describe('sendThread option', () => {
  it('is checked by DhcpServer.start and the configuration file', async () => {
    await expect(DhcpServer.start({ interface: 's0', subnets, sendThread: 'yes' as unknown as boolean })).rejects.toMatchObject({ name: ArgumentError.name, field: 'sendThread' })
    expect(parseConfig(JSON.stringify({ interface: 's0', subnets, sendThread: true })).sendThread).toBe(true)
    expect(() => parseConfig(JSON.stringify({ interface: 's0', subnets, sendThread: 1 }))).toThrow(new ConfigError('sendThread', 'expected true or false'))
  })
})

describe.skipIf(!isRoot())('a server with sendThread (needs root)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lab-dhcp4-sendthread-'))
  afterAll(() => {
    cleanupAll()
    rmSync(dir, { recursive: true, force: true })
  })

  for (const durability of ['commit', 'none'] as Durability[]) {
    it(`acknowledges relayed clients with durability '${durability}', every acknowledged lease in the file`, async () => {
      const server = await TestNetns.create('d4st-s')
      const relay = await TestNetns.create('d4st-r')
      await vethPair({ netns: server, ifname: 's0', address: '10.200.0.1/24' }, { netns: relay, ifname: 'r0', address: '10.200.0.2/24' })
      await relay.exec(['ip', 'addr', 'add', '10.201.0.1/16', 'dev', 'r0'])
      await server.exec(['ip', 'route', 'add', '10.201.0.0/16', 'via', '10.200.0.2'])
      const leaseFile = join(dir, `${durability}.jsonl`)
      const { logger, lines } = recording()
      const dhcp = await DhcpServer.start({ netns: server.name, interface: 's0', subnets, leaseFile, durability, sendThread: true, logger })
      try {
        const acked = new Map<string, string>()
        const generator = await LoadGenerator.open({ netns: relay.name, server: '10.200.0.1', giaddr: '10.201.0.1' })
        try {
          const result = await generator.run({ clients: 200, window: 64, onAck: ({ mac, address }) => acked.set(mac, address) })
          expect(result).toMatchObject({ completed: 200, failed: 0, naks: 0 })
        } finally {
          await generator.close()
        }
        const { leases } = await readLeaseFile(leaseFile)
        const bound = new Map(leases.filter((l) => l.state === 'bound').map((l) => [l.mac, l.address]))
        for (const [mac, address] of acked) expect(bound.get(mac), mac).toBe(address)
        expect(acked.size).toBe(200)
        expect(dhcp.counters()).toMatchObject({ acks: 200, withheld: 0 })
        // The worker sent them: no warning that the server fell back to its main thread.
        expect(lines.filter((l) => l.level >= 40)).toEqual([])
      } finally {
        await dhcp.stop()
      }
    })
  }

  it.skipIf(!hasCommand('udhcpc'))('gives a client on the link its lease (broadcast replies from the worker)', async () => {
    const server = await TestNetns.create('d4st-l')
    const client = await TestNetns.create('d4st-c')
    await vethPair({ netns: server, ifname: 's0', address: '10.202.0.1/24' }, { netns: client, ifname: 'eth0' })
    const dhcp = await DhcpServer.start({ netns: server.name, interface: 's0', subnets: [{ subnet: '10.202.0.0/24', range: ['10.202.0.10', '10.202.0.20'], router: '10.202.0.1' }], sendThread: true })
    try {
      // -q: quit once it has a lease; -n: exit with an error if it gets none; -s /bin/true: configure nothing.
      const out = await client.exec(['udhcpc', '-i', 'eth0', '-q', '-n', '-t', '5', '-T', '1', '-s', '/bin/true', '-f'])
      expect(out.stdout + out.stderr).toMatch(/lease of 10\.202\.0\.1\d obtained/)
      expect(dhcp.counters().acks).toBe(1)
    } finally {
      await dhcp.stop()
    }
  })
})
