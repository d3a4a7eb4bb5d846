// The DHCPv6 server: per served interface an IPv6 UdpSocket on port 547, bound to the device and
// joined to ff02::1:2 (All_DHCP_Relay_Agents_and_Servers); the subnets; the responder; the binding
// database. Subnet choice: a relay's link-address, else one of the interface's own addresses,
// else the first subnet. With `durability: 'commit'` (the default) a Reply that binds leaves only
// once its bindings are on stable storage; with 'none' once they are written to the lease file (in
// the page cache). Malformed packets are counted and dropped; nothing a client sends stops the server.
//
// As @lab/dhcp4's server: replies leave in small groups. Every CHUNK messages handled, the replies
// made so far go out in one sendmmsg and, with 'commit', the journal's write of the chunk's
// bindings starts; its binding Replies wait on one durable() promise together. A turn of the event
// loop handles at most TURN messages: the rest wait (in arrival order) for the next turn, so that
// journal writes that completed meanwhile release their Replies between two bursts.
import { channel } from 'node:diagnostics_channel'
import { EventEmitter } from 'node:events'
import type { Registry } from 'prom-client'
import { checkServerOptions, debugEnabled, journalHealth, serverMetrics, type ServerHealth, type ServerMetrics } from '@lab/dhcp4'
import { ArgumentError, Netlink, UdpSocket, silentLogger, type Datagram, type Logger, type OutgoingDatagram } from '@lab/netlink-native'
import type { Duid } from '../codec/duid.js'
import { Dhcp6DecodeError } from '../codec/errors.js'
import { Dhcp6Message, Dhcp6RelayMessage, decodeMessage, type AnyDhcp6Message } from '../codec/message.js'
import type { IaTa } from '../codec/ia.js'
import { Dhcp6Options } from '../codec/options.js'
import { STATUS, statusName, type StatusCode } from '../codec/status.js'
import { Dhcp6Error } from '../errors.js'
import { BindingDatabase } from './bindings.js'
import type { Lease6 } from './lease.js'
import { respond, type Dhcp6Outcome, type Dhcp6ResponderEvent } from './responder.js'
import { Subnet6, type Dhcp6SubnetConfig } from './subnet.js'


/** RFC 8415 7.1: the group servers and relays listen on, and the ports. */
export const ALL_DHCP_RELAY_AGENTS_AND_SERVERS = 'ff02::1:2'
export const SERVER_PORT = 547
export const CLIENT_PORT = 546

/**
 * Messages handled between two sends of the replies made so far (and two journal batches). 32
 * measured best with 'commit' against 16 and 64 (6 700–8 900 exchanges/s against 4 700–6 400 and
 * 4 200–7 900 in the bench, single rounds at a load of 14–18).
 */
const CHUNK = 32
/** Messages handled per turn of the event loop; more wait for the next turn. */
const TURN = 64

/** What a binding Reply waits for before it leaves (see Dhcp6ServerOptions.durability). */
export type Durability = 'commit' | 'none'

/** `lab:dhcp6:lease`: a binding made durable (and answered), released, declined or expired. */
export const lease6Channel = channel('lab:dhcp6:lease')
/** `lab:dhcp6:health`: a server's health, on every change. */
export const health6Channel = channel('lab:dhcp6:health')

export interface Lease6Event {
  event: 'bind' | 'release' | 'decline' | 'expire'
  lease: Lease6
  interfaces: string[]
}

export type Dhcp6ServerHealth = ServerHealth

