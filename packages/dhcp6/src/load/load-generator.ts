// A relay-mode DHCPv6 load generator (in the spirit of Kea's perfdhcp -6): many simulated clients
// behind one relay, each doing Solicit-Advertise-Request-Reply with the server through
// Relay-Forward/Relay-Reply (RFC 8415 19), a bounded number in flight at a time, with
// retransmission, a bounded count and a time limit. It measures exchanges per second and the
// latency of whole exchanges. The engine (window, timers, batches, figures) is @lab/dhcp4's
// RelayLoad, shared with its LoadGenerator; this file is DHCPv6's messages.
import { RelayLoad, formatMacNumber, type RelayExchange, type RelayProtocol, type RelayRunResult, type RelayWindowOptions, type ReplyVerdict } from '@lab/dhcp4'
import { ArgumentError, UdpSocket, parseIp, type Logger } from '@lab/netlink-native'
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

export interface LoadRun6Options extends RelayWindowOptions {
  /** Distinguishes the clients of different runs: client i has DUID-LL 02:<base>:<i as 4 bytes>. Default 0. */
  duidBase?: number
  /** Called for each bound address, when its Reply arrives (the Reply is decoded only if this is given). */
  onReply?: (reply: { mac: string; address: string; reply: Dhcp6Message; relay: Dhcp6RelayMessage }) => void
  /** Called for each completed exchange with when it started (ms since the run began), how long it took and when the Advertise came. */
  onExchange?: (exchange: { startedMs: number; latencyMs: number; advertiseMs: number }) => void
}

/** What a run measured; `refused`: exchanges answered without an address (NoAddrsAvail or another status). */
export type LoadResult6 = RelayRunResult

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

/** Where a Relay-Reply's relayed message starts and ends, or undefined. */
function relayedMessage(b: Buffer): { inner: number; end: number } | undefined {
  if (b.length < 38 || b[0] !== RELAY_REPL) return undefined
  const relayed = findOption(b, 34, b.length, OPTION_RELAY_MSG)
  if (relayed < 0) return undefined
  const inner = relayed + 4
  const end = inner + b.readUInt16BE(relayed + 2)
  return end - inner < 4 ? undefined : { inner, end }
}

/** DHCPv6 through a relay: Relay-Forwards stamped from a template (xid, DUID, peer-address), Relay-Replies read in place. */
class Dhcp6Relay implements RelayProtocol {
  readonly xidBits = 24
  readonly port = 547
  readonly server: string
  /** The Relay-Forward around a Solicit, stamped per client. */
  readonly #solicit: Buffer
  /** Where the relayed message starts in what we send (after the relay header, the interface-id
   * and option 9's header). */
  readonly #innerAt: number
  /** The link-address's 16 bytes, parsed once. */
  readonly #link: Buffer

  constructor(readonly options: LoadGenerator6Options) {
    this.server = options.server
    this.#link = parseIp(options.linkAddress).bytes
    this.#innerAt = 34 + (options.interfaceId ? 4 + options.interfaceId.length : 0) + 4
    this.#solicit = this.#relayForward(1, EMPTY_IA_NA)
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

  /** Puts the exchange's transaction id, MAC (in the DUID) and a peer-address made of the MAC into `b`. */
  #stamp(b: Buffer, e: RelayExchange): Buffer {
    b.writeUIntBE(e.mac, 28, 6)
    b.writeUIntBE(e.xid, this.#innerAt + 1, 3)
    b.writeUIntBE(e.mac, this.#innerAt + 12, 6)
    return b
  }

  first(e: RelayExchange): Buffer {
    return this.#stamp(Buffer.from(this.#solicit), e)
  }

  xidOf(b: Buffer): number {
    const m = relayedMessage(b)
    return m ? b.readUIntBE(m.inner + 1, 3) : -1
  }

  answer(b: Buffer, e: RelayExchange): ReplyVerdict {
    const { inner, end } = relayedMessage(b)!
    const type = b[inner]!
    if (!(e.step === 'first' && type === ADVERTISE) && !(e.step === 'second' && type === REPLY)) return 'ignore'
    const client = findOption(b, inner + 4, end, OPTION_CLIENTID)
    if (client < 0 || b.readUIntBE(client + 8, 6) !== e.mac) return 'ignore'
    const ia = findOption(b, inner + 4, end, OPTION_IA_NA)
    const iaEnd = ia < 0 ? -1 : ia + 4 + b.readUInt16BE(ia + 2)
    const address = ia < 0 ? -1 : findOption(b, ia + 16, iaEnd, OPTION_IAADDR)
    // NoAddrsAvail (or any status instead of an address): this client is done, without a lease.
    if (address < 0) return 'refused'
    if (e.step === 'second') return 'done'
    const server = findOption(b, inner + 4, end, OPTION_SERVERID)
    if (server < 0) return 'ignore'
    // RFC 8415 18.2.2: the Request names the server and carries the IA as advertised.
    e.message = this.#stamp(this.#relayForward(REQUEST, b.subarray(server, server + 4 + b.readUInt16BE(server + 2)), b.subarray(ia, iaEnd)), e)
    return 'next'
  }
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
  readonly #engine: RelayLoad

  private constructor(
    readonly options: LoadGenerator6Options,
    socket: UdpSocket,
  ) {
    this.#engine = new RelayLoad(socket, new Dhcp6Relay(options), () => new Dhcp6Error('LAB_ERR_DHCP6_CLOSED', 'load generator is closed'), options.logger)
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

  /** Does `clients` exchanges (after any run still going) and returns what they measured. Throws ArgumentError for a bad count or window. */
  run(options: LoadRun6Options): Promise<LoadResult6> {
    const { duidBase, onReply, onExchange, ...window } = options
    return this.#engine.run({
      ...window,
      base: duidBase ?? 0,
      ...(onReply || onExchange
        ? {
            onDone: (e, b, t) => {
              onExchange?.({ startedMs: t.startedMs, latencyMs: t.latencyMs, advertiseMs: t.firstAnswerMs })
              if (onReply) {
                const relay = decodeMessage(b) as Dhcp6RelayMessage
                const reply = relay.message as Dhcp6Message
                onReply({ mac: formatMacNumber(e.mac), address: reply.options.get(3)!.options.get(5)!.address, reply, relay })
              }
            },
          }
        : {}),
    })
  }

  /** Ends a run in progress (its unfinished exchanges count as failed) and closes the socket; idempotent. */
  async close(): Promise<void> {
    await this.#engine.close()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}
