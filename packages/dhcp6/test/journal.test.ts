// The binding journal: records read back after close and after a crash (a torn line, a write that
// had not finished while a later one had), files of @lab/dhcp4's journal read and continued,
// group commits in flight together settling in order, compaction, the room made ahead, and a
// disk that fills up and is freed again (a small tmpfs, unmounted after).
import { appendFileSync, closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { cleanupAll, deferCleanup, isRoot, runSync } from '@lab/testkit'
import { LeaseJournal, readLeaseFile } from '@lab/dhcp4'
import { BindingJournal, readBindingFile } from '../src/index.js'

interface Rec {
  address: string
  client: string
  n: number
}

const rec = (i: number, n = 0): Rec => ({ address: `fd00::${i.toString(16)}`, client: `c${i}`, n })

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'lab-dhcp6-journal-'))
  deferCleanup(`rm ${dir}`, () => rmSync(dir, { recursive: true, force: true }))
  return dir
}

afterAll(() => cleanupAll())

describe('binding journal', () => {
  it('reads back what it made durable, stops at the zeros after the records, and goes on after them', async () => {
    const path = join(tempDir(), 'leases')
    const { journal, leases } = BindingJournal.open<Rec>(path)
    expect(leases).toEqual([])
    for (let i = 0; i < 10; i++) journal.record(rec(i))
    await journal.durable()
    journal.record(rec(3, 1))
    await journal.close()
    // Zero-filled room after the records: the file is larger than they are.
    const data = readFileSync(path)
    const text = data.toString('utf8', 0, data.indexOf(0))
    expect(text.split('\n').filter(Boolean)).toHaveLength(11)
    expect(data.length).toBeGreaterThan(text.length)
    const read = readBindingFile<Rec>(path)
    expect(read).toMatchObject({ records: 11, damaged: 0, end: text.length })
    expect(read.leases.find((l) => l.address === 'fd00::3')?.n).toBe(1)
    const again = BindingJournal.open<Rec>(path)
    expect(again.leases).toHaveLength(10)
    again.journal.record(rec(20))
    await again.journal.close()
    expect(readBindingFile<Rec>(path)).toMatchObject({ records: 12, damaged: 0 })
  })

  it('drops a torn line and what a later write put after an unfinished one; continues where the whole records end', async () => {
    const path = join(tempDir(), 'leases')
    const whole = `${JSON.stringify(rec(1))}\n${JSON.stringify(rec(2))}\n`
    // A crash: the write after the whole records got only halfway, a later one (not acknowledged) finished.
    const torn = JSON.stringify(rec(3)).slice(0, 10)
    const file = Buffer.concat([Buffer.from(whole + torn), Buffer.alloc(40), Buffer.from(`${JSON.stringify(rec(4))}\n`), Buffer.alloc(100)])
    writeFileSync(path, file)
    expect(readBindingFile<Rec>(path)).toMatchObject({ records: 2, damaged: 1, end: whole.length })
    const { journal, leases, damaged } = BindingJournal.open<Rec>(path)
    expect(leases.map((l) => l.address)).toEqual(['fd00::1', 'fd00::2'])
    expect(damaged).toBe(1)
    journal.record(rec(5))
    await journal.close()
    const read = readBindingFile<Rec>(path)
    expect(read.leases.map((l) => l.address)).toEqual(['fd00::1', 'fd00::2', 'fd00::5'])
    expect(read.damaged).toBe(0)
  })

  it("reads and continues a file @lab/dhcp4's journal wrote (JSON lines, a torn last line)", async () => {
    const path = join(tempDir(), 'leases')
    const old = await LeaseJournal.open<Rec>(path)
    for (let i = 0; i < 5; i++) old.journal.record(rec(i))
    await old.journal.close()
    appendFileSync(path, '{"address":"fd0')
    const { journal, leases, damaged } = BindingJournal.open<Rec>(path)
    expect(leases).toHaveLength(5)
    expect(damaged).toBe(1)
    journal.record(rec(9))
    await journal.close()
    expect(readBindingFile<Rec>(path)).toMatchObject({ records: 6, damaged: 0 })
    // dhcp4's reader still finds every record (it counts the zeros as one damaged line).
    expect((await readLeaseFile<Rec>(path)).leases).toHaveLength(6)
  })

  it('keeps several group commits in flight and settles them in order; makes room ahead as the records grow', async () => {
    const path = join(tempDir(), 'leases')
    const committed: number[] = []
    const { journal } = BindingJournal.open<Rec>(path, { onCommit: (records) => committed.push(...records.map((r) => r.n)) })
    const waits: Array<Promise<void>> = []
    const settled: number[] = []
    // About 12 000 records of ~60 bytes: past half of the first 4 MiB of room only with padding.
    const pad = 'x'.repeat(300)
    for (let i = 0; i < 12_000; i++) {
      journal.record({ ...rec(i % 5000, i), client: `c${i % 5000}${pad}` })
      if (i % 100 === 99) {
        journal.commitSoon()
        const batch = i
        waits.push(journal.durable().then(() => void settled.push(batch)))
      }
    }
    await Promise.all(waits)
    expect(settled).toEqual([...settled].sort((a, b) => a - b))
    expect(committed).toEqual(Array.from({ length: 12_000 }, (_, i) => i))
    await journal.close()
    const read = readBindingFile<Rec>(path)
    expect(read).toMatchObject({ records: 12_000, damaged: 0 })
    expect(read.leases).toHaveLength(5000)
    // The room was extended ahead of the records (4 MiB at a time).
    expect(statSync(path).size).toBeGreaterThanOrEqual(read.end + (2 << 20))
  })

  it('compacts to the live records, with room after them; writeNow() with sync: false puts records in the file at once', async () => {
    const path = join(tempDir(), 'leases')
    const { journal } = BindingJournal.open<Rec>(path, { sync: false })
    for (let i = 0; i < 50; i++) journal.record(rec(i % 5, i))
    expect(journal.writeNow()).toBe(true)
    expect(readBindingFile<Rec>(path).records).toBe(50)
    journal.compact(() => [rec(0, 100), rec(1, 101)])
    await journal.durable()
    await new Promise((r) => setImmediate(r))
    expect(readBindingFile<Rec>(path)).toMatchObject({ records: 2 })
    journal.record(rec(7))
    expect(journal.writeNow()).toBe(true)
    await journal.close()
    expect(readBindingFile<Rec>(path).leases.map((l) => l.n)).toEqual([100, 101, 0])
    // Room after the compacted records (more is made as commits need it).
    expect(readFileSync(path).length).toBeGreaterThan(readBindingFile<Rec>(path).end + (128 << 10))
  })
})

