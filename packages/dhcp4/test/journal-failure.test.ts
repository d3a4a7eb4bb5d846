// A lease journal on a disk that fills up and is freed again: a small tmpfs mounted on a temporary
// directory (unmounted after, also on failure). Writes fail with the kernel's own ENOSPC.
import { appendFileSync, closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { TestNetns, cleanupAll, deferCleanup, isRoot, runSync, vethPair } from '@lab/testkit'
import { AddressPool, DhcpClient, DhcpServer, LeaseDatabase, clientKey, healthChannel, readLeaseFile, type DhcpServerHealth, type HealthEvent } from '../src/index.js'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'

const PAGE = 4096

/** A tmpfs of `bytes` on a fresh directory, unmounted and removed at cleanup. */
function smallDisk(bytes: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'lab-dhcp4-full-'))
  runSync(['mount', '-t', 'tmpfs', '-o', `size=${bytes},mode=0700`, 'tmpfs', dir])
  deferCleanup(`umount ${dir}`, () => {
    // Lazy: a file still open on it (a test that failed midway) must not keep the mount.
    runSync(['umount', '-l', dir], true)
    rmSync(dir, { recursive: true, force: true })
  })
  return dir
}

/**
 * Fills the disk. tmpfs hands out whole pages, so an append that fits in the journal's last page
 * would still succeed: the journal is first padded with empty lines (which it skips when read)
 * to a page boundary, so that its next record needs a page the disk no longer has.
 */
function fill(dir: string, journal: string): string {
  const size = statSync(journal).size
  if (size % PAGE) appendFileSync(journal, '\n'.repeat(PAGE - (size % PAGE)))
  const filler = join(dir, 'filler')
  const fd = openSync(filler, 'w')
  try {
    for (;;) writeSync(fd, Buffer.alloc(PAGE, 0x2e))
  } catch (error) {
    if ((error as { code?: string }).code !== 'ENOSPC') throw error
  } finally {
    closeSync(fd)
  }
  return filler
}

