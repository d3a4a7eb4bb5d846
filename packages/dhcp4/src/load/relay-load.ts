// The engine of the relay-mode load generators (in the spirit of Kea's perfdhcp), DHCPv4's
// LoadGenerator and @lab/dhcp6's LoadGenerator6: many simulated clients behind one relay socket,
// each doing one two-step exchange with the server (DISCOVER-OFFER-REQUEST-ACK,
// Solicit-Advertise-Request-Reply), a bounded number in flight, with retransmission, a bounded count
// and a time limit; it measures exchanges per second and the latency of whole exchanges. The engine
// keeps the window, the timers, the batching and the figures; a protocol stamps the messages and
// reads the replies. It must cost far less per exchange than the servers it measures: messages
// are stamped from templates, replies read in place, what one wake-up starts leaves in one batch.
import { performance } from 'node:perf_hooks'
import { ArgumentError, silentLogger, type Datagram, type Logger, type OutgoingDatagram, type UdpSocket } from '@lab/netlink-native'

/** One simulated client's exchange in flight. */
export interface RelayExchange {
  /** The client's number in its run. */
  readonly index: number
  /** The client's MAC as a 48-bit number: 02:<base>:<index as 4 bytes>. */
  readonly mac: number
  readonly xid: number
  /** 'first' until the server's first answer (OFFER, Advertise), then 'second'. */
  step: 'first' | 'second'
  readonly startedAt: number
  /** When the message now awaiting an answer was last sent. */
  sentAt: number
  tries: number
  /** What is sent (again, on a timeout) for the current step. */
  message: Buffer
}

/** What a protocol makes of one reply. */
export type ReplyVerdict =
  /** Not this exchange's answer (wrong type for its step, malformed): ignored. */
  | 'ignore'
  /** The first answer: the protocol set `message` to the second request. */
  | 'next'
  /** The exchange is complete (ACK, a Reply with an address). */
  | 'done'
  /** The server said no (NAK, NoAddrsAvail): the client is done without a lease. */
  | 'refused'

export interface RelayProtocol {
  /** Transaction ids wrap at 2^xidBits (DHCPv4 32, DHCPv6 24). */
  readonly xidBits: 32 | 24
  /** The server's address and port the requests go to. */
  readonly server: string
  readonly port: number
  /** The first request of a new exchange (its xid and MAC stamped). */
  first(e: RelayExchange): Buffer
  /** The transaction id a reply answers, or -1 for a datagram that is no reply of ours. */
  xidOf(reply: Buffer): number
  /** Reads the reply to `e`; with 'next' it has set `e.message`. */
  answer(reply: Buffer, e: RelayExchange): ReplyVerdict
}

/** How many exchanges a run does and how: what both generators' `run()` take. */
export interface RelayWindowOptions {
  /** Simulated clients, each one exchange. */
  clients: number
  /** Exchanges in flight at once (default 64). */
  window?: number
  /** Retransmit after this long without an answer, ms (default 1000). */
  timeoutMs?: number
  /** Retransmissions per message before the client gives up (default 3). */
  retries?: number
  /** Stop after this long whatever is left, ms (default 60 000). */
  durationMs?: number
  /** Ends the run early; what is in flight counts as failed. */
  signal?: AbortSignal
}

export interface RelayRunOptions extends RelayWindowOptions {
  /** Distinguishes the clients of different runs: client i is 02:<base>:<i as 4 bytes>. Default 0. */
  base?: number
  /** Each completed exchange, with the reply that completed it (valid only during the call). */
  onDone?: (e: RelayExchange, reply: Buffer, timing: { startedMs: number; latencyMs: number; firstAnswerMs: number }) => void
}

export interface RelayRunResult {
  completed: number
  /** Exchanges the server answered with a refusal (NAK, NoAddrsAvail). */
  refused: number
  /** Clients that got no answer after all retransmissions, or were cut off by the time limit. */
  failed: number
  retransmissions: number
  /** Batches of requests the kernel refused to send (their exchanges time out and are resent). */
  sendFailures: number
  elapsedMs: number
  /** Completed exchanges per second. */
  rate: number
  latencyMs: { p50: number; p99: number; max: number }
}

