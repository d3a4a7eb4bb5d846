// Leases on disk: an append-only journal of JSON lines, fsynced before the server answers, so an
// acknowledged lease survives kill -9 and power loss. Compaction writes the live leases to a new
// file and renames it over the old one (atomic on POSIX file systems).
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs'
import { dirname } from 'node:path'
import type { Lease } from './lease.js'

export class LeaseJournal {
  #fd: number
  #records = 0

  private constructor(
    readonly path: string,
    fd: number,
  ) {
    this.#fd = fd
  }

  /** Opens (creating if needed) and returns the journal with the leases it holds, newest state per address. */
  static open(path: string): { journal: LeaseJournal; leases: Lease[]; damaged: number } {
    const leases = new Map<string, Lease>()
    let damaged = 0
    let records = 0
    if (existsSync(path)) {
      for (const line of readFileSync(path, 'utf8').split('\n')) {
        if (!line) continue
        try {
          const lease = JSON.parse(line) as Lease
          if (typeof lease.address !== 'string' || typeof lease.client !== 'string') throw new Error('not a lease')
          leases.set(lease.address, lease)
          records++
        } catch {
          // A line torn by a crash mid-write (only the last can be): skipped and counted.
          damaged++
        }
      }
    }
    const journal = new LeaseJournal(path, openSync(path, 'a', 0o600))
    journal.#records = records
    return { journal, leases: [...leases.values()], damaged }
  }

  /** Appends a lease state and waits until it is on stable storage. */
  record(lease: Lease): void {
    writeSync(this.#fd, JSON.stringify(lease) + '\n')
    fsyncSync(this.#fd)
    this.#records++
  }

  get records(): number {
    return this.#records
  }

  /** Rewrites the journal with only these leases. */
  compact(leases: Lease[]): void {
    const tmp = `${this.path}.compact`
    const fd = openSync(tmp, 'w', 0o600)
    try {
      writeSync(fd, leases.map((l) => JSON.stringify(l) + '\n').join(''))
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    renameSync(tmp, this.path)
    const dir = openSync(dirname(this.path), 'r')
    try {
      fsyncSync(dir)
    } finally {
      closeSync(dir)
    }
    closeSync(this.#fd)
    this.#fd = openSync(this.path, 'a', 0o600)
    this.#records = leases.length
  }

  close(): void {
    if (this.#fd >= 0) closeSync(this.#fd)
    this.#fd = -1
  }
}
