// The binding journal: one JSON line per record, as @lab/dhcp4's lease journal writes them, in a
// file kept zero-filled ahead of the records. A record's write then overwrites blocks the file
// system has already allocated and written: with O_DSYNC that is one data write and a cache flush,
// where an append also waits for a journal commit of the file's new size (about twice as long on
// the disks measured here). Writes are positional, so several group commits may be in flight at
// once (up to IN_FLIGHT); a batch counts as durable only once it and every batch before it are
// written, so what is acknowledged is always a prefix of the file.
//
// Reading stops at the first zero byte: the records end there. A line cut short by a crash (the
// last one, or one whose write had not finished when a later one had) is dropped, as is anything
// after it, none of it acknowledged. Files that @lab/dhcp4's journal wrote (JSON lines, no
// zeros) read the same way; the journal goes on in them after their last whole line.
//
// Opened with `sync: false` (a server's `durability: 'none'`): no O_DSYNC, and records are written
// synchronously by writeNow() (or at the next turn of the event loop): they survive the process
// being killed, not the machine losing power before the kernel writes them back. A write that
// fails is tried again (same place in the file) with a backoff; whoever waits on durable() is told.
import { closeSync, constants, fdatasyncSync, fstatSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, write, writeSync } from 'node:fs'
import { dirname } from 'node:path'
import { promisify } from 'node:util'
import { Dhcp6Error } from '../errors.js'
import { deferred, encodeJsonLines, newestByAddress, type Deferred } from '@lab/dhcp4'

/** A record: `address` is its key (the newest record per address wins on reading). */
export interface BindingRecord {
  address: string
  client: string
}

const writeAsync = promisify(write) as (fd: number, data: Buffer, offset: number, length: number, position: number) => Promise<{ bytesWritten: number }>
const OPEN = constants.O_WRONLY | constants.O_CREAT
const OPEN_DSYNC = OPEN | constants.O_DSYNC
/** Zero-filled room made at a time, bytes; more is made once less than half of it is left. */
const CHUNK = 4 << 20
/** Group commits in flight at once. */
const IN_FLIGHT = 4

export interface BindingJournalOptions<L> {
  /** First wait before a failed write is tried again, ms (default 100); doubles up to `retryMaxMs`. */
  retryInitialMs?: number
  retryMaxMs?: number
  /** Called after each commit with the records it made durable (all of them after a compaction), in order. */
  onCommit?: (records: L[], compacted: boolean) => void
  /** Called after each successful write: how many records it made durable and how long it took, seconds. */
  onWrite?: (write: { records: number; seconds: number; compacted: boolean }) => void
  /** Called when writing starts failing (with the error) and when it works again (undefined). */
  onFailure?: (failure: Error | undefined) => void
  /** Called when a compaction failed; appending goes on, the compaction is tried again after `compactionPauseMs` (default 60 s). */
  onCompactionError?: (error: Error) => void
  compactionPauseMs?: number
  /** true (default): O_DSYNC, group-committed in the background. false: written by writeNow(), no O_DSYNC. */
  sync?: boolean
}

export interface BindingFileContents<L> {
  /** The newest record per address. */
  leases: L[]
  /** Records read (superseded ones included). */
  records: number
  /** Lines that were not a record (a line torn by a crash). */
  damaged: number
  /** Where the whole records end: the journal writes on from there. */
  end: number
}

/** One group commit: its bytes go at `position`; `written` of them are in the file. */
interface Batch<L> {
  data: Buffer
  position: number
  written: number
  records: L[]
  done: Deferred
  /** A write of it is under way. */
  writing: boolean
  started: number
}

function contents<L extends BindingRecord>(data: Buffer): BindingFileContents<L> {
  let stop = data.indexOf(0)
  if (stop < 0) stop = data.length
  // Whole lines only: what follows the last newline before the zeros was cut short.
  const end = data.lastIndexOf(10, stop - 1) + 1
  const read = newestByAddress<L>(data.toString('utf8', 0, end))
  // A torn last line (cut short before the zeros) is damage too.
  return { ...read, damaged: read.damaged + (end < stop ? 1 : 0), end }
}

/** Reads a binding file (this journal's, or @lab/dhcp4's JSON lines) without opening it for writing; a missing file holds none. */
export function readBindingFile<L extends BindingRecord>(path: string): BindingFileContents<L> {
  let data: Buffer
  try {
    data = readFileSync(path)
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return { leases: [], records: 0, damaged: 0, end: 0 }
    throw new Dhcp6Error('LAB_ERR_DHCP6_LEASE_FILE', `lease file ${path}: ${(error as Error).message}`, { cause: error })
  }
  return contents<L>(data)
}

