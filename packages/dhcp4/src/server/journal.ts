// Leases on disk: an append-only journal of JSON lines. Records are group-committed: every record
// made while one write is in flight goes out with the next write (the file is opened O_DSYNC), so a
// burst of bindings costs a few syncs rather than one each, and the event loop keeps serving while
// the disk works. `durable()` resolves once everything recorded so far is on stable storage: the
// server sends an ACK only after that. Compaction writes the live leases to a new file and renames
// it over the old one (atomic on POSIX file systems).
//
// Opened with `sync: false` (a server's `durability: 'none'`), the file has no O_DSYNC and records
// are written synchronously by `writeNow()` (or at the next turn of the event loop): in the page
// cache as soon as the call returns, so they survive the process being killed, not the machine
// losing power before the kernel writes them back (Kea's memfile makes the same trade).
//
// A write that fails (a full disk, an I/O error) is not the end: its records stay queued, whoever
// waits on durable() is told, `failure` says why, and the write is tried again with a backoff until
// it succeeds. A short write (the disk filled mid-way) continues where it stopped, so the file never
// holds a torn line followed by more records.
import { closeSync, constants, fsyncSync, openSync, renameSync, rmSync, write, writeSync } from 'node:fs'
import { mkdir, readFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { promisify } from 'node:util'
import { DhcpError } from '../errors.js'
import { deferred, type Deferred } from './deferred.js'
import { encodeJsonLines, newestByAddress, type JournalRecord } from './json-lines.js'
import type { Lease } from './lease.js'

export type { JournalRecord } from './json-lines.js'

const writeAsync = promisify(write) as (fd: number, data: Buffer, offset: number, length: number) => Promise<{ bytesWritten: number }>
const APPEND = constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND
const APPEND_DSYNC = APPEND | constants.O_DSYNC

/** Records per write when a compaction rewrites the file. */
const COMPACT_SLICE = 1000

/** A batch of records being written; `written` bytes of it are in the file already. */
interface Batch<L> {
  data: Buffer
  written: number
  leases: L[]
  done: Deferred
}

export interface JournalStats {
  /** Records appended since open. */
  records: number
  /** Successful writes (and compactions): records / commits is the group-commit factor. */
  commits: number
  /** Writes and compactions that failed (each is tried again). */
  failures: number
}

/** One successful write of the journal: an append of queued records, or a compaction. */
export interface JournalWrite {
  records: number
  seconds: number
  compacted: boolean
}

export interface LeaseJournalOptions<L extends JournalRecord = Lease> {
  /** First wait before a failed write is tried again, ms (default 100); doubles up to `retryMaxMs`. */
  retryInitialMs?: number
  /** Longest wait between attempts, ms (default 2000). */
  retryMaxMs?: number
  /** Called after each commit with the leases it made durable (all of them after a compaction). */
  onCommit?: (leases: L[], compacted: boolean) => void
  /**
   * Called after each successful write: how many records it made durable (a group commit's size)
   * and how long the write took, seconds (for metrics).
   */
  onWrite?: (write: JournalWrite) => void
  /** Called when writing starts failing (with the error) and when it works again (undefined). */
  onFailure?: (failure: Error | undefined) => void
  /**
   * Called when a compaction failed. The journal goes on appending (it is still whole) and tries
   * the compaction again after `compactionPauseMs` (default 60 s), or with every retry while
   * appending fails too (a compacted journal may fit where the backlog does not).
   */
  onCompactionError?: (error: Error) => void
  compactionPauseMs?: number
  /**
   * Every live record, for rewriting the file from scratch. Given, a write that fails because the
   * open file can no longer be written (EROFS: its filesystem went read-only after an error; EIO;
   * ESTALE) is retried as a rewrite by path instead of an append to that file: once the
   * filesystem is repaired and mounted again, or another is mounted in its place, the journal
   * goes on there by itself.
   */
  snapshot?: () => L[]
  /**
   * true (default): the file is opened O_DSYNC and every write is on stable storage when it
   * completes. false: no O_DSYNC; records are written synchronously by `writeNow()` (or at the
   * next turn of the event loop) into the page cache: they survive a killed process, not a
   * machine that stops before the kernel writes them back. Compactions are fsynced either way.
   */
  sync?: boolean
}

/** Errors after which appending to the open file is pointless: only a new file can work. */
const DEAD_FILE = new Set(['EROFS', 'EIO', 'ESTALE', 'EBADF'])

/** What a lease file holds: the newest state per address, and how many lines could not be read. */
export interface LeaseFileContents<L extends JournalRecord = Lease> {
  leases: L[]
  /** Records read (superseded ones included). */
  records: number
  /** Lines that were not a lease: a line torn by a crash mid-write (only the last can be). */
  damaged: number
}

/** Reads a lease file without opening it for writing; a missing file holds no leases. */
export async function readLeaseFile<L extends JournalRecord = Lease>(path: string): Promise<LeaseFileContents<L>> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return { leases: [], records: 0, damaged: 0 }
    throw new DhcpError('LAB_ERR_DHCP_LEASE_FILE', `lease file ${path}: ${(error as Error).message}`, { cause: error })
  }
  return newestByAddress<L>(text)
}

