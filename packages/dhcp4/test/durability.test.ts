// durability: 'commit' | 'none'. 'commit' is covered by the SIGKILL test of lease-db.test.ts and
// the restart test of server.test.ts; here: 'none' writes every acknowledged lease to the file
// (without O_DSYNC) before its ACK leaves, so a killed process loses none of them; the option is
// checked in the API, the configuration file and the CLI.
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import pino from 'pino'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { TestNetns, cleanupAll, isRoot, run, vethPair } from '@lab/testkit'
import { ArgumentError } from '@lab/netlink-native'
import { AddressPool, ConfigError, DhcpServer, LeaseDatabase, LeaseJournal, LoadGenerator, parseConfig, readLeaseFile, type Lease } from '../src/index.js'

const dist = fileURLToPath(new URL('../dist/index.js', import.meta.url))
const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url))
const dirs: string[] = []
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'lab-durability-'))
  dirs.push(d)
  return d
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

const subnets = [{ subnet: '10.201.0.0/16', range: ['10.201.0.10', '10.201.0.250'] as [string, string], router: '10.201.0.1', leaseTime: 3600 }]

describe('durability option', () => {
  it('is checked by DhcpServer.start, the configuration file and the CLI', async () => {
    await expect(DhcpServer.start({ interface: 's0', subnets, durability: 'fast' as 'none' })).rejects.toMatchObject({ name: ArgumentError.name, field: 'durability' })
    expect(parseConfig(JSON.stringify({ interface: 's0', subnets, durability: 'none' })).durability).toBe('none')
    expect(() => parseConfig(JSON.stringify({ interface: 's0', subnets, durability: 'fsync' }))).toThrow(new ConfigError('durability', 'expected "commit" or "none"'))
    if (!existsSync(cli)) return
    const bad = await run(['node', cli, 'server', '--interface', 's0', '--subnet', '10.201.0.0/16', '--range', '10.201.0.10-10.201.0.250', '--durability', 'fast'], { allowFailure: true })
    expect(bad.code).toBe(2)
    expect(bad.stderr).toBe("lab-dhcp4: --durability fast: expected commit or none (see lab-dhcp4 --help)\n")
  })

  it("a journal with sync: false writes what writeNow() is given before it returns, and by itself at the next turn", async () => {
    const path = join(tempDir(), 'leases.jsonl')
    const { journal } = await LeaseJournal.open(path, { sync: false })
    const lease = (n: number): Lease => ({ address: `10.9.0.${n}`, client: `c${n}`, mac: '02:00:00:00:00:01', state: 'bound', expiresAt: Date.now() + 60_000, updatedAt: Date.now() })
    journal.record(lease(1))
    expect(journal.writeNow()).toBe(true)
    expect((JSON.parse(readFileSync(path, 'utf8')) as Lease).address).toBe('10.9.0.1')
    // Not asked to: written at the next turn of the event loop all the same.
    journal.record(lease(2))
    await new Promise((r) => setImmediate(r))
    expect(readFileSync(path, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as Lease).address)).toEqual(['10.9.0.1', '10.9.0.2'])
    expect(journal.counters()).toMatchObject({ records: 2, commits: 2, failures: 0 })
    await journal.close()
  })

  it.skipIf(!existsSync(dist))("'none' keeps every acknowledged lease when the process is killed with SIGKILL mid-stream", async () => {
    const path = join(tempDir(), 'leases.jsonl')
    const child = spawn(process.execPath, ['--input-type=module', '-e', `
      import { AddressPool, LeaseDatabase, clientKey } from ${JSON.stringify(dist)}
      const db = await LeaseDatabase.open({ pool: new AddressPool({ subnet: '10.2.0.0/16', range: ['10.2.0.1', '10.2.255.254'] }), journalPath: ${JSON.stringify(path)}, journal: { sync: false } })
      let pending = []
      for (let i = 0; ; i++) {
        const client = clientKey('02:00:00:00:' + ((i >> 8) & 255).toString(16).padStart(2, '0') + ':' + (i & 255).toString(16).padStart(2, '0'))
        const address = db.choose(client)
        db.bind(client, 'mac', address, 3600000)
        // As the server does with durability 'none': acknowledged once written (a group at a time).
        if (i % 7 === 6) {
          if (!db.writeNow()) await db.durable()
          process.stdout.write(pending.concat('acked ' + client + ' ' + address + '\\n').join(''))
          pending = []
          if (i % 70 === 69) await new Promise((r) => setImmediate(r))
        } else pending.push('acked ' + client + ' ' + address + '\\n')
      }
    `], { stdio: ['ignore', 'pipe', 'inherit'] })
    const acked: string[] = []
    let buffered = ''
    await new Promise<void>((resolve) => {
      child.stdout.on('data', (d: Buffer) => {
        buffered += d.toString()
        const lines = buffered.split('\n')
        buffered = lines.pop()!
        for (const l of lines) acked.push(l)
        if (acked.length >= 300 && child.exitCode === null) {
          child.kill('SIGKILL')
          resolve()
        }
      })
    })
    await new Promise((r) => child.once('exit', r))
    const db = await LeaseDatabase.open({ pool: new AddressPool({ subnet: '10.2.0.0/16', range: ['10.2.0.1', '10.2.255.254'] }), journalPath: path })
    for (const line of acked) {
      const [, client, address] = line.split(' ')
      expect(db.leaseOf(client!)?.address, line).toBe(address)
    }
    expect(db.damagedRecords).toBe(0)
    await db.close()
  })
})

describe.skipIf(!isRoot())("a server with durability 'none' (needs root)", () => {
  afterAll(() => cleanupAll())

  it('acknowledges relayed clients and has every acknowledged lease in its lease file', async () => {
    const server = await TestNetns.create('d4dur-s')
    const relay = await TestNetns.create('d4dur-r')
    await vethPair({ netns: server, ifname: 's0', address: '10.200.0.1/24' }, { netns: relay, ifname: 'r0', address: '10.200.0.2/24' })
    await relay.exec(['ip', 'addr', 'add', '10.201.0.1/16', 'dev', 'r0'])
    await server.exec(['ip', 'route', 'add', '10.201.0.0/16', 'via', '10.200.0.2'])
    const leaseFile = join(tempDir(), 'leases.jsonl')
    const dhcp = await DhcpServer.start({ netns: server.name, interface: 's0', subnets, leaseFile, durability: 'none', logger: pino({ level: 'silent' }) })
    try {
      const acked = new Map<string, string>()
      const generator = await LoadGenerator.open({ netns: relay.name, server: '10.200.0.1', giaddr: '10.201.0.1' })
      try {
        const result = await generator.run({ clients: 200, window: 32, onAck: ({ mac, address }) => acked.set(mac, address) })
        expect(result).toMatchObject({ completed: 200, failed: 0, naks: 0 })
      } finally {
        await generator.close()
      }
      // Written before the ACKs left (the server is still running: nothing was flushed by a stop).
      const { leases } = await readLeaseFile(leaseFile)
      const bound = new Map(leases.filter((l) => l.state === 'bound').map((l) => [l.mac, l.address]))
      expect(bound.size).toBe(200)
      for (const [mac, address] of acked) expect(bound.get(mac), mac).toBe(address)
      expect(dhcp.counters()).toMatchObject({ acks: 200, withheld: 0, journal: { records: 200, failures: 0 } })
    } finally {
      await dhcp.stop()
    }
  })
})