export interface Dhcp6ServerOptions {
  /** The namespace to serve in: a name under /run/netns or a path. Default: this process's. */
  netns?: string
  /** The interface, or interfaces, served: one socket each, joined to ff02::1:2 there. */
  interface: string | string[]
  /** The prefixes served; a relayed one needs no address of ours. */
  subnets: Dhcp6SubnetConfig[]
  /** Lease journal (its directory is created if needed); in memory only when omitted. */
  leaseFile?: string
  /**
   * When a Reply that binds may leave, with a `leaseFile`. 'commit' (default): once its bindings
   * are on stable storage (the journal is written O_DSYNC, group-committed): no acknowledged
   * binding is lost, whatever stops the process or the machine. 'none': once they are written to
   * the file (synchronously, without waiting for the disk), as Kea's memfile does: a killed or
   * crashed process loses nothing, a machine that loses power or panics may lose the last seconds
   * of bindings (those the kernel had not written back yet).
   */
  durability?: Durability
  /** This server's DUID (default: DUID-LL of the first interface's MAC). */
  serverId?: Duid
  /** Preference (option 7) sent in Advertise; 255 makes clients take the offer at once (RFC 8415 18.2.1). */
  preference?: number
  /** Answer a Solicit carrying rapid commit with a Reply (default true). */
  rapidCommit?: boolean
  /** How long an advertised address is held, ms (default 60 s). */
  offerHoldMs?: number
  /** How often expired bindings and lapsed offers are swept, ms (default 10 s). */
  sweepIntervalMs?: number
  /** UDP port to listen on (default 547); tests and benchmarks may move it. */
  port?: number
  logger?: Logger
}

export interface Dhcp6ServerCounters {
  received: number
  malformed: number
  /** Relay-Forward messages among those received. */
  relayed: number
  advertises: number
  /** Replies that bound or extended (Request, Renew, Rebind, rapid commit). */
  replies: number
  releases: number
  declines: number
  confirms: number
  informations: number
  /** Solicits and Requests that found no address or prefix. */
  exhausted: number
  /** Messages left unanswered because their binding could not be written to the journal. */
  withheld: number
  /** Messages for another server, without a client id, and server messages: not answered. */
  ignored: number
  expired: number
  /**
   * Replies that carried a status code other than Success (the message's own or an IA's), by the
   * code's name (NoAddrsAvail, NoBinding, NotOnLink, ...), each code once per reply: DHCPv6's
   * answers of "no", where DHCPv4 has NAKs.
   */
  statusCodes: Record<string, number>
  /** Per subnet (its prefix), addresses and delegated prefixes a new client could get. */
  poolFree: Record<string, { addresses?: number; prefixes?: number }>
  journal?: { records: number; commits: number; failures: number }
}

type Counter = Exclude<keyof Dhcp6ServerCounters, 'poolFree' | 'journal' | 'statusCodes'>

const COUNTER: Record<Dhcp6ResponderEvent, Counter> = {
  advertise: 'advertises',
  reply: 'replies',
  'reply-durable': 'replies',
  exhausted: 'exhausted',
  withheld: 'withheld',
  release: 'releases',
  decline: 'declines',
  confirm: 'confirms',
  information: 'informations',
  'not-for-us': 'ignored',
  'not-request': 'ignored',
}

interface Port {
  name: string
  ifindex: number
  addresses: string[]
  udp: UdpSocket
  /** Replies ready to leave, with one sendmmsg. */
  outbox: OutgoingDatagram[]
  /** Binding Replies made since the last send: they leave once their bindings are written. */
  replies: PendingReply[]
  /** Messages handled since the replies were last sent. */
  handled: number
  /** Messages handled in this turn of the event loop. */
  turn: number
  /** Messages that arrived after this turn's TURN: handled at the next turns, in order. */
  backlog: Datagram[]
  /** A flush at the end of this turn of the event loop is set. */
  scheduled: boolean
  /** Ends the turn: sends what is ready, handles the backlog (made once per port: no closure per packet). */
  flush: () => void
}

/** A Reply that binds, encoded, waiting for its bindings to be written. */
interface PendingReply {
  data: Buffer
  address: string
  port: number
  type: string
  arrived: number
  leases: Lease6[]
}

type PortBase = Pick<Port, 'name' | 'ifindex' | 'addresses'>

export class DhcpV6Server extends EventEmitter<{ health: [Dhcp6ServerHealth] }> {
  readonly interfaces: string[]
  readonly #counts: Record<Counter, number> = { received: 0, malformed: 0, relayed: 0, advertises: 0, replies: 0, releases: 0, declines: 0, confirms: 0, informations: 0, exhausted: 0, withheld: 0, ignored: 0, expired: 0 }
  readonly #ports: Port[]
  readonly #sweeper: NodeJS.Timeout
  /** Messages received by type (the client's, inside any relay), sent by type: read by the metrics. */
  readonly #received = new Map<string, number>()
  readonly #sent = new Map<string, number>()
  /** Status codes other than Success sent, by name. */
  readonly #statusCodes = new Map<string, number>()
  readonly #metrics: ServerMetrics
  #health: Dhcp6ServerHealth = { ok: true }
  #stopped = false
  /** Binding Replies may leave as soon as db.writeNow() returns true: 'none', or no lease file. */
  readonly #writeNow: boolean
  readonly #debug: boolean