describe.skipIf(!isRoot())('binding journal on a disk that fills up (needs root: a small tmpfs)', () => {
  it('fails, tells the waiters, and writes the same records once there is room again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lab-dhcp6-full-'))
    runSync(['mount', '-t', 'tmpfs', '-o', 'size=256k,mode=0700', 'tmpfs', dir])
    deferCleanup(`umount ${dir}`, () => {
      runSync(['umount', '-l', dir], true)
      rmSync(dir, { recursive: true, force: true })
    })
    // Half the disk taken first: the journal gets what room is left, and the records outgrow it.
    const filler = join(dir, 'filler')
    const fd = openSync(filler, 'w')
    writeSync(fd, Buffer.alloc(128 << 10, 0x2e))
    closeSync(fd)
    const failures: Array<string | undefined> = []
    const path = join(dir, 'leases')
    const { journal } = BindingJournal.open<Rec>(path, { retryInitialMs: 20, retryMaxMs: 50, onFailure: (e) => failures.push((e as { code?: string } | undefined)?.code) })
    const big = 'y'.repeat(1000)
    let failed: unknown
    for (let i = 0; i < 400 && failed === undefined; i++) {
      journal.record({ ...rec(i, i), client: big })
      journal.commitSoon()
      failed = await journal.durable().then(() => undefined, (e: unknown) => e)
    }
    expect(failed).toMatchObject({ code: 'ENOSPC' })
    expect(journal.failure).toBeDefined()
    const recorded = journal.counters().records
    rmSync(filler)
    for (let i = 0; i < 100 && journal.failure; i++) await new Promise((r) => setTimeout(r, 20))
    expect(journal.failure).toBeUndefined()
    await journal.durable()
    expect(failures).toEqual(['ENOSPC', undefined])
    await journal.close()
    expect(readBindingFile<Rec>(path)).toMatchObject({ records: recorded, damaged: 0 })
  })
})