/**
 * Writes `length` zero bytes at `position`, synchronously; returns how many it wrote. A full disk
 * ends the filling early (not an error: records then go past the end, and a write that finds no
 * room is a failure like any other, retried).
 */
function zeroFill(fd: number, position: number, length: number): number {
  const zeros = Buffer.alloc(Math.min(length, 1 << 20))
  let at = 0
  try {
    while (at < length) at += writeSync(fd, zeros, 0, Math.min(zeros.length, length - at), position + at)
  } catch (error) {
    if ((error as { code?: string }).code !== 'ENOSPC') throw error
  }
  return at
}

export class BindingJournal<L extends BindingRecord> {
  #fd: number
  #records: number
  /** Where the next batch goes. */
  #position: number
  /** The zero-filled file ends here (writes below it overwrite allocated blocks). */
  #allocated: number
  #extending: Promise<void> | undefined
  /** Recorded, not in a batch yet; #next settles when they are durable. */
  #pending: L[] = []
  #next: Deferred | undefined
  /** Batches not yet durable, in file order. */
  #batches: Array<Batch<L>> = []
  #compactWith: (() => L[]) | undefined
  #compactAfter = 0
  #scheduled = false
  #writeScheduled = false
  readonly #sync: boolean
  #failure: Error | undefined
  #retryMs: number
  #retryTimer: NodeJS.Timeout | undefined
  #closing = false
  #idle: Deferred | undefined
  readonly #options: BindingJournalOptions<L>
  readonly #counters = { records: 0, commits: 0, failures: 0 }

  private constructor(
    readonly path: string,
    fd: number,
    records: number,
    end: number,
    allocated: number,
    options: BindingJournalOptions<L>,
  ) {
    this.#fd = fd
    this.#records = records
    this.#position = end
    this.#allocated = allocated
    this.#options = options
    this.#sync = options.sync !== false
    this.#retryMs = options.retryInitialMs ?? 100
  }

  /**
   * Opens the journal, creating it and its directory if needed, and returns it with the records it
   * holds. What follows the last whole record is zeroed, and room is made for more. Throws
   * Dhcp6Error LAB_ERR_DHCP6_LEASE_FILE naming the path when the file cannot be read or written.
   */
  static open<L extends BindingRecord>(path: string, options: BindingJournalOptions<L> = {}): { journal: BindingJournal<L>; leases: L[]; damaged: number } {
    const fail = (what: string, error: unknown): never => {
      throw new Dhcp6Error('LAB_ERR_DHCP6_LEASE_FILE', `lease file ${path}: ${what} (${(error as { code?: string }).code ?? (error as Error).message})`, { cause: error })
    }
    try {
      mkdirSync(dirname(path), { recursive: true })
    } catch (error) {
      fail(`cannot create its directory ${dirname(path)}`, error)
    }
    const { leases, records, damaged, end } = readBindingFile<L>(path)
    let fd = -1
    let allocated = 0
    try {
      fd = openSync(path, options.sync === false ? OPEN : OPEN_DSYNC, 0o600)
      // Torn bytes after the last whole line (and anything after them), and the room ahead,
      // become zeros, on disk before any record goes there.
      const size = fstatSync(fd).size
      allocated = end + zeroFill(fd, end, Math.max(size, end + CHUNK) - end)
      if (allocated < size) throw Object.assign(new Error(`no room to clear ${size - allocated} bytes after the last whole record`), { code: 'ENOSPC' })
      fdatasyncSync(fd)
    } catch (error) {
      if (fd >= 0) closeSync(fd)
      fail('cannot open it for writing', error)
    }
    return { journal: new BindingJournal<L>(path, fd, records, end, allocated, options), leases, damaged }
  }

  get failure(): Error | undefined {
    return this.#failure
  }

  /** Superseded records plus live ones since the last compaction. */
  get records(): number {
    return this.#records
  }