export class LeaseJournal<L extends JournalRecord = Lease> {
  #fd: number
  #records: number
  /** Recorded, not in a write yet. */
  #pending: L[] = []
  /** Settles when the records in #pending are durable. */
  #next: Deferred | undefined
  /** The batch being written, or left over from a write that failed. */
  #batch: Batch<L> | undefined
  #compactWith: (() => L[]) | undefined
  /** The commit loop, while it runs. */
  #loop: Promise<void> | undefined
  #scheduled = false
  /** sync: false: a writeNow() is set for the next turn of the event loop. */
  #writeScheduled = false
  readonly #flags: number
  #failure: Error | undefined
  #retryMs: number
  #retryTimer: NodeJS.Timeout | undefined
  #closing = false
  /** No compaction before this time (Date.now()) unless appends fail too: the last one failed. */
  #compactAfter = 0
  readonly #options: LeaseJournalOptions<L>
  readonly #counters: JournalStats = { records: 0, commits: 0, failures: 0 }

  /** Records appended, synced commits, failed writes (a fresh copy). */
  counters(): JournalStats {
    return { ...this.#counters }
  }

  private constructor(
    readonly path: string,
    fd: number,
    records: number,
    options: LeaseJournalOptions<L>,
  ) {
    this.#fd = fd
    this.#records = records
    this.#options = options
    this.#retryMs = options.retryInitialMs ?? 100
    this.#flags = options.sync === false ? APPEND : APPEND_DSYNC
  }

  /**
   * Opens the journal for appending, creating it and its directory if needed, and returns it with
   * the leases it holds. Throws DhcpError LAB_ERR_DHCP_LEASE_FILE naming the path when the
   * directory or the file cannot be created or opened.
   */
  static async open<L extends JournalRecord = Lease>(path: string, options: LeaseJournalOptions<L> = {}): Promise<{ journal: LeaseJournal<L>; leases: L[]; damaged: number }> {
    const dir = dirname(path)
    try {
      await mkdir(dir, { recursive: true })
    } catch (error) {
      throw new DhcpError('LAB_ERR_DHCP_LEASE_FILE', `lease file ${path}: cannot create its directory ${dir} (${(error as { code?: string }).code ?? (error as Error).message})`, { cause: error })
    }
    const { leases, records, damaged } = await readLeaseFile<L>(path)
    let fd: number
    try {
      fd = openSync(path, options.sync === false ? APPEND : APPEND_DSYNC, 0o600)
    } catch (error) {
      throw new DhcpError('LAB_ERR_DHCP_LEASE_FILE', `lease file ${path}: cannot open it for writing (${(error as { code?: string }).code ?? (error as Error).message})`, { cause: error })
    }
    return { journal: new LeaseJournal<L>(path, fd, records, options), leases, damaged }
  }

  /** Why writing fails now; undefined while it works. */
  get failure(): Error | undefined {
    return this.#failure
  }

  /** Queues a lease state for the next commit; `durable()` tells when it is on disk. */
  record(lease: L): void {
    if (this.#fd < 0 || this.#closing) throw new DhcpError('LAB_ERR_DHCP_CLOSED', `lease journal ${this.path} is closed`)
    this.#pending.push(lease)
    this.#records++
    this.#counters.records++
    if (this.#flags === APPEND_DSYNC) return this.#schedule()
    this.#next ??= deferred()
    if (this.#writeScheduled) return
    this.#writeScheduled = true
    setImmediate(() => {
      this.#writeScheduled = false
      if (!this.writeNow() && !this.#loop && !this.#retryTimer && !this.#closing && this.#fd >= 0 && (this.#next || this.#batch)) void this.#run()
    })
  }

  /**
   * Writes every queued record now, synchronously, and returns true once they are all in the file
   * (with `sync: true`, on stable storage too). Returns false when it cannot: a write or a
   * compaction is in flight, or writing fails; `durable()` then tells when they are.
   */
  writeNow(): boolean {
    if (!this.#next) return !this.#batch && !this.#loop
    if (this.#loop || this.#batch || this.#failure || this.#fd < 0) return false
    const leases = this.#pending.splice(0)
    const batch: Batch<L> = { data: encodeJsonLines(leases), written: 0, leases, done: this.#next }
    this.#next = undefined
    this.#batch = batch
    const started = performance.now()
    try {
      while (batch.written < batch.data.length) batch.written += writeSync(this.#fd, batch.data, batch.written, batch.data.length - batch.written)
    } catch (error) {
      this.#failed(error as Error)
      return false
    }
    this.#batch = undefined
    this.#counters.commits++
    this.#options.onWrite?.({ records: leases.length, seconds: (performance.now() - started) / 1000, compacted: false })
    this.#succeeded()
    this.#options.onCommit?.(leases, false)
    batch.done.resolve()
    return true
  }

  /** sync: true: starts the write of what is queued now rather than at the next turn of the loop. */
  commitSoon(): void {
    if (this.#next && !this.#loop && !this.#retryTimer && !this.#closing && this.#fd >= 0 && this.#flags === APPEND_DSYNC) void this.#run()
  }

  /**
   * Resolves when every record made so far is on stable storage. Rejects when the write holding
   * them fails, and at once while writing fails (the records stay queued and are written later).
   */
  durable(): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure)
    return (this.#next ?? this.#batch?.done)?.promise ?? Promise.resolve()
  }

  /** Superseded records plus live ones since the last compaction. */
  get records(): number {
    return this.#records
  }

  /** Rewrites the journal with the leases `snapshot` returns, at the next commit. */
  compact(snapshot: () => L[]): void {
    this.#compactWith = snapshot
    this.#schedule()
  }

  #schedule(): void {
    this.#next ??= deferred()
    // A running loop picks new records up when its write finishes; a pending retry writes them too.
    if (this.#loop || this.#scheduled || this.#retryTimer) return
    this.#scheduled = true
    setImmediate(() => {
      this.#scheduled = false
      this.#run()
    })
  }

  #run(): Promise<void> {
    // #commitLoop catches everything it meets: this promise never rejects.
    this.#loop ??= this.#commitLoop().finally(() => {
      this.#loop = undefined
      // Records made after the loop's last look (by code that ran when its write resolved, before
      // this callback) would otherwise wait for a loop that is gone.
      if ((this.#next || this.#compactionDue()) && !this.#retryTimer && !this.#closing && this.#fd >= 0) void this.#run()
    })
    return this.#loop
  }

  /** A compaction is asked for and may run now. */
  #compactionDue(): boolean {
    return this.#compactWith !== undefined && (this.#failure !== undefined || Date.now() >= this.#compactAfter)
  }

  async #commitLoop(): Promise<void> {
    while (this.#fd >= 0 && (this.#compactionDue() || this.#batch || this.#next)) {
      if (this.#compactionDue()) {
        try {
          // The snapshot is taken now, so it includes every record still queued or half written.
          const started = performance.now()
          const leases = this.#compactWith!()
          this.#rewrite(leases)
          this.#options.onWrite?.({ records: leases.length, seconds: (performance.now() - started) / 1000, compacted: true })
          this.#compactWith = undefined
          const settled = [this.#batch?.done, this.#next]
          this.#batch = undefined
          this.#next = undefined
          this.#pending = []
          this.#succeeded()
          this.#options.onCommit?.(leases, true)
          for (const d of settled) d?.resolve()
          continue
        } catch (error) {
          // Appending may still work where a whole copy does not fit: go on with that now, and
          // with the compaction later.
          this.#counters.failures++
          this.#compactAfter = Date.now() + (this.#options.compactionPauseMs ?? 60_000)
          this.#options.onCompactionError?.(error as Error)
          if (!this.#batch && !this.#next) return
        }
      }
      try {
        if (!this.#batch) {
          const leases = this.#pending.splice(0)
          this.#batch = { data: encodeJsonLines(leases), written: 0, leases, done: this.#next! }
          this.#next = undefined
        }
        const batch = this.#batch
        const started = performance.now()
        // O_DSYNC: the write returns once the data is on stable storage, one trip to the thread pool.
        while (batch.written < batch.data.length) {
          const { bytesWritten } = await writeAsync(this.#fd, batch.data, batch.written, batch.data.length - batch.written)
          batch.written += bytesWritten
        }
        this.#batch = undefined
        this.#counters.commits++
        this.#options.onWrite?.({ records: batch.leases.length, seconds: (performance.now() - started) / 1000, compacted: false })
        this.#succeeded()
        this.#options.onCommit?.(batch.leases, false)
        batch.done.resolve()
      } catch (error) {
        this.#failed(error as Error)
        return
      }
    }
  }

  #succeeded(): void {
    this.#retryMs = this.#options.retryInitialMs ?? 100
    if (!this.#failure) return
    this.#failure = undefined
    this.#options.onFailure?.(undefined)
  }

  #failed(error: Error): void {
    this.#counters.failures++
    const first = !this.#failure
    this.#failure = error
    if (this.#options.snapshot && DEAD_FILE.has((error as { code?: string }).code ?? '')) this.#compactWith = this.#options.snapshot
    // Whoever waits for these records is told now; the records stay queued for the retry.
    this.#batch?.done.reject(error)
    this.#next?.reject(error)
    if (this.#batch) this.#batch.done = deferred()
    if (this.#next) this.#next = deferred()
    if (first) this.#options.onFailure?.(error)
    if (this.#closing) return
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined
      void this.#run()
    }, this.#retryMs)
    // A retry alone does not keep the process alive: a server stops by its own stop().
    this.#retryTimer.unref()
    this.#retryMs = Math.min(this.#retryMs * 2, this.#options.retryMaxMs ?? 2000)
  }

  #rewrite(leases: L[]): void {
    const tmp = `${this.path}.compact`
    try {
      const fd = openSync(tmp, 'w', 0o600)
      try {
        // In slices of 1 000 records: the whole file as one string (and its bytes) left 40-50 MiB
        // more anonymous memory in the sample after a compaction in `npm run soak` (10 MiB so).
        for (let i = 0; i < leases.length; i += COMPACT_SLICE) {
          const data = encodeJsonLines(leases.slice(i, i + COMPACT_SLICE))
          for (let at = 0; at < data.length; ) at += writeSync(fd, data, at, data.length - at)
        }
        fsyncSync(fd)
      } finally {
        closeSync(fd)
      }
      renameSync(tmp, this.path)
    } catch (error) {
      // A half-written copy only takes space: the old journal is still whole.
      rmSync(tmp, { force: true })
      throw error
    }
    const dir = openSync(dirname(this.path), 'r')
    try {
      fsyncSync(dir)
    } finally {
      closeSync(dir)
    }
    // The new file is in place: appends go there from now on (opened before the old fd is let go).
    const fd = openSync(this.path, this.#flags, 0o600)
    closeSync(this.#fd)
    this.#fd = fd
    this.#records = leases.length
    this.#counters.commits++
  }

  /**
   * Writes what is queued (one more attempt if writing failed), then closes; idempotent. Throws
   * DhcpError LAB_ERR_DHCP_LEASE_FILE, after closing, when records could not be written.
   */
  async close(): Promise<void> {
    if (this.#fd < 0) return
    this.#closing = true
    if (this.#retryTimer) {
      clearTimeout(this.#retryTimer)
      this.#retryTimer = undefined
    }
    await this.#run()
    // Records queued after the loop's last look; when writing fails, the one attempt above was the last.
    while (!this.#failure && (this.#next || this.#compactionDue() || this.#batch)) await this.#run()
    const lost = this.#pending.length + (this.#batch?.leases.length ?? 0)
    closeSync(this.#fd)
    this.#fd = -1
    if (this.#failure && lost > 0) throw new DhcpError('LAB_ERR_DHCP_LEASE_FILE', `lease file ${this.path}: ${lost} records not written (${this.#failure.message})`, { cause: this.#failure })
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}