async function until(what: string, ok: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

const unhandled: unknown[] = []
const onUnhandled = (reason: unknown) => unhandled.push(reason)

describe.skipIf(!isRoot())('a lease journal on a disk that fills up (needs root: mounts a tmpfs)', () => {
  afterEach(() => {
    process.off('unhandledRejection', onUnhandled)
  })
  afterAll(() => cleanupAll())

  it('keeps failed records queued, tries again with a backoff, and recovers by itself; a compaction on a full disk rejects nowhere', async () => {
    process.on('unhandledRejection', onUnhandled)
    const dir = smallDisk(64 * 1024)
    const path = join(dir, 'leases.jsonl')
    const pool = new AddressPool({ subnet: '10.5.0.0/16', range: ['10.5.0.10', '10.5.255.250'] })
    const db = await LeaseDatabase.open({ pool, journalPath: path, journal: { retryInitialMs: 20, retryMaxMs: 200 } })
    const a = clientKey('02:00:00:00:00:0a')
    db.bind(a, 'mac-a', '10.5.0.10', 3_600_000)
    await db.durable()
    const filler = fill(dir, path)
    // Renewals of one client: the journal grows past 1000 records of 1 live lease, which asks for
    // a compaction, on a disk with no room for it.
    for (let i = 0; i < 1100; i++) db.bind(a, 'mac-a', '10.5.0.10', 3_600_000)
    await expect(db.durable()).rejects.toMatchObject({ code: 'ENOSPC' })
    expect(db.journalFailure).toMatchObject({ code: 'ENOSPC' })
    const b = clientKey('02:00:00:00:00:0b')
    db.bind(b, 'mac-b', '10.5.0.11', 3_600_000)
    await expect(db.durable()).rejects.toMatchObject({ code: 'ENOSPC' }) // at once, while failing
    expect(db.durableBinding(b, '10.5.0.11')).toBeUndefined()
    expect(db.durableBinding(a, '10.5.0.10')).toMatchObject({ state: 'bound' })
    const failures = db.journalCounters()!.failures
    await until('retries', () => db.journalCounters()!.failures >= failures + 2)

    rmSync(filler)
    await until('recovery', () => db.journalFailure === undefined)
    await db.durable()
    expect(db.durableBinding(b, '10.5.0.11')).toMatchObject({ state: 'bound' })
    await db.close()
    const { leases, damaged } = await readLeaseFile(path)
    expect(damaged).toBe(0) // nothing torn: the backlog was compacted, or finished where it was cut short
    expect(leases.map((l) => `${l.client} ${l.address} ${l.state}`).sort()).toEqual([`${a} 10.5.0.10 bound`, `${b} 10.5.0.11 bound`])
    expect(unhandled).toEqual([])
  })

  it('a server stops making new bindings, says it is unhealthy, serves durable leases, and recovers', async () => {
    process.on('unhandledRejection', onUnhandled)
    const dir = smallDisk(64 * 1024)
    const leaseFile = join(dir, 'leases.jsonl')
    const srv = await TestNetns.create('d4full-s')
    const cl = await TestNetns.create('d4full-c')
    // Two clients on one segment: two veths into a bridge of the server's.
    await vethPair({ netns: srv, ifname: 's0' }, { netns: cl, ifname: 'c0' })
    await vethPair({ netns: srv, ifname: 's1' }, { netns: cl, ifname: 'c1' })
    await srv.exec(['ip', 'link', 'add', 'sbr', 'type', 'bridge'])
    for (const l of ['s0', 's1']) await srv.exec(['ip', 'link', 'set', l, 'master', 'sbr', 'up'])
    await srv.exec(['ip', 'addr', 'add', '10.6.0.1/24', 'dev', 'sbr'])
    await srv.exec(['ip', 'link', 'set', 'sbr', 'up'])
    const logged: Array<{ level: string; msg?: string }> = []
    const logger = {
      debug: () => undefined,
      info: (_o: unknown, msg?: string) => void logged.push({ level: 'info', msg }),
      warn: (_o: unknown, msg?: string) => void logged.push({ level: 'warn', msg }),
      error: (_o: unknown, msg?: string) => void logged.push({ level: 'error', msg }),
    }
    const server = await DhcpServer.start({ netns: srv.name, interface: 'sbr', subnets: [{ subnet: '10.6.0.0/24', range: ['10.6.0.10', '10.6.0.50'], leaseTime: 3600 }], leaseFile, logger })
    deferCleanup('server', () => void server.stop())
    const changes: DhcpServerHealth[] = []
    const published: HealthEvent[] = []
    server.on('health', (h) => changes.push(h))
    const onPublish = (m: unknown) => void published.push(m as HealthEvent)
    subscribe('lab:dhcp4:health', onPublish)
    deferCleanup('unsubscribe', () => void unsubscribe('lab:dhcp4:health', onPublish))
    const fast = { retransmit: { initialMs: 200, maxMs: 800, jitterMs: 0 } }

    // Client A gets its lease while the disk has room; its lease file makes a restart INIT-REBOOT.
    const aLeaseFile = join(tmpdir(), `lab-dhcp4-a-${process.pid}.lease`)
    deferCleanup('a lease file', () => rmSync(aLeaseFile, { force: true }))
    const a1 = await DhcpClient.start({ interface: 'c0', netns: cl.name, leaseFile: aLeaseFile, ...fast })
    const aLease = await a1.waitForLease(10_000)
    await a1.stop()
    expect(server.health).toEqual({ ok: true })

    const filler = fill(dir, leaseFile)
    // Client B needs a new binding: its REQUEST is bound in memory, the write fails, the ACK is
    // withheld and every later attempt goes unanswered.
    const b = await DhcpClient.start({ interface: 'c1', netns: cl.name, ...fast })
    deferCleanup('client b', () => void b.stop())
    await until('unhealthy', () => !server.health.ok)
    expect(server.health).toMatchObject({ ok: false, reason: expect.stringContaining('ENOSPC') })
    await until('withheld answers', () => server.counters().withheld >= 3)
    expect(b.lease).toBeUndefined()
    // A restarted client A asks for its durable lease again (INIT-REBOOT) and gets it.
    const acks = server.counters().acks
    const a2 = await DhcpClient.start({ interface: 'c0', netns: cl.name, leaseFile: aLeaseFile, ...fast })
    deferCleanup('client a', () => void a2.stop())
    expect((await a2.waitForLease(10_000)).address).toBe(aLease.address)
    expect(server.counters().acks).toBe(acks + 1)
    expect(server.health.ok).toBe(false)
    expect(b.lease).toBeUndefined()

    rmSync(filler)
    const bLease = await b.waitForLease(20_000)
    expect(server.health).toEqual({ ok: true })
    expect(changes).toEqual([{ ok: false, reason: expect.stringContaining('ENOSPC') }, { ok: true }])
    expect(published.map((p) => p.health.ok)).toEqual([false, true])
    expect(published[0]).toMatchObject({ interfaces: ['sbr'], netns: srv.name })
    expect(logged.filter((l) => l.level === 'error')).toHaveLength(1) // one error for the whole fault
    await server.stop()
    const { leases } = await readLeaseFile(leaseFile)
    expect(leases.filter((l) => l.state === 'bound').map((l) => l.address).sort()).toEqual([aLease.address, bLease.address].sort())
    expect(healthChannel.name).toBe('lab:dhcp4:health')
    expect(unhandled).toEqual([])
  })
})