/** Client i of a run: 02:<base>:<i as 4 bytes>, as a 48-bit number. */
export function clientMac(base: number, i: number): number {
  return 0x02 * 2 ** 40 + (base & 0xff) * 2 ** 32 + (i >>> 0)
}

/** A 48-bit MAC number as colon-separated hex. */
export function formatMacNumber(n: number): string {
  return n.toString(16).padStart(12, '0').replace(/(..)(?!$)/g, '$1:')
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

/** Per run: the exchanges in flight and what has been counted so far. */
interface Run {
  options: RelayRunOptions
  byXid: Map<number, RelayExchange>
  latencies: number[]
  result: Omit<RelayRunResult, 'elapsedMs' | 'rate' | 'latencyMs'>
  xidBase: number
  next: number
  started: number
  finish: () => void
}

/**
 * Runs exchanges of one protocol over a relay socket it owns: `run()` does `clients` exchanges
 * (runs take turns), `close()` ends a run in progress and closes the socket.
 */
export class RelayLoad {
  readonly #socket: UdpSocket
  readonly #protocol: RelayProtocol
  readonly #logger: Logger
  readonly #closedError: () => Error
  readonly #xidMask: number
  #outbox: OutgoingDatagram[] = []
  #run: Run | undefined
  /** The end of the last run asked for: runs take turns. */
  #turn: Promise<unknown> = Promise.resolve()
  #closed = false
  /** A flush of the outbox is set for the end of this turn of the event loop. */
  #flushScheduled = false
  readonly #flushLater = () => {
    this.#flushScheduled = false
    this.#flush()
  }

  /** `closedError` makes the error a run on a closed generator rejects with (the package's own). */
  constructor(socket: UdpSocket, protocol: RelayProtocol, closedError: () => Error, logger: Logger = silentLogger) {
    this.#socket = socket
    this.#protocol = protocol
    this.#closedError = closedError
    this.#logger = logger
    this.#xidMask = protocol.xidBits === 32 ? 0xffffffff : 0xffffff
    socket.on('message', (d) => this.#receive(d))
    socket.on('error', (error) => this.#logger.error({ err: error }, 'load generator socket error'))
  }

  #send(data: Buffer): void {
    this.#outbox.push({ data, address: this.#protocol.server, port: this.#protocol.port })
  }

  #flush(): void {
    if (this.#outbox.length === 0) return
    const batch = this.#outbox
    this.#outbox = []
    const run = this.#run
    this.#socket.sendBatch(batch).catch((error: unknown) => {
      // The exchanges in this batch are not lost: they time out and are sent again (or fail).
      if (run) run.result.sendFailures++
      this.#logger.warn({ err: error, datagrams: batch.length }, 'load generator: requests not sent')
    })
  }

  #startMore(run: Run): void {
    const window = run.options.window ?? 64
    while (run.byXid.size < window && run.next < run.options.clients) {
      const now = performance.now()
      const xid = (run.xidBase + run.next) & this.#xidMask
      const e: RelayExchange = { index: run.next, mac: clientMac(run.options.base ?? 0, run.next), xid: xid >>> 0, step: 'first', startedAt: now, sentAt: now, tries: 0, message: EMPTY }
      run.next++
      e.message = this.#protocol.first(e)
      run.byXid.set(e.xid, e)
      this.#send(e.message)
    }
  }

  #settleIfDone(run: Run): void {
    if (run.byXid.size === 0 && run.next >= run.options.clients) run.finish()
  }

  #receive(d: Datagram): void {
    const run = this.#run
    if (!run) return
    const xid = this.#protocol.xidOf(d.data)
    const e = xid < 0 ? undefined : run.byXid.get(xid)
    if (!e) return
    const verdict = this.#protocol.answer(d.data, e)
    if (verdict === 'ignore') return
    if (verdict === 'next') {
      e.step = 'second'
      e.tries = 0
      e.sentAt = performance.now()
      this.#send(e.message)
    } else {
      run.byXid.delete(e.xid)
      if (verdict === 'refused') {
        run.result.refused++
      } else {
        run.result.completed++
        const latency = performance.now() - e.startedAt
        run.latencies.push(latency)
        run.options.onDone?.(e, d.data, { startedMs: e.startedAt - run.started, latencyMs: latency, firstAnswerMs: e.sentAt - e.startedAt })
      }
    }
    this.#startMore(run)
    // What this wake-up's replies started leaves together, once the socket's batch is read.
    if (!this.#flushScheduled) {
      this.#flushScheduled = true
      setImmediate(this.#flushLater)
    }
    this.#settleIfDone(run)
  }

  /** Retransmits what waited too long, gives up on what was resent `retries` times, starts more. */
  #tick(run: Run): void {
    const timeoutMs = run.options.timeoutMs ?? 1000
    const retries = run.options.retries ?? 3
    const now = performance.now()
    for (const e of run.byXid.values()) {
      if (now - e.sentAt < timeoutMs) continue
      if (e.tries >= retries) {
        run.byXid.delete(e.xid)
        run.result.failed++
        continue
      }
      e.tries++
      e.sentAt = now
      run.result.retransmissions++
      this.#send(e.message)
    }
    this.#startMore(run)
    this.#flush()
    this.#settleIfDone(run)
  }

  /**
   * Does `clients` exchanges (after any run still going) and returns what they measured. Throws
   * ArgumentError for a count or window that is not one.
   */
  run(options: RelayRunOptions): Promise<RelayRunResult> {
    if (this.#closed) return Promise.reject(this.#closedError())
    // A failed run does not stop the next one: each caller gets its own run's outcome.
    const result = this.#turn.catch(() => undefined).then(() => this.#runNow(options))
    this.#turn = result
    return result
  }

  async #runNow(options: RelayRunOptions): Promise<RelayRunResult> {
    if (this.#closed) throw this.#closedError()
    if (!Number.isInteger(options.clients) || options.clients < 0) throw new ArgumentError('clients', `a count, got ${options.clients}`)
    // The window stays below half the transaction id space: ids in flight never collide.
    const maxWindow = this.#xidMask === 0xffffffff ? 0x7fffffff : 0x7fffff
    if (options.window !== undefined && !(Number.isInteger(options.window) && options.window > 0 && options.window <= maxWindow)) throw new ArgumentError('window', `1..${maxWindow}, got ${options.window}`)
    let finish!: () => void
    const done = new Promise<void>((resolve) => (finish = resolve))
    const run: Run = {
      options,
      byXid: new Map(),
      latencies: [],
      result: { completed: 0, refused: 0, failed: 0, retransmissions: 0, sendFailures: 0 },
      xidBase: (Math.random() * (this.#xidMask === 0xffffffff ? 0x7fffffff : 0xffffff)) >>> 0,
      next: 0,
      started: performance.now(),
      finish,
    }
    this.#run = run
    const timeoutMs = options.timeoutMs ?? 1000
    const ticker = setInterval(() => this.#tick(run), Math.max(10, Math.min(100, timeoutMs / 4)))
    const limit = setTimeout(finish, options.durationMs ?? 60_000)
    options.signal?.addEventListener('abort', finish, { once: true })
    this.#startMore(run)
    this.#flush()
    this.#settleIfDone(run)
    await done
    clearInterval(ticker)
    clearTimeout(limit)
    options.signal?.removeEventListener('abort', finish)
    this.#run = undefined
    run.result.failed += run.byXid.size + (options.clients - run.next)
    const elapsedMs = performance.now() - run.started
    const latencies = run.latencies.sort((a, b) => a - b)
    return {
      ...run.result,
      elapsedMs,
      rate: run.result.completed / (elapsedMs / 1000),
      latencyMs: { p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies[latencies.length - 1] ?? 0 },
    }
  }

  /** Ends a run in progress (its unfinished exchanges count as failed) and closes the socket; idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#run?.finish()
    await this.#turn.catch(() => undefined)
    await this.#socket.close()
  }
}

const EMPTY = Buffer.alloc(0)