  private constructor(
    readonly options: Dhcp6ServerOptions,
    readonly subnets: Subnet6[],
    readonly db: BindingDatabase,
    readonly serverId: Duid,
    ports: Port[],
    readonly logger: Logger,
  ) {
    super()
    this.interfaces = ports.map((p) => p.name)
    this.#ports = ports
    this.#writeNow = options.durability === 'none' || !options.leaseFile
    this.#metrics = serverMetrics(
      'lab_dhcp6',
      {
        received: this.#received,
        sent: this.#sent,
        naks: new Map(),
        statusCodes: this.#statusCodes,
        counts: () => this.#counts,
        pools: () =>
          subnets.flatMap((s) =>
            [s.na, s.pd].flatMap((pool) => (pool ? [{ subnet: s.config.prefix, kind: pool.kind, size: Number(pool.size), free: db.free(pool), active: db.active(pool) }] : [])),
          ),
        journal: () => db.journalCounters(),
        healthy: () => this.#health.ok,
      },
      { messageTypes: ['SOLICIT', 'REQUEST', 'CONFIRM', 'RENEW', 'REBIND', 'RELEASE', 'DECLINE', 'INFORMATION-REQUEST'], poolKinds: true },
    )
    this.#debug = debugEnabled(logger)
    for (const port of ports) {
      port.flush = () => this.#endTurn(port)
      port.udp.on('message', (d) => this.#receive(port, d))
      port.udp.on('error', (e) => logger.error({ err: e, interface: port.name }, 'socket error'))
    }
    this.#sweeper = setInterval(() => this.sweep(), options.sweepIntervalMs ?? 10_000)
    this.#sweeper.unref()
  }

  /**
   * Starts serving: reads the interfaces, opens (or creates) the lease journal, binds UDP port 547
   * on each interface and joins ff02::1:2 there. Throws ArgumentError for bad options; Dhcp6Error
   * LAB_ERR_DHCP6_INTERFACE_BUSY when another DHCPv6 server already serves an interface in that
   * namespace; LAB_ERR_DHCP6_LEASE_FILE when the lease file cannot be created.
   */
  static async start(options: Dhcp6ServerOptions): Promise<DhcpV6Server> {
    const logger = options.logger ?? silentLogger
    const names = checkServerOptions(options)
    if (options.preference !== undefined && !(Number.isInteger(options.preference) && options.preference >= 0 && options.preference <= 255)) throw new ArgumentError('preference', '0..255')
    const subnets = options.subnets.map((c) => new Subnet6(c))
    const nl = await Netlink.open({ netns: options.netns })
    const found: Array<PortBase & { mac: string | undefined }> = []
    try {
      for (const name of names) {
        const link = await nl.link.get(name)
        const addresses = (await nl.addr.list({ link: link.index, family: 6 })).map((a) => a.address)
        found.push({ name, ifindex: link.index, addresses, mac: link.address })
      }
    } finally {
      await nl.close()
    }
    const mac = found.find((p) => p.mac && p.mac !== '00:00:00:00:00:00')?.mac
    const serverId: Duid = options.serverId ?? (mac ? { type: 'll', hardwareType: 1, linkLayerAddress: mac } : undefined)!
    if (!serverId) throw new ArgumentError('serverId', `none of ${names.join(', ')} has a MAC address to make a DUID from: give serverId`)
    let server: DhcpV6Server | undefined
    const db = await BindingDatabase.open({
      ...(options.leaseFile ? { journalPath: options.leaseFile } : {}),
      ...(options.offerHoldMs !== undefined ? { offerHoldMs: options.offerHoldMs } : {}),
      journal: {
        sync: options.durability !== 'none',
        onFailure: (failure) => server!.#journalFailure(failure),
        onWrite: (write) => {
          if (server) server.#metrics.write(write)
        },
        onCompactionError: (error) => logger.warn({ err: error, leaseFile: options.leaseFile }, 'lease journal not compacted (appending goes on; tried again later)'),
      },
    })
    const ports: Port[] = []
    try {
      for (const p of found) {
        let udp: UdpSocket
        try {
          // No SO_REUSEADDR: a second server on this interface (ours, Kea, dnsmasq) is refused.
          udp = await UdpSocket.open({ netns: options.netns, address: '::', port: options.port ?? SERVER_PORT, interface: p.name, multicastGroups: [ALL_DHCP_RELAY_AGENTS_AND_SERVERS], batch: 64, receiveBufferBytes: 4 << 20 })
        } catch (error) {
          if ((error as { code?: string }).code !== 'EADDRINUSE') throw error
          throw new Dhcp6Error('LAB_ERR_DHCP6_INTERFACE_BUSY', `another DHCPv6 server already serves ${p.name}${options.netns ? ` in netns ${options.netns}` : ''} (UDP port ${options.port ?? SERVER_PORT} there is taken)`, { cause: error })
        }
        ports.push({ name: p.name, ifindex: p.ifindex, addresses: p.addresses, udp, outbox: [], replies: [], handled: 0, turn: 0, backlog: [], scheduled: false, flush: () => undefined })
      }
    } catch (error) {
      for (const p of ports) await p.udp.close()
      await db.close()
      throw error
    }
    logger.info({ interfaces: names, subnets: options.subnets.map((c) => c.prefix), leases: db.list().length, damagedRecords: db.damagedRecords }, 'serving')
    server = new DhcpV6Server(options, subnets, db, serverId, ports, logger)
    return server
  }

