// A relay-mode DHCPv6 load generator (in the spirit of Kea's perfdhcp -6): many simulated clients
// behind one relay, each doing Solicit-Advertise-Request-Reply with the server through
// Relay-Forward/Relay-Reply (RFC 8415 19), a bounded number in flight at a time, with
// retransmission, a bounded count and a time limit. It measures exchanges per second and the
// latency of whole exchanges. The same design as @lab/dhcp4's LoadGenerator.
import { performance } from 'node:perf_hooks'
import { ArgumentError, UdpSocket, parseIp, silentLogger, type Datagram, type Logger, type OutgoingDatagram } from '@lab/netlink-native'
import { decodeMessage, type Dhcp6Message, type Dhcp6RelayMessage } from '../codec/message.js'
import { Dhcp6Error } from '../errors.js'

export interface LoadGenerator6Options {
  /** The namespace to send from: a name under /run/netns or a path. Default: this process's. */
  netns?: string
  /** The server's unicast address (Relay-Forwards go to its port 547). */
  server: string
  /** The relay's own address: bound on port 547 for the Relay-Replies; must be local. */
  relayAddress: string
  /** The link-address of every Relay-Forward: an address on the clients' link, which picks the server's subnet (RFC 8415 19.1.1). */
  linkAddress: string
  /** An interface-id option (18) to add to each Relay-Forward; servers send it back (RFC 8415 19.3). */
  interfaceId?: Buffer
  /** A pino-shaped logger for send failures; nothing is logged without one. */
  logger?: Logger
}

export interface LoadRun6Options {
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
  /** Distinguishes the clients of different runs: client i has DUID-LL 02:<base>:<i as 4 bytes>. Default 0. */
  duidBase?: number
  /** Called for each bound address, when its Reply arrives (the Reply is decoded only if this is given). */
  onReply?: (reply: { mac: string; address: string; reply: Dhcp6Message; relay: Dhcp6RelayMessage }) => void
  /** Called for each completed exchange with when it started (ms since the run began), how long it took and when the Advertise came. */
  onExchange?: (exchange: { startedMs: number; latencyMs: number; advertiseMs: number }) => void
  /** Ends the run early; what is in flight counts as failed. */
  signal?: AbortSignal
}

export interface LoadResult6 {
  completed: number
  /** Exchanges answered without an address (an IA_NA with NoAddrsAvail or another status). */
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

interface Exchange {
  index: number
  mac: number
  xid: number
  phase: 'solicit' | 'request'
  startedAt: number
  sentAt: number
  tries: number
  message: Buffer
}

const RELAY_FORW = 12
const RELAY_REPL = 13
const ADVERTISE = 2
const REQUEST = 3
const REPLY = 7
const OPTION_CLIENTID = 1
const OPTION_SERVERID = 2
const OPTION_IA_NA = 3
const OPTION_IAADDR = 5
const OPTION_RELAY_MSG = 9
const OPTION_INTERFACE_ID = 18
/** The client's DUID-LL in option 1 (14 bytes: code, length, type 3, hardware type 1, MAC), elapsed time (6) and an ORO asking for DNS servers and the domain list (8). */
const CLIENT_PART = 28
/** An IA_NA without addresses: code, length 12, IAID 1, T1 0, T2 0. */
const EMPTY_IA_NA = Buffer.from('0003000c000000010000000000000000', 'hex')
/** The client part after the message header: DUID-LL (MAC stamped), elapsed time 0, ORO (23, 24). */
const CLIENT_OPTIONS = Buffer.from('0001000a00030001000000000000' + '000800020000' + '0006000400170018', 'hex')

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

/** Client i of a run: 02:<base>:<i as 4 bytes>, as a 48-bit number. */
function macNumber(base: number, i: number): number {
  return 0x02 * 2 ** 40 + (base & 0xff) * 2 ** 32 + (i >>> 0)
}

function formatMac(n: number): string {
  return n.toString(16).padStart(12, '0').replace(/(..)(?!$)/g, '$1:')
}

/** Where option `code` starts (its code field) among the options in b[from, to), or -1. */
function findOption(b: Buffer, from: number, to: number, code: number): number {
  for (let at = from; at + 4 <= to; ) {
    const length = b.readUInt16BE(at + 2)
    if (at + 4 + length > to) return -1
    if (b.readUInt16BE(at) === code) return at
    at += 4 + length
  }
  return -1
}

/** Per run: the exchanges in flight and what has been counted so far. */
interface Run {
  options: LoadRun6Options
  byXid: Map<number, Exchange>
  latencies: number[]
  result: Omit<LoadResult6, 'elapsedMs' | 'rate' | 'latencyMs'>
  xidBase: number
  next: number
  started: number
  finish: () => void
}

/**
 * A relay that plays many DHCPv6 clients: `open()` binds the relay address's port 547, each
 * `run()` does `clients` whole Solicit-Advertise-Request-Reply exchanges with the server and
 * measures them, `close()` lets the port go. Runs on one generator take turns.
 *
 * ```ts
 * const load = await LoadGenerator6.open({ netns: 'relay', server: 'fd00:b::1', relayAddress: 'fd00:b::2', linkAddress: 'fd00:10::1' })
 * const result = await load.run({ clients: 10_000, window: 64 })
 * await load.close()
 * ```
 */
export class LoadGenerator6 {
  readonly #socket: UdpSocket
  readonly #logger: Logger
  /** The Relay-Forward around a Solicit, stamped per client; replies are read in place: the
   * generator must cost far less per exchange than the servers it measures. */
  readonly #solicit: Buffer
  /** Where the relayed message starts in what we send (after the relay header, the interface-id
   * and option 9's header). */
  readonly #innerAt: number
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
  /** The link-address's 16 bytes, parsed once. */
  readonly #link: Buffer

