// A relay-mode load generator (in the spirit of Kea's perfdhcp): many simulated clients behind one
// relay address, each doing DISCOVER-OFFER-REQUEST-ACK with the server, a bounded number in flight
// at a time, with retransmission, a bounded count and a time limit. It measures exchanges per
// second and the latency of whole exchanges. The engine (window, timers, batches, figures) is
// relay-load.ts, shared with @lab/dhcp6's LoadGenerator6; this file is DHCPv4's messages.
import { UdpSocket, type Logger } from '@lab/netlink-native'
import { DhcpMessage } from '../codec/message.js'
import { DhcpError } from '../errors.js'
import { RelayLoad, type RelayExchange, type RelayProtocol, type RelayRunResult, type RelayWindowOptions, type ReplyVerdict } from './relay-load.js'

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

export interface LoadRunOptions extends RelayWindowOptions {
  /** Distinguishes the MACs of different runs (client i is 02:<base>:<i>). Default 0. */
  macBase?: number
  /** Called for each acknowledged lease, when the ACK arrives. */
  onAck?: (ack: { mac: string; address: string; reply: DhcpMessage }) => void
  /** Called for each completed exchange with when it started (ms since the run began) and how long it took. */
  onExchange?: (exchange: { startedMs: number; latencyMs: number; offerMs: number }) => void
}

/** What a run measured (RelayRunResult, with the server's refusals as NAKs). */
export type LoadResult = Omit<RelayRunResult, 'refused'> & { naks: number }

const COOKIE = 0x63825363
const OFFER = 2
const ACK = 5
const NAK = 6

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

/** DHCPv4 through a relay: messages stamped from templates (xid, chaddr), replies read in place. */
class Dhcp4Relay implements RelayProtocol {
  readonly xidBits = 32
  readonly port = 67
  readonly server: string
  readonly #discover: Buffer
  readonly #request: Buffer
  readonly #requestedAt: number
  readonly #serverIdAt: number

  constructor(readonly options: LoadGeneratorOptions) {
    this.server = options.server
    this.#discover = this.#template('DISCOVER')
    this.#request = this.#template('REQUEST')
    this.#requestedAt = optionOffset(this.#request, 50)
    this.#serverIdAt = optionOffset(this.#request, 54)
  }

  #template(type: 'DISCOVER' | 'REQUEST'): Buffer {
    const m = new DhcpMessage({ op: 1, xid: 0, chaddr: '00:00:00:00:00:00', giaddr: this.options.giaddr, hops: 1 })
    m.set(53, type)
    if (type === 'REQUEST') m.set(50, '0.0.0.0').set(54, '0.0.0.0')
    m.set(55, [1, 3, 6, 15, 51, 54])
    if (this.options.agentInformation) m.set(82, this.options.agentInformation)
    return m.encode()
  }

  #stamp(base: Buffer, e: RelayExchange): Buffer {
    const b = Buffer.from(base)
    b.writeUInt32BE(e.xid, 4)
    b.writeUIntBE(e.mac, 28, 6)
    return b
  }

  first(e: RelayExchange): Buffer {
    return this.#stamp(this.#discover, e)
  }

  xidOf(b: Buffer): number {
    return b.length < 241 || b[0] !== 2 || b.readUInt32BE(236) !== COOKIE ? -1 : b.readUInt32BE(4)
  }

  answer(b: Buffer, e: RelayExchange): ReplyVerdict {
    const typeAt = optionOffset(b, 53)
    const type = typeAt < 0 ? 0 : b[typeAt]!
    if (e.step === 'first' && type === OFFER) {
      const serverAt = optionOffset(b, 54)
      if (serverAt < 0) return 'ignore'
      // The REQUEST asks for the offered address from the server that offered it.
      const r = this.#stamp(this.#request, e)
      b.copy(r, this.#requestedAt, 16, 20)
      b.copy(r, this.#serverIdAt, serverAt, serverAt + 4)
      e.message = r
      return 'next'
    }
    if (e.step === 'second' && type === ACK) return 'done'
    return type === NAK ? 'refused' : 'ignore'
  }
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
  readonly #engine: RelayLoad

  private constructor(
    readonly options: LoadGeneratorOptions,
    socket: UdpSocket,
  ) {
    this.#engine = new RelayLoad(socket, new Dhcp4Relay(options), () => new DhcpError('LAB_ERR_DHCP_CLOSED', 'load generator is closed'), options.logger)
  }

  /** Binds giaddr:67 (in `netns`) for the replies. Throws SystemError when the address is not local or taken. */
  static async open(options: LoadGeneratorOptions): Promise<LoadGenerator> {
    const socket = await UdpSocket.open({ netns: options.netns, address: options.giaddr, port: 67, batch: 64, receiveBufferBytes: 4 << 20 })
    return new LoadGenerator(options, socket)
  }

  /** Does `clients` exchanges (after any run still going) and returns what they measured. */
  async run(options: LoadRunOptions): Promise<LoadResult> {
    const { macBase, onAck, onExchange, ...window } = options
    const { refused, ...result } = await this.#engine.run({
      ...window,
      base: macBase ?? 0,
      ...(onAck || onExchange
        ? {
            onDone: (_e, b, t) => {
              onExchange?.({ startedMs: t.startedMs, latencyMs: t.latencyMs, offerMs: t.firstAnswerMs })
              if (onAck) {
                const reply = DhcpMessage.decode(b)
                onAck({ mac: reply.chaddr, address: reply.yiaddr, reply })
              }
            },
          }
        : {}),
    })
    return { ...result, naks: refused }
  }

  /** Ends a run in progress (its unfinished exchanges count as failed) and closes the socket; idempotent. */
  async close(): Promise<void> {
    await this.#engine.close()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}
