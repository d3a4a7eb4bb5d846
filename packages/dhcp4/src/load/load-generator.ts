// A relay-mode load generator (in the spirit of Kea's perfdhcp): many simulated clients behind one
// relay address, each doing DISCOVER-OFFER-REQUEST-ACK with the server, a bounded number in flight
// at a time, with retransmission, a bounded count and a time limit. It measures exchanges per
// second and the latency of whole exchanges.
import { performance } from 'node:perf_hooks'
import { UdpSocket, silentLogger, type Datagram, type Logger, type OutgoingDatagram } from '@lab/netlink-native'
import { DhcpMessage } from '../codec/message.js'
import { DhcpError } from '../errors.js'

export interface LoadGeneratorOptions {
  /** The namespace to send from: a name under /run/netns or a path. Default: this process's. */
  netns?: string
  /** The server's address (requests are unicast to its port 67). */
  server: string
  /** The relay address: set as giaddr, bound on port 67 for the replies; must be local. */
  giaddr: string
  /** Relay agent information (option 82) sub-options to add, e.g. circuit id. */
  agentInformation?: Map<number, Buffer>
  /** A pino-shaped logger for send failures; nothing is logged without one. */
  logger?: Logger
}

export interface LoadRunOptions {
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
  /** Distinguishes the MACs of different runs (client i is 02:<base>:<i>). Default 0. */
  macBase?: number
  /** Called for each acknowledged lease, when the ACK arrives. */
  onAck?: (ack: { mac: string; address: string; reply: DhcpMessage }) => void
  /** Called for each completed exchange with when it started (ms since the run began) and how long it took. */
  onExchange?: (exchange: { startedMs: number; latencyMs: number; offerMs: number }) => void
  /** Ends the run early; what is in flight counts as failed. */
  signal?: AbortSignal
}

export interface LoadResult {
  completed: number
  naks: number
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

interface Exchange {
  index: number
  macNumber: number
  xid: number
  phase: 'discover' | 'request'
  startedAt: number
  sentAt: number
  tries: number
  request?: Buffer
}

const COOKIE = 0x63825363
const OFFER = 2
const ACK = 5
const NAK = 6

/** Client i of a run: 02:<base>:<i as 4 bytes>, as a 48-bit number. */
function macNumber(base: number, i: number): number {
  return 0x02 * 2 ** 40 + (base & 0xff) * 2 ** 32 + (i >>> 0)
}

/** Where the value of option `code` starts in an encoded message, or -1. */
function optionOffset(b: Buffer, code: number): number {
  for (let at = 240; at < b.length; ) {
    const c = b[at]!
    if (c === 0) {
      at++
      continue
    }
    if (c === 255 || at + 1 >= b.length) return -1
    if (c === code) return at + 2
    at += 2 + b[at + 1]!
  }
  return -1
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

/** Per run: the exchanges in flight and what has been counted so far. */
interface Run {
  options: LoadRunOptions
  byXid: Map<number, Exchange>
  latencies: number[]
  result: Omit<LoadResult, 'elapsedMs' | 'rate' | 'latencyMs'>
  xidBase: number
  next: number
  started: number
  finish: () => void
}

/**
 * A relay that plays many clients: `open()` binds the relay address's port 67, each `run()` does
 * `clients` whole exchanges with the server and measures them, `close()` lets the port go. Runs
 * on one generator take turns.
 *
 * ```ts
 * const load = await LoadGenerator.open({ netns: 'relay', server: '10.200.0.1', giaddr: '10.201.0.1' })
 * const result = await load.run({ clients: 10_000, window: 64 })
 * await load.close()
 * ```
 */
export class LoadGenerator {
  readonly #socket: UdpSocket
  readonly #logger: Logger
  /** Messages are stamped from templates and replies read in place: the generator must cost far
   * less per exchange than the servers it measures. */
  readonly #discover: Buffer
  readonly #request: Buffer
  readonly #requestedAt: number
  readonly #serverIdAt: number
  #outbox: OutgoingDatagram[] = []
  #run: Run | undefined
  /** The end of the last run asked for: runs take turns. */
  #turn: Promise<unknown> = Promise.resolve()
  #closed = false

  private constructor(
    readonly options: LoadGeneratorOptions,
    socket: UdpSocket,
  ) {
    this.#socket = socket
    this.#logger = options.logger ?? silentLogger
    this.#discover = this.#template('DISCOVER')
    this.#request = this.#template('REQUEST')
    this.#requestedAt = optionOffset(this.#request, 50)
    this.#serverIdAt = optionOffset(this.#request, 54)
    socket.on('message', (d) => this.#receive(d))
    socket.on('error', (error) => this.#logger.error({ err: error }, 'load generator socket error'))
  }

  /** Binds giaddr:67 (in `netns`) for the replies. Throws SystemError when the address is not local or taken. */
  static async open(options: LoadGeneratorOptions): Promise<LoadGenerator> {
    const socket = await UdpSocket.open({ netns: options.netns, address: options.giaddr, port: 67, batch: 64, receiveBufferBytes: 4 << 20 })
    return new LoadGenerator(options, socket)
  }

  #template(type: 'DISCOVER' | 'REQUEST'): Buffer {
    const m = new DhcpMessage({ op: 1, xid: 0, chaddr: '00:00:00:00:00:00', giaddr: this.options.giaddr, hops: 1 })
    m.set(53, type)
    if (type === 'REQUEST') m.set(50, '0.0.0.0').set(54, '0.0.0.0')
    m.set(55, [1, 3, 6, 15, 51, 54])
    if (this.options.agentInformation) m.set(82, this.options.agentInformation)
    return m.encode()
  }

  #stamp(base: Buffer, e: Exchange): Buffer {
    const b = Buffer.from(base)
    b.writeUInt32BE(e.xid, 4)
    b.writeUIntBE(e.macNumber, 28, 6)
    return b
  }

  #send(data: Buffer): void {
    this.#outbox.push({ data, address: this.options.server, port: 67 })
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
      const e: Exchange = { index: run.next, macNumber: macNumber(run.options.macBase ?? 0, run.next), xid: (run.xidBase + run.next) >>> 0, phase: 'discover', startedAt: now, sentAt: now, tries: 0 }
      run.next++
      e.request = this.#stamp(this.#discover, e)
      run.byXid.set(e.xid, e)
      this.#send(e.request)
    }
  }

