import { spawn } from 'node:child_process'
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { AddressPool, LeaseDatabase, clientKey } from '../src/index.js'

const dirs: string[] = []
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'lab-leases-'))
  dirs.push(d)
  return d
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

function pool() {
  return new AddressPool({ subnet: '10.1.0.0/24', range: ['10.1.0.10', '10.1.0.14'], exclude: ['10.1.0.12'], reservations: { '02:00:00:00:00:99': '10.1.0.50' } })
}

const a = clientKey('02:00:00:00:00:0a')
const b = clientKey('02:00:00:00:00:0b')
const c = clientKey('02:00:00:00:00:0c', Buffer.from([1, 2, 0, 0, 0, 0, 12]))
const HOUR = 3_600_000

describe('lease database', () => {
  it('chooses as RFC 2131 4.3.1 says: reservation, previous, requested, unused, oldest expired', async () => {
    let now = 1_000_000
    const db = await LeaseDatabase.open({ pool: pool(), now: () => now })
    expect(db.choose(clientKey('02:00:00:00:00:99'))).toBe('10.1.0.50')
    expect(db.choose(a)).toBe('10.1.0.10')
    db.bind(a, '02:00:00:00:00:0a', '10.1.0.10', HOUR)
    expect(db.choose(a, '10.1.0.13')).toBe('10.1.0.10') // its current address wins over the requested one
    expect(db.choose(b, '10.1.0.13')).toBe('10.1.0.13')
    expect(db.choose(b, '10.1.0.10')).toBe('10.1.0.11') // held by a: not given away
    expect(db.choose(b, '10.1.0.12')).toBe('10.1.0.11') // excluded
    expect(db.choose(b, '10.1.0.50')).toBe('10.1.0.11') // reserved for another client
    db.bind(b, '02:00:00:00:00:0b', '10.1.0.11', HOUR)
    db.bind(c, '02:00:00:00:00:0c', '10.1.0.13', 2 * HOUR)
    const d = clientKey('02:00:00:00:00:0d')
    db.bind(d, '02:00:00:00:00:0d', '10.1.0.14', HOUR)
    expect(db.choose(clientKey('02:00:00:00:00:0e'))).toBeUndefined() // exhausted
    now += 90 * 60_000 // a, b and d have expired, c has not
    const e = clientKey('02:00:00:00:00:0e')
    expect(db.choose(e)).toBe('10.1.0.10') // expired longest ago (all three expired at once: lowest first)
    expect(db.choose(a)).toBe('10.1.0.10') // a still gets its own back
    expect(db.available('10.1.0.13', e)).toBe(false)
  })

  it('gives a released address back to its client, and quarantines a declined one', async () => {
    let now = 0
    const db = await LeaseDatabase.open({ pool: pool(), now: () => now, declineQuarantineMs: 600_000 })
    db.bind(a, 'mac-a', '10.1.0.10', HOUR)
    expect(db.release(a, '10.1.0.10')).toMatchObject({ client: a, state: 'released' })
    expect(db.release(b, '10.1.0.10')).toBeUndefined()
    expect(db.choose(a)).toBe('10.1.0.10')
    db.bind(b, 'mac-b', '10.1.0.11', HOUR)
    expect(db.decline(b, '10.1.0.11')).toMatchObject({ client: '', state: 'declined' })
    expect(db.choose(b)).toBe('10.1.0.13')
    expect(db.available('10.1.0.11', clientKey('x'))).toBe(false)
    now += 600_001
    expect(db.available('10.1.0.11', clientKey('x'))).toBe(true)
  })

  it('reads its journal back, skipping a line torn by a crash, and compacts it', async () => {
    const path = join(tempDir(), 'leases.jsonl')
    const db = await LeaseDatabase.open({ pool: pool(), journalPath: path })
    db.bind(a, 'mac-a', '10.1.0.10', HOUR)
    db.bind(b, 'mac-b', '10.1.0.11', HOUR)
    for (let i = 0; i < 20; i++) db.bind(a, 'mac-a', '10.1.0.10', HOUR)
    await db.durable()
    // Group commit: 22 records, far fewer syncs.
    expect(db.journalCounters()).toMatchObject({ records: 22 })
    expect(db.journalCounters()!.commits).toBeLessThan(5)
    await db.close()
    appendFileSync(path, '{"address":"10.1.0.13","cli')
    const again = await LeaseDatabase.open({ pool: pool(), journalPath: path })
    expect(again.damagedRecords).toBe(1)
    expect(again.leaseOf(a)?.address).toBe('10.1.0.10')
    expect(again.leaseOf(b)?.address).toBe('10.1.0.11')
    await again.compact()
    expect(readFileSync(path, 'utf8').trim().split('\n')).toHaveLength(2)
    await again.close()
    const compacted = await LeaseDatabase.open({ pool: pool(), journalPath: path })
    expect(compacted.list().map((l) => `${l.client} ${l.address} ${l.state}`).sort()).toEqual([`${a} 10.1.0.10 bound`, `${b} 10.1.0.11 bound`])
    await compacted.close()
  })

  const dist = fileURLToPath(new URL('../dist/index.js', import.meta.url))
  it.skipIf(!existsSync(dist))('keeps every acknowledged lease when the process is killed with SIGKILL mid-stream', async () => {
    const path = join(tempDir(), 'leases.jsonl')
    const child = spawn(process.execPath, ['--input-type=module', '-e', `
      import { AddressPool, LeaseDatabase, clientKey } from ${JSON.stringify(dist)}
      const db = await LeaseDatabase.open({ pool: new AddressPool({ subnet: '10.2.0.0/16', range: ['10.2.0.1', '10.2.255.254'] }), journalPath: ${JSON.stringify(path)} })
      let pending = []
      for (let i = 0; ; i++) {
        const client = clientKey('02:00:00:00:' + ((i >> 8) & 255).toString(16).padStart(2, '0') + ':' + (i & 255).toString(16).padStart(2, '0'))
        const address = db.choose(client)
        db.bind(client, 'mac', address, 3600000)
        // As the server does: acknowledged only once durable (a whole group at a time).
        if (i % 7 === 6) {
          await db.durable()
          process.stdout.write(pending.concat('acked ' + client + ' ' + address + '\\n').join(''))
          pending = []
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
    expect(db.damagedRecords).toBeLessThanOrEqual(1)
    await db.close()
  })
})

describe('lease database over several pools', () => {
  const pools = () => [new AddressPool({ subnet: '10.1.0.0/24', range: ['10.1.0.10', '10.1.0.12'] }), new AddressPool({ subnet: '10.9.0.0/16', range: ['10.9.0.10', '10.9.0.11'], reservations: { '02:00:00:00:00:0b': '10.9.0.11' } })]

  it('hands out from the pool asked for, and counts what is free in each', async () => {
    let now = 0
    const db = await LeaseDatabase.open({ pools: pools(), now: () => now, offerHoldMs: 1000 })
    const [p1, p2] = db.pools as [AddressPool, AddressPool]
    expect(db.choose(a, undefined, p2)).toBe('10.9.0.10')
    expect(db.choose(b, undefined, p2)).toBe('10.9.0.11') // its reservation
    expect(db.choose(a, '10.9.0.10', p1)).toBe('10.1.0.10') // a requested address of another subnet is not taken
    expect(db.poolOf('10.9.0.11')).toBe(p2)
    expect(db.free(p1)).toBe(3)
    db.bind(a, 'mac-a', '10.1.0.10', HOUR)
    db.offer(b, 'mac-b', '10.1.0.11')
    expect(db.free(p1)).toBe(1)
    expect(db.free(p2)).toBe(2)
    now += 2000
    expect(db.free(p1)).toBe(2) // the offer lapsed
  })

  it('sweeps lapsed offers and expired bindings, keeping the binding for its client', async () => {
    let now = 0
    const db = await LeaseDatabase.open({ pools: pools(), now: () => now, offerHoldMs: 1000 })
    db.bind(a, 'mac-a', '10.1.0.10', 5000)
    db.offer(b, 'mac-b', '10.1.0.11')
    expect(db.sweep()).toEqual({ expired: [], lapsedOffers: 0 })
    now = 2000
    expect(db.sweep().lapsedOffers).toBe(1)
    expect(db.at('10.1.0.11')).toBeUndefined()
    now = 6000
    const swept = db.sweep()
    expect(swept.expired.map((l) => l.address)).toEqual(['10.1.0.10'])
    expect(db.at('10.1.0.10')?.state).toBe('expired')
    expect(db.choose(a)).toBe('10.1.0.10') // sticky after expiry
    expect(db.available('10.1.0.10', b)).toBe(true) // and free for others
    expect(db.free(db.pool)).toBe(3)
  })
})
