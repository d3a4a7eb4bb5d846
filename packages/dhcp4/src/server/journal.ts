// Leases on disk: an append-only journal of JSON lines. Records are group-committed: every record
// made while one write is in flight goes out with the next write (the file is opened O_DSYNC), so a
// burst of bindings costs a few syncs rather than one each, and the event loop keeps serving while
// the disk works. `durable()` resolves once everything recorded so far is on stable storage: the
// server sends an ACK only after that. Compaction writes the live leases to a new file and renames
// it over the old one (atomic on POSIX file systems).
import { closeSync, constants, existsSync, fsyncSync, openSync, readFileSync, renameSync, write, writeSync } from 'node:fs'
import { dirname } from 'node:path'
import { promisify } from 'node:util'
import type { Lease } from './lease.js'

const writeAsync = promisify(write) as (fd: number, data: string) => Promise<unknown>
const APPEND_DSYNC = constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND | constants.O_DSYNC

interface Deferred {
  promise: Promise<void>
  resolve: () => void
  reject: (error: Error) => void
}

function deferred(): Deferred {
  let resolve!: () => void
  let reject!: (error: Error) => void
  const promise = new Promise<void>((res, rej) => {
    resolve = res
    reject = rej
  })
  // A failed commit is reported to whoever waits on durable(); nobody waiting is not a crash.
  promise.catch(() => undefined)
  return { promise, resolve, reject }
}

export interface JournalStats {
  /** Records appended since open. */
  records: number
  /** fdatasync calls made for them: records / commits is the group-commit factor. */
  commits: number
}

export class LeaseJournal {
  #fd: number
  #records = 0
  #pending: string[] = []
  /** Settles when the records in #pending are durable. */
  #next: Deferred | undefined
  /** Settles when the batch being written now is durable. */
  #inflight: Deferred | undefined
  #compactWith: (() => Lease[]) | undefined
  #failed: Error | undefined
  readonly stats: JournalStats = { records: 0, commits: 0 }

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
    const journal = new LeaseJournal(path, openSync(path, APPEND_DSYNC, 0o600))
    journal.#records = records
    return { journal, leases: [...leases.values()], damaged }
  }

  /** Queues a lease state for the next commit; `durable()` tells when it is on disk. */
  record(lease: Lease): void {
    if (this.#fd < 0) throw new Error(`lease journal ${this.path} is closed`)
    this.#pending.push(JSON.stringify(lease) + '\n')
    this.#records++
    this.stats.records++
    this.#schedule()
  }

  /** Resolves when every record made so far is on stable storage; rejects if writing failed. */
  durable(): Promise<void> {
    if (this.#failed) return Promise.reject(this.#failed)
    return (this.#next ?? this.#inflight)?.promise ?? Promise.resolve()
  }

  /** Superseded records plus live ones since the last compaction. */
  get records(): number {
    return this.#records
  }

  /** Rewrites the journal with the leases `snapshot` returns, at the next commit. */
  compact(snapshot: () => Lease[]): Promise<void> {
    this.#compactWith = snapshot
    this.#schedule()
    return this.durable()
  }

  #schedule(): void {
    this.#next ??= deferred()
    // While a commit is in flight the loop picks the new records up when it finishes.
    if (!this.#inflight) setImmediate(() => void this.#commitLoop())
  }

  async #commitLoop(): Promise<void> {
    if (this.#inflight) return
    while (this.#next && this.#fd >= 0) {
      const batch = this.#pending.splice(0)
      const done = this.#next
      this.#inflight = done
      this.#next = undefined
      try {
        if (this.#compactWith) {
          // The snapshot is taken now, so it includes every record still pending.
          const snapshot = this.#compactWith
          this.#compactWith = undefined
          this.#rewrite(snapshot())
        } else if (batch.length > 0) {
          // O_DSYNC: the write returns once the data is on stable storage, one trip to the thread pool.
          await writeAsync(this.#fd, batch.join(''))
          this.stats.commits++
        }
        done.resolve()
      } catch (error) {
        this.#failed = error as Error
        done.reject(error as Error)
        const later = this.#next as Deferred | undefined
        later?.reject(error as Error)
        this.#next = undefined
      } finally {
        this.#inflight = undefined
      }
    }
  }

  #rewrite(leases: Lease[]): void {
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
    this.#fd = openSync(this.path, APPEND_DSYNC, 0o600)
    this.#records = leases.length
    this.stats.commits++
  }

  /** Commits what is pending, then closes. */
  async close(): Promise<void> {
    while (this.#inflight || this.#next) await (this.#inflight ?? this.#next)!.promise.catch(() => undefined)
    if (this.#fd >= 0) closeSync(this.#fd)
    this.#fd = -1
  }
}