  private constructor(
    readonly options: LoadGenerator6Options,
    socket: UdpSocket,
  ) {
    this.#socket = socket
    this.#logger = options.logger ?? silentLogger
    this.#link = parseIp(options.linkAddress).bytes
    this.#innerAt = 34 + (options.interfaceId ? 4 + options.interfaceId.length : 0) + 4
    this.#solicit = this.#relayForward(1, EMPTY_IA_NA)
    socket.on('message', (d) => this.#receive(d))
    socket.on('error', (error) => this.#logger.error({ err: error }, 'load generator socket error'))
  }

  /** Binds relayAddress:547 (in `netns`) for the replies. Throws ArgumentError for addresses that are not IPv6, SystemError when the address is not local or the port taken. */
  static async open(options: LoadGenerator6Options): Promise<LoadGenerator6> {
    for (const field of ['server', 'relayAddress', 'linkAddress'] as const) {
      if (parseIp(options[field], field).family !== 6) throw new ArgumentError(field, `an IPv6 address, got ${options[field]}`)
    }
    if (options.interfaceId !== undefined && (!Buffer.isBuffer(options.interfaceId) || options.interfaceId.length === 0 || options.interfaceId.length > 0xffff)) {
      throw new ArgumentError('interfaceId', 'a non-empty Buffer')
    }
    const socket = await UdpSocket.open({ netns: options.netns, address: options.relayAddress, port: 547, batch: 64, receiveBufferBytes: 4 << 20 })
    return new LoadGenerator6(options, socket)
  }

  /**
   * A Relay-Forward carrying a client message of `type` whose options after the client part are
   * `tail` (RFC 8415 8 and 9):
   *   1 byte type 12, 1 byte hop count 0, 16 bytes link-address, 16 bytes peer-address (stamped),
   *   [option 18 interface-id], option 9 header (4 bytes), then the client message:
   *   1 byte type, 3 bytes transaction id (stamped), option 1 DUID-LL (MAC stamped),
   *   option 8 elapsed time 0, option 6 ORO (23, 24), then `tail`.
   */
  #relayForward(type: number, ...tail: Buffer[]): Buffer {
    const tailLength = tail.reduce((n, t) => n + t.length, 0)
    const b = Buffer.alloc(this.#innerAt + 4 + CLIENT_PART + tailLength)
    b[0] = RELAY_FORW
    this.#link.copy(b, 2)
    b.writeUInt16BE(0xfe80, 18)
    let at = 34
    if (this.options.interfaceId) {
      b.writeUInt16BE(OPTION_INTERFACE_ID, at)
      b.writeUInt16BE(this.options.interfaceId.length, at + 2)
      this.options.interfaceId.copy(b, at + 4)
      at += 4 + this.options.interfaceId.length
    }
    b.writeUInt16BE(OPTION_RELAY_MSG, at)
    b.writeUInt16BE(4 + CLIENT_PART + tailLength, at + 2)
    at = this.#innerAt
    b[at] = type
    CLIENT_OPTIONS.copy(b, at + 4)
    at += 4 + CLIENT_PART
    for (const t of tail) {
      t.copy(b, at)
      at += t.length
    }
    return b
  }

  /** Puts the exchange's transaction id, MAC (in the DUID) and a peer-address made of the MAC into a copy of `base`. */
  #stamp(base: Buffer, e: Exchange, copy: boolean): Buffer {
    const b = copy ? Buffer.from(base) : base
    b.writeUIntBE(e.mac, 28, 6)
    b.writeUIntBE(e.xid, this.#innerAt + 1, 3)
    b.writeUIntBE(e.mac, this.#innerAt + 12, 6)
    return b
  }

  #send(data: Buffer): void {
    this.#outbox.push({ data, address: this.options.server, port: 547 })
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
      const xid = (run.xidBase + run.next) & 0xffffff
      const e: Exchange = { index: run.next, mac: macNumber(run.options.duidBase ?? 0, run.next), xid, phase: 'solicit', startedAt: now, sentAt: now, tries: 0, message: this.#solicit }
      run.next++
      e.message = this.#stamp(this.#solicit, e, true)
      run.byXid.set(xid, e)
      this.#send(e.message)
    }
  }

  #settleIfDone(run: Run): void {
    if (run.byXid.size === 0 && run.next >= run.options.clients) run.finish()
  }

  #receive(d: Datagram): void {
    const run = this.#run
    const b = d.data
    if (!run || b.length < 38 || b[0] !== RELAY_REPL) return
    const relayed = findOption(b, 34, b.length, OPTION_RELAY_MSG)
    if (relayed < 0) return
    const inner = relayed + 4
    const end = inner + b.readUInt16BE(relayed + 2)
    if (end - inner < 4) return
    const e = run.byXid.get(b.readUIntBE(inner + 1, 3))
    if (!e) return
    const type = b[inner]!
    if (!(e.phase === 'solicit' && type === ADVERTISE) && !(e.phase === 'request' && type === REPLY)) return
    const client = findOption(b, inner + 4, end, OPTION_CLIENTID)
    if (client < 0 || b.readUIntBE(client + 8, 6) !== e.mac) return
    const ia = findOption(b, inner + 4, end, OPTION_IA_NA)
    const iaEnd = ia < 0 ? -1 : ia + 4 + b.readUInt16BE(ia + 2)
    const address = ia < 0 ? -1 : findOption(b, ia + 16, iaEnd, OPTION_IAADDR)
    if (address < 0) {
      // NoAddrsAvail (or any status instead of an address): this client is done, without a lease.
      run.byXid.delete(e.xid)
      run.result.refused++
    } else if (e.phase === 'solicit') {
      const server = findOption(b, inner + 4, end, OPTION_SERVERID)
      if (server < 0) return
      e.phase = 'request'
      e.tries = 0
      e.sentAt = performance.now()
      // RFC 8415 18.2.2: the Request names the server and carries the IA as advertised.
      const request = this.#relayForward(REQUEST, b.subarray(server, server + 4 + b.readUInt16BE(server + 2)), b.subarray(ia, iaEnd))
      e.message = this.#stamp(request, e, false)
      this.#send(e.message)
    } else {
      run.byXid.delete(e.xid)
      run.result.completed++
      const latency = performance.now() - e.startedAt
      run.latencies.push(latency)
      run.options.onExchange?.({ startedMs: e.startedAt - run.started, latencyMs: latency, advertiseMs: e.sentAt - e.startedAt })
      if (run.options.onReply) {
        const relay = decodeMessage(b) as Dhcp6RelayMessage
        const reply = relay.message as Dhcp6Message
        run.options.onReply({ mac: formatMac(e.mac), address: reply.options.get(3)!.options.get(5)!.address, reply, relay })
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

  /** Does `clients` exchanges (after any run still going) and returns what they measured. */
  run(options: LoadRun6Options): Promise<LoadResult6> {
    if (this.#closed) return Promise.reject(new Dhcp6Error('LAB_ERR_DHCP6_CLOSED', 'load generator is closed'))
    // A failed run does not stop the next one: each caller gets its own run's outcome.
    const result = this.#turn.catch(() => undefined).then(() => this.#runNow(options))
    this.#turn = result
    return result
  }

  async #runNow(options: LoadRun6Options): Promise<LoadResult6> {
    if (this.#closed) throw new Dhcp6Error('LAB_ERR_DHCP6_CLOSED', 'load generator is closed')
    if (!Number.isInteger(options.clients) || options.clients < 0) throw new ArgumentError('clients', `a count, got ${options.clients}`)
    if (options.window !== undefined && !(Number.isInteger(options.window) && options.window > 0 && options.window < 0x800000)) throw new ArgumentError('window', `1..8388607, got ${options.window}`)
    let finish!: () => void
    const done = new Promise<void>((resolve) => (finish = resolve))
    const run: Run = {
      options,
      byXid: new Map(),
      latencies: [],
      result: { completed: 0, refused: 0, failed: 0, retransmissions: 0, sendFailures: 0 },
      xidBase: (Math.random() * 0xffffff) >>> 0,
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