  #settleIfDone(run: Run): void {
    if (run.byXid.size === 0 && run.next >= run.options.clients) run.finish()
  }

  #receive(d: Datagram): void {
    const run = this.#run
    const b = d.data
    if (!run || b.length < 241 || b[0] !== 2 || b.readUInt32BE(236) !== COOKIE) return
    const e = run.byXid.get(b.readUInt32BE(4))
    if (!e) return
    const typeAt = optionOffset(b, 53)
    const type = typeAt < 0 ? 0 : b[typeAt]!
    if (e.phase === 'discover' && type === OFFER) {
      const serverAt = optionOffset(b, 54)
      if (serverAt < 0) return
      e.phase = 'request'
      e.tries = 0
      e.sentAt = performance.now()
      const r = this.#stamp(this.#request, e)
      b.copy(r, this.#requestedAt, 16, 20)
      b.copy(r, this.#serverIdAt, serverAt, serverAt + 4)
      e.request = r
      this.#send(r)
    } else if (e.phase === 'request' && type === ACK) {
      run.byXid.delete(e.xid)
      run.result.completed++
      const latency = performance.now() - e.startedAt
      run.latencies.push(latency)
      run.options.onExchange?.({ startedMs: e.startedAt - run.started, latencyMs: latency, offerMs: e.sentAt - e.startedAt })
      if (run.options.onAck) {
        const reply = DhcpMessage.decode(b)
        run.options.onAck({ mac: reply.chaddr, address: reply.yiaddr, reply })
      }
    } else if (type === NAK) {
      run.byXid.delete(e.xid)
      run.result.naks++
    } else {
      return
    }
    this.#startMore(run)
    setImmediate(() => this.#flush())
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
      this.#send(e.request!)
    }
    this.#startMore(run)
    this.#flush()
    this.#settleIfDone(run)
  }

  /** Does `clients` exchanges (after any run still going) and returns what they measured. */
  run(options: LoadRunOptions): Promise<LoadResult> {
    if (this.#closed) return Promise.reject(new DhcpError('LAB_ERR_DHCP_CLOSED', 'load generator is closed'))
    // A failed run does not stop the next one: each caller gets its own run's outcome.
    const result = this.#turn.catch(() => undefined).then(() => this.#runNow(options))
    this.#turn = result
    return result
  }

  async #runNow(options: LoadRunOptions): Promise<LoadResult> {
    if (this.#closed) throw new DhcpError('LAB_ERR_DHCP_CLOSED', 'load generator is closed')
    let finish!: () => void
    const done = new Promise<void>((resolve) => (finish = resolve))
    const run: Run = {
      options,
      byXid: new Map(),
      latencies: [],
      result: { completed: 0, naks: 0, failed: 0, retransmissions: 0, sendFailures: 0 },
      xidBase: (Math.random() * 0x7fffffff) >>> 0,
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

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}