  /** `{ ok: true }` while new bindings can be made; `{ ok: false, reason }` while the journal cannot be written. */
  get health(): Dhcp6ServerHealth {
    return this.#health
  }

  /**
   * This server's Prometheus metrics (`lab_dhcp6_*`), in a registry of its own: serve it with
   * `registry.metrics()` or merge it with others (`Registry.merge`); nothing is registered globally.
   */
  metrics(): Registry {
    return this.#metrics.registry
  }

  #journalFailure(failure: Error | undefined): void {
    const health = journalHealth(this.#health, failure, this.options.leaseFile, this.logger)
    if (!health) return
    this.#health = health
    this.emit('health', health)
    if (health6Channel.hasSubscribers) health6Channel.publish({ health, interfaces: this.interfaces, ...(this.options.netns ? { netns: this.options.netns } : {}) })
  }

  #publish(event: Lease6Event['event'], lease: Lease6): void {
    if (lease6Channel.hasSubscribers) lease6Channel.publish({ event, lease, interfaces: this.interfaces } satisfies Lease6Event)
  }

  /** A datagram read: handled now, or at a later turn once this one has handled TURN messages. */
  #receive(port: Port, d: Datagram): void {
    if (port.turn >= TURN || port.backlog.length > 0) {
      port.backlog.push(d)
      this.#scheduleEnd(port)
      return
    }
    port.turn++
    this.#scheduleEnd(port)
    this.#handle(port, d)
  }

  #scheduleEnd(port: Port): void {
    if (port.scheduled) return
    port.scheduled = true
    setImmediate(port.flush)
  }

  /** The end of a turn: what is ready leaves; the backlog, up to TURN of it, is handled. */
  #endTurn(port: Port): void {
    port.scheduled = false
    this.#flush(port)
    port.turn = 0
    if (port.backlog.length === 0 || this.#stopped) return
    const n = Math.min(TURN, port.backlog.length)
    const batch = port.backlog.splice(0, n)
    port.turn = n
    for (const d of batch) this.#handle(port, d)
    // Whatever is still queued, and the replies just made, go at the next turn.
    this.#scheduleEnd(port)
  }

  #handle(port: Port, d: Datagram): void {
    const arrived = performance.now()
    this.#counts.received++
    let message: AnyDhcp6Message
    try {
      message = decodeMessage(d.data)
    } catch (error) {
      if (!(error instanceof Dhcp6DecodeError)) throw error
      this.#counts.malformed++
      if (this.#debug) this.logger.debug({ from: d.from, reason: error.reason }, 'malformed packet dropped')
      return
    }
    // Relay-Forward chains: the client's message is in the innermost one; the relay nearest the
    // client names the link (RFC 8415 19.1.1), and the reply retraces the chain (19.3).
    let relays: Dhcp6RelayMessage[] | undefined
    let inner: AnyDhcp6Message | undefined = message
    while (inner?.relay && inner.type === 'RELAY-FORW') {
      ;(relays ??= []).push(inner)
      inner = inner.message
    }
    if (!inner || inner.relay) {
      this.#counts.ignored++
      return
    }
    this.#received.set(inner.type, (this.#received.get(inner.type) ?? 0) + 1)
    let linkAddress: string | undefined
    if (relays) {
      this.#counts.relayed++
      for (let i = relays.length - 1; i >= 0 && linkAddress === undefined; i--) if (relays[i]!.linkAddress !== '::') linkAddress = relays[i]!.linkAddress
    }
    const subnet = linkAddress !== undefined ? this.#subnetOf(linkAddress) : this.#localSubnet(port)
    if (!subnet) {
      this.#counts.ignored++
      if (this.#debug) this.logger.debug({ linkAddress, interface: port.name }, 'no subnet for the relay link')
      return
    }
    const mac = relays ? relays[relays.length - 1]!.options.get(79) : undefined
    let outcome: Dhcp6Outcome
    try {
      outcome = respond(inner, {
        subnet,
        db: this.db,
        serverId: this.serverId,
        mac: mac && mac.hardwareType === 1 ? mac.address : undefined,
        preference: this.options.preference,
        rapidCommit: this.options.rapidCommit,
      })
    } catch (error) {
      // A value the reply cannot carry (or a bug): this one message goes unanswered, the server goes on.
      this.#counts.ignored++
      this.logger.warn({ err: error, transactionId: inner.transactionId }, 'message not answered')
      return
    }
    this.#counts[COUNTER[outcome.event]]++
    if (outcome.event === 'release' || outcome.event === 'decline') {
      for (const lease of outcome.leases) this.#publish(outcome.event, lease)
      this.logger.info({ event: outcome.event, leases: outcome.leases.map((l) => l.address) }, outcome.event)
    } else if (outcome.event === 'exhausted') {
      this.logger.warn({ prefix: subnet.config.prefix }, 'pool exhausted')
    }
    const reply = outcome.reply
    if (reply) {
      this.#countStatusCodes(reply)
      let data: Buffer | undefined
      try {
        data = (relays ? this.#wrap(reply, relays) : reply).encode()
      } catch (error) {
        this.#counts.ignored++
        this.logger.warn({ err: error }, 'reply not encoded')
      }
      if (data) {
        const toPort = relays ? SERVER_PORT : d.from.port
        // The client may use what it binds as soon as it reads the Reply: the binding must be written first.
        if (outcome.event === 'reply') port.replies.push({ data, address: d.from.address, port: toPort, type: reply.type, arrived, leases: outcome.leases })
        else this.#send(port, data, d.from.address, toPort, reply.type, arrived)
      }
    }
    if (++port.handled >= CHUNK) this.#flush(port)
  }

  /**
   * Counts the status codes other than Success a reply carries, the message's own and each IA's,
   * each once per reply (a Solicit that found nothing says NoAddrsAvail in its IA and for the
   * whole message: one answer of "no").
   */
  #countStatusCodes(reply: Dhcp6Message): void {
    const list = reply.options.list
    let counted: number[] | undefined
    for (let i = 0; i < list.length; i++) {
      const o = list[i]!
      let status: StatusCode | undefined
      if (o.code === 13) status = o.value as StatusCode
      else if (o.code === 3 || o.code === 25 || o.code === 4) status = (o.value as IaTa).options?.get(13)
      if (!status || status.code === STATUS.Success || counted?.includes(status.code)) continue
      ;(counted ??= []).push(status.code)
      const name = statusName(status.code)
      this.#statusCodes.set(name, (this.#statusCodes.get(name) ?? 0) + 1)
    }
  }

  /** The subnet holding a relay's link-address. */
  #subnetOf(address: string): Subnet6 | undefined {
    for (const s of this.subnets) if (s.contains(address)) return s
    return undefined
  }

  /** A direct client's subnet: the one holding one of the interface's addresses, else the first. */
  #localSubnet(port: Port): Subnet6 | undefined {
    for (const a of port.addresses) {
      const s = this.#subnetOf(a)
      if (s) return s
    }
    return this.subnets[0]
  }

  /**
   * Sends the replies made so far; the binding Replies of this chunk once their bindings are
   * written (on stable storage with 'commit': one durable() wait for all of them, the journal's
   * write started now).
   */
  #flush(port: Port): void {
    port.handled = 0
    if (port.replies.length > 0) {
      const replies = port.replies
      port.replies = []
      if (this.#writeNow && this.db.writeNow()) {
        for (const r of replies) this.#sendReply(port, r)
      } else {
        this.db.commitSoon()
        this.db.durable().then(
          () => {
            for (const r of replies) this.#sendReply(port, r)
            this.#sendOutbox(port)
          },
          (error: unknown) => {
            // Not sent: counted as withheld. The journal's failure itself is logged once, as an
            // error, where the server learns of it (#journalFailure); this is one of its effects.
            this.#counts.replies -= replies.length
            this.#counts.withheld += replies.length
            if (this.#debug) this.logger.debug({ err: error, replies: replies.length }, 'bindings not durable: Replies withheld')
          },
        )
      }
    }
    this.#sendOutbox(port)
  }

  #sendReply(port: Port, r: PendingReply): void {
    for (const lease of r.leases) this.#publish('bind', lease)
    this.#send(port, r.data, r.address, r.port, r.type, r.arrived)
  }

  #wrap(reply: Dhcp6Message, relays: Dhcp6RelayMessage[]): AnyDhcp6Message {
    let out: AnyDhcp6Message = reply
    for (let i = relays.length - 1; i >= 0; i--) {
      const r = relays[i]!
      const options = new Dhcp6Options()
      // RFC 8415 19.3: the interface-id goes back as the relay sent it.
      const interfaceId = r.options.get(18)
      if (interfaceId) options.add(18, interfaceId)
      options.add(9, out)
      out = new Dhcp6RelayMessage({ type: 'RELAY-REPL', hopCount: r.hopCount, linkAddress: r.linkAddress, peerAddress: r.peerAddress, options })
    }
    return out
  }

  /** Queues a reply for the next sendmmsg (#flush sends the outbox). */
  #send(port: Port, data: Buffer, address: string, toPort: number, type: string, arrived: number): void {
    if (this.#stopped) return
    this.#sent.set(type, (this.#sent.get(type) ?? 0) + 1)
    this.#metrics.exchange(type, (performance.now() - arrived) / 1000)
    port.outbox.push({ data, address, port: toPort })
  }

  #sendOutbox(port: Port): void {
    if (port.outbox.length === 0 || this.#stopped) return
    const batch = port.outbox
    port.outbox = []
    port.udp.sendBatch(batch).catch((error: unknown) => this.logger.warn({ err: error, replies: batch.length }, 'replies not sent'))
  }

  /** Frees expired bindings and lapsed offers; runs every sweepIntervalMs. */
  sweep(): void {
    const { expired } = this.db.sweep()
    this.#counts.expired += expired.length
    for (const lease of expired) {
      this.#publish('expire', lease)
      this.logger.info({ event: 'expired', address: lease.address, duid: lease.duid }, 'binding expired')
    }
  }

  /** The counters and free addresses and prefixes per subnet, as a fresh JSON-ready object. */
  counters(): Dhcp6ServerCounters {
    const poolFree: Dhcp6ServerCounters['poolFree'] = {}
    for (const s of this.subnets) {
      poolFree[s.config.prefix] = { ...(s.na ? { addresses: this.db.free(s.na) } : {}), ...(s.pd ? { prefixes: this.db.free(s.pd) } : {}) }
    }
    const journal = this.db.journalCounters()
    return { ...this.#counts, statusCodes: Object.fromEntries(this.#statusCodes), poolFree, ...(journal ? { journal } : {}) }
  }

  /** Stops answering, closes the sockets and writes what the journal still holds; idempotent. */
  async stop(): Promise<void> {
    if (this.#stopped) return
    this.#stopped = true
    clearInterval(this.#sweeper)
    for (const p of this.#ports) await p.udp.close()
    try {
      await this.db.close()
    } catch (error) {
      this.logger.error({ err: error, leaseFile: this.options.leaseFile }, 'lease records lost at stop')
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop()
  }
}