  counters(): { records: number; commits: number; failures: number } {
    return { ...this.#counters }
  }

  /** Queues a record for the next commit; `durable()` tells when it is on disk. */
  record(record: L): void {
    if (this.#fd < 0 || this.#closing) throw new Dhcp6Error('LAB_ERR_DHCP6_CLOSED', `lease journal ${this.path} is closed`)
    this.#pending.push(record)
    this.#records++
    this.#counters.records++
    this.#next ??= deferred()
    if (this.#sync) return this.#schedule()
    if (this.#writeScheduled) return
    this.#writeScheduled = true
    setImmediate(() => {
      this.#writeScheduled = false
      if (!this.writeNow() && !this.#retryTimer) this.#schedule()
    })
  }

  /**
   * Writes every queued record now, synchronously, and returns true once they are all in the file
   * (with `sync: true`, on stable storage too). False when it cannot: writes or a compaction are
   * under way, or writing fails; `durable()` then tells when they are.
   */
  writeNow(): boolean {
    if (!this.#next) return this.#batches.length === 0
    if (this.#batches.length > 0 || this.#failure || this.#fd < 0) return false
    const batch = this.#batch()
    batch.writing = true
    try {
      if (batch.position + batch.data.length > this.#allocated) this.#extendNow()
      while (batch.written < batch.data.length) batch.written += writeSync(this.#fd, batch.data, batch.written, batch.data.length - batch.written, batch.position + batch.written)
    } catch (error) {
      batch.writing = false
      this.#failed(error as Error)
      return false
    }
    batch.writing = false
    this.#settle()
    return true
  }

  /** Starts the write of what is queued now rather than at the next turn of the event loop. */
  commitSoon(): void {
    if (this.#sync && this.#next) this.#pump()
  }

  /**
   * Resolves when every record made so far is on stable storage. Rejects when a write holding
   * them fails, and at once while writing fails (the records stay queued and are written later).
   */
  durable(): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure)
    const last = this.#next ?? this.#batches[this.#batches.length - 1]?.done
    return last?.promise ?? Promise.resolve()
  }

  /** Rewrites the journal with the records `snapshot` returns, once the writes under way are done. */
  compact(snapshot: () => L[]): void {
    this.#compactWith = snapshot
    this.#schedule()
  }

  #compactionDue(): boolean {
    return this.#compactWith !== undefined && (this.#failure !== undefined || Date.now() >= this.#compactAfter)
  }

  #schedule(): void {
    if (this.#scheduled || this.#retryTimer) return
    this.#scheduled = true
    setImmediate(() => {
      this.#scheduled = false
      this.#pump()
    })
  }

  /** The queued records as the next batch, placed after the last one. */
  #batch(): Batch<L> {
    const records = this.#pending
    this.#pending = []
    const batch: Batch<L> = { data: encodeJsonLines(records), position: this.#position, written: 0, records, done: this.#next!, writing: false, started: performance.now() }
    this.#next = undefined
    this.#position += batch.data.length
    this.#batches.push(batch)
    return batch
  }

  /** Starts what can start: a compaction once nothing is in flight, else new batches and retries. */
  #pump(): void {
    if (this.#fd < 0 || this.#retryTimer) return
    if (this.#compactionDue()) {
      if (this.#batches.some((b) => b.writing) || this.#extending) return
      this.#compact()
      if (this.#fd < 0) return
    }
    // Retries first (same place in the file), then the queued records as a new batch.
    let writing = 0
    for (const b of this.#batches) if (b.writing) writing++
    for (const b of this.#batches) {
      if (writing >= IN_FLIGHT) return
      if (!b.writing && b.written < b.data.length) {
        writing++
        void this.#write(b)
      }
    }
    if (!this.#next || this.#failure) return
    if (!this.#sync) {
      // Written synchronously, by writeNow(), once nothing is left to retry.
      if (this.#batches.length === 0) this.writeNow()
      return
    }
    if (writing >= IN_FLIGHT) return
    const batch = this.#batch()
    if (batch.position + batch.data.length > this.#allocated - CHUNK / 2) this.#extendSoon()
    void this.#write(batch)
  }

  async #write(batch: Batch<L>): Promise<void> {
    batch.writing = true
    try {
      // Never into a region being zero-filled: wait for it.
      if (this.#extending && batch.position + batch.data.length > this.#allocated) await this.#extending
      while (batch.written < batch.data.length) {
        const { bytesWritten } = await writeAsync(this.#fd, batch.data, batch.written, batch.data.length - batch.written, batch.position + batch.written)
        batch.written += bytesWritten
      }
    } catch (error) {
      batch.writing = false
      if (this.#fd >= 0) this.#failed(error as Error)
      this.#idle?.resolve()
      return
    }
    batch.writing = false
    this.#settle()
    this.#pump()
    if (!this.#batches.some((b) => b.writing)) this.#idle?.resolve()
  }

  /** Batches written from the head on are durable: their waiters are told, in order. */
  #settle(): void {
    while (this.#batches.length > 0 && !this.#batches[0]!.writing && this.#batches[0]!.written === this.#batches[0]!.data.length) {
      const b = this.#batches.shift()!
      this.#counters.commits++
      this.#options.onWrite?.({ records: b.records.length, seconds: (performance.now() - b.started) / 1000, compacted: false })
      this.#succeeded()
      this.#options.onCommit?.(b.records, false)
      b.done.resolve()
    }
  }

  /** Zero-fills the next chunk in the background (a write of zeros, durable with O_DSYNC). */
  #extendSoon(): void {
    if (this.#extending) return
    const from = Math.max(this.#allocated, this.#position)
    const zeros = Buffer.alloc(CHUNK)
    this.#extending = (async () => {
      try {
        for (let at = 0; at < CHUNK; ) at += (await writeAsync(this.#fd, zeros, at, CHUNK - at, from + at)).bytesWritten
        this.#allocated = from + CHUNK
      } catch {
        // Not fatal: records are then appended past the end, which works, only slower.
      } finally {
        this.#extending = undefined
      }
    })()
  }

  #extendNow(): void {
    const from = Math.max(this.#allocated, this.#position)
    this.#allocated = from + zeroFill(this.#fd, from, CHUNK)
  }

  #compact(): void {
    const started = performance.now()
    let records: L[]
    try {
      // The snapshot is taken now, so it includes every record still queued or not yet written.
      records = this.#compactWith!()
      this.#rewrite(records)
    } catch (error) {
      this.#counters.failures++
      this.#compactAfter = Date.now() + (this.#options.compactionPauseMs ?? 60_000)
      this.#options.onCompactionError?.(error as Error)
      return
    }
    this.#compactWith = undefined
    this.#options.onWrite?.({ records: records.length, seconds: (performance.now() - started) / 1000, compacted: true })
    const settled = [...this.#batches.map((b) => b.done), this.#next]
    this.#batches = []
    this.#next = undefined
    this.#pending = []
    this.#succeeded()
    this.#options.onCommit?.(records, true)
    for (const d of settled) d?.resolve()
  }

  #rewrite(records: L[]): void {
    const tmp = `${this.path}.compact`
    const data = encodeJsonLines(records)
    let allocated = data.length
    try {
      const fd = openSync(tmp, 'w', 0o600)
      try {
        for (let at = 0; at < data.length; ) at += writeSync(fd, data, at, data.length - at, at)
        // Some room at once; more is made in the background by the next commits.
        allocated = data.length + zeroFill(fd, data.length, CHUNK / 16)
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
    const fd = openSync(this.path, this.#sync ? OPEN_DSYNC : OPEN, 0o600)
    closeSync(this.#fd)
    this.#fd = fd
    this.#records = records.length
    this.#position = data.length
    this.#allocated = allocated
    this.#counters.commits++
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
    // Whoever waits is told now; the records stay, to be written at the same place later.
    for (const b of this.#batches) {
      b.done.reject(error)
      b.done = deferred()
    }
    if (this.#next) {
      this.#next.reject(error)
      this.#next = deferred()
    }
    if (first) this.#options.onFailure?.(error)
    if (this.#closing || this.#retryTimer) return
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined
      // The failed batches again, at their places; the failure ends with the first write that works.
      this.#pump()
    }, this.#retryMs)
    // A retry alone does not keep the process alive: a server stops by its own stop().
    this.#retryTimer.unref()
    this.#retryMs = Math.min(this.#retryMs * 2, this.#options.retryMaxMs ?? 2000)
  }

  /**
   * Writes what is queued (one more attempt if writing failed), then closes; idempotent. Throws
   * Dhcp6Error LAB_ERR_DHCP6_LEASE_FILE, after closing, when records could not be written.
   */
  async close(): Promise<void> {
    if (this.#fd < 0) return
    this.#closing = true
    if (this.#retryTimer) {
      clearTimeout(this.#retryTimer)
      this.#retryTimer = undefined
    }
    await this.#extending
    let lastError: Error | undefined
    for (let attempt = 0; attempt < 2; attempt++) {
      // Everything left, synchronously: in-flight writes first.
      while (this.#batches.some((b) => b.writing)) {
        this.#idle = deferred()
        await this.#idle.promise
      }
      this.#idle = undefined
      try {
        if (this.#compactionDue()) this.#compact()
        if (this.#next) this.#batch()
        for (const b of this.#batches) {
          if (b.position + b.data.length > this.#allocated) this.#extendNow()
          while (b.written < b.data.length) b.written += writeSync(this.#fd, b.data, b.written, b.data.length - b.written, b.position + b.written)
        }
        if (!this.#sync) fdatasyncSync(this.#fd)
        this.#settle()
        lastError = undefined
        break
      } catch (error) {
        lastError = error as Error
      }
    }
    const lost = this.#pending.length + this.#batches.reduce((n, b) => n + b.records.length, 0)
    if (lastError) {
      for (const b of this.#batches) b.done.reject(lastError)
    }
    closeSync(this.#fd)
    this.#fd = -1
    const failure = lastError ?? this.#failure
    if (failure && lost > 0) throw new Dhcp6Error('LAB_ERR_DHCP6_LEASE_FILE', `lease file ${this.path}: ${lost} records not written (${failure.message})`, { cause: failure })
  }
}
