// The DHCP server: per served interface a device-bound UdpSocket on port 67 (drained with
// recvmmsg) and an AF_PACKET socket for unicasts to clients without an address; the subnets; the
// responder; the lease database. Subnet choice: the relay's giaddr, else the client's ciaddr, else
// the receiving interface's address. With `durability: 'commit'` (the default) an ACK leaves only
// once its lease is on stable storage; with 'none' once it is written to the lease file (in the
// page cache). Malformed packets are counted and dropped; nothing a client sends stops the server.
//
// Replies leave in small groups: every CHUNK requests handled, the replies made so far go out in
// one sendmmsg (and, with 'commit', the journal's write starts), instead of after the whole
// receive queue has been read; what is left goes out at the end of that turn of the event loop.
import { channel } from 'node:diagnostics_channel'
import { EventEmitter } from 'node:events'
import type { Registry } from 'prom-client'
import { ArgumentError, BPF, Netlink, PacketSocket, UdpSocket, bpf, silentLogger, type Datagram, type Logger, type OutgoingDatagram } from '@lab/netlink-native'
import { DhcpDecodeError } from '../codec/errors.js'
import { DhcpMessage } from '../codec/message.js'
import { DhcpError } from '../errors.js'
import { encodeIpv4Udp } from '../wire/ipv4-udp.js'
import type { Lease } from './lease.js'
import { LeaseDatabase } from './lease-db.js'
import { serverMetrics, type ServerMetrics } from './metrics.js'
import { checkServerOptions, debugEnabled, journalHealth, type ServerHealth } from './server-common.js'
import { ReplyEncoder } from './reply-encoder.js'
import { respond, type Context as ResponderContext, type Outcome, type ResponderEvent } from './responder.js'
import { Subnet, type SubnetConfig } from './subnet.js'

/** The packet socket only sends: a filter that accepts nothing keeps its receive queue empty. */
const SEND_ONLY = [bpf(BPF.RET_K, 0, 0, 0)]

/** Requests handled between two sends of the replies made so far. */
const CHUNK = 16

/** What an ACK waits for before it leaves (see DhcpServerOptions.durability). */
export type Durability = 'commit' | 'none'

/** `lab:dhcp4:lease`: a binding made durable (and acknowledged), released, declined or expired. */
export const leaseChannel = channel('lab:dhcp4:lease')
/** `lab:dhcp4:health`: a server's health, on every change. */
export const healthChannel = channel('lab:dhcp4:health')

/** What `lab:dhcp4:lease` carries. */
export interface LeaseEvent {
  event: 'bind' | 'release' | 'decline' | 'expire'
  lease: Lease
  /** The interfaces of the server that made it. */
  interfaces: string[]
}

export type DhcpServerHealth = ServerHealth

/** What `lab:dhcp4:health` carries. */
export interface HealthEvent {
  health: DhcpServerHealth
  interfaces: string[]
  netns?: string
}

export interface DhcpServerOptions {
  /** The namespace to serve in: a name under /run/netns or a path. Default: this process's. */
  netns?: string
  /** The interface, or interfaces, served (bridges, veths, TAPs): one device-bound socket each. */
  interface: string | string[]
  /** The subnets served; a relayed subnet needs no address of ours on any interface. */
  subnets: SubnetConfig[]
  /** Lease journal (its directory is created if needed); in memory only when omitted. */
  leaseFile?: string
  /**
   * When an ACK may leave, with a `leaseFile`. 'commit' (default): once its lease is on stable
   * storage (the journal is written O_DSYNC, group-committed): no acknowledged lease is lost,
   * whatever stops the process or the machine. 'none': once its lease is written to the file
   * (synchronously, without waiting for the disk), as Kea's memfile does: a killed or crashed
   * process loses nothing, a machine that loses power or panics may lose the last seconds of
   * leases (those the kernel had not written back yet).
   */
  durability?: Durability
  /** This server's address for clients on an interface without an address in their subnet. */
  serverId?: string
  /** How long an offered address is held, ms (default 60 s). */
  offerHoldMs?: number
  /** How often expired leases and lapsed offers are swept, ms (default 10 s). */
  sweepIntervalMs?: number
  /** A pino-shaped logger; the server logs nothing without one. */
  logger?: Logger
}

export interface DhcpServerCounters {
  received: number
  malformed: number
  offers: number
  /** ACKs of a lease sent, including those made from durable leases while the journal failed. */
  acks: number
  naks: number
  informs: number
  releases: number
  declines: number
  /** Requests for no subnet of ours, another server's offer, and the like: not answered. */
  ignored: number
  /** DISCOVERs not answered because the pool was exhausted. */
  exhausted: number
  /** Requests left unanswered because their binding could not be written to the journal. */
  withheld: number
  expired: number
  /** Per subnet, addresses a new client could get. */
  poolFree: Record<string, number>
  journal?: { records: number; commits: number; failures: number }
}

type Counter = Exclude<keyof DhcpServerCounters, 'poolFree' | 'journal'>

/** Which counter each of the responder's outcomes adds to. */
const COUNTER: Record<ResponderEvent, Counter> = {
  offer: 'offers',
  exhausted: 'exhausted',
  ack: 'acks',
  'ack-durable': 'acks',
  nak: 'naks',
  withheld: 'withheld',
  'not-selected': 'ignored',
  'unknown-client': 'ignored',
  'bad-request': 'ignored',
  release: 'releases',
  decline: 'declines',
  inform: 'informs',
  'not-request': 'ignored',
}

interface Port {
  name: string
  ifindex: number
  mac: string
  addresses: string[]
  udp: UdpSocket
  raw: PacketSocket
  /** Replies ready to leave, with one sendmmsg. */
  outbox: OutgoingDatagram[]
  /** ACKs made since the last send: they leave once their leases are written (durably with 'commit'). */
  acks: PendingAck[]
  /** Requests handled since the replies were last sent. */
  handled: number
  /** A send at the end of this turn of the event loop is set. */
  scheduled: boolean
  /** Sends what is ready (made once per port: no closure per packet). */
  flush: () => void
}

interface PendingAck {
  reply: DhcpMessage
  lease: Lease
  arrived: number
}

export class DhcpServer extends EventEmitter<{ health: [DhcpServerHealth] }> {
  readonly interfaces: string[]
  readonly #counts: Record<Counter, number> = { received: 0, malformed: 0, offers: 0, acks: 0, naks: 0, informs: 0, releases: 0, declines: 0, ignored: 0, exhausted: 0, withheld: 0, expired: 0 }
  readonly #ports: Port[]
  readonly #sweeper: NodeJS.Timeout
  readonly #debug: boolean
  /** Messages received by type, sent by type, NAKs by reason: read by the metrics when scraped. */
  readonly #received = new Map<string, number>()
  readonly #sent = new Map<string, number>()
  readonly #naks = new Map<string, number>()
  readonly #metrics: ServerMetrics
  #health: DhcpServerHealth = { ok: true }
  #stopped = false
  /** ACKs may leave as soon as db.writeNow() returns true: 'none', or no lease file. */
  readonly #writeNow: boolean
  /** Replies' bytes, with the subnet's repeated option values encoded once. */
  readonly #encoder = new ReplyEncoder()
  /** What #select fills in for each request (see there). */
  readonly #context: ResponderContext
  /** The subnet of the last relay address seen: relayed requests mostly come from a few relays. */
  #lastRelay = ''
  #lastRelaySubnet: Subnet | undefined

  private constructor(
    readonly options: DhcpServerOptions,
    readonly subnets: Subnet[],
    readonly db: LeaseDatabase,
    ports: Port[],
    readonly logger: Logger,
  ) {
    super()
    this.interfaces = ports.map((p) => p.name)
    this.#ports = ports
    this.#writeNow = options.durability === 'none' || !options.leaseFile
    this.#context = { subnet: subnets[0]!, db, serverId: '' }
    this.#metrics = serverMetrics(
      'lab_dhcp4',
      {
        received: this.#received,
        sent: this.#sent,
        naks: this.#naks,
        counts: () => this.#counts,
        pools: () => subnets.map((s) => ({ subnet: s.config.subnet, size: s.pool.size - s.pool.excludedInRange, free: db.free(s.pool), active: db.active(s.pool) })),
        journal: () => db.journalCounters(),
        healthy: () => this.#health.ok,
      },
      { messageTypes: ['DISCOVER', 'REQUEST', 'DECLINE', 'RELEASE', 'INFORM'], naks: true },
    )
    this.#debug = debugEnabled(logger)
    for (const port of ports) {
      port.flush = () => this.#flush(port)
      port.udp.on('message', (d) => this.#handle(port, d))
      port.udp.on('error', (e) => logger.error({ err: e, interface: port.name }, 'socket error'))
      port.raw.on('error', (e) => logger.error({ err: e, interface: port.name }, 'packet socket error'))
    }
    this.#sweeper = setInterval(() => this.sweep(), options.sweepIntervalMs ?? 10_000)
    this.#sweeper.unref()
  }

  /**
   * Starts serving: reads the interfaces' addresses, opens (or creates) the lease journal, binds
   * port 67 on each interface. Throws ArgumentError for bad options; DhcpError
   * LAB_ERR_DHCP_INTERFACE_BUSY when another DHCP server (ours, dnsmasq, ...) already serves one
   * of the interfaces in that namespace; LAB_ERR_DHCP_LEASE_FILE when the lease file or its
   * directory cannot be created.
   */
  static async start(options: DhcpServerOptions): Promise<DhcpServer> {
    const logger = options.logger ?? silentLogger
    const names = checkServerOptions(options)
    const subnets = options.subnets.map((c) => new Subnet(c))
    for (const [i, a] of subnets.entries()) {
      for (const b of subnets.slice(i + 1)) {
        if (a.pool.contains(b.pool.network + 1) || b.pool.contains(a.pool.network + 1)) throw new ArgumentError('subnets', `${a.config.subnet} and ${b.config.subnet} overlap`)
      }
    }
    const nl = await Netlink.open({ netns: options.netns })
    const found: Array<Omit<Port, 'udp' | 'raw' | 'outbox' | 'acks' | 'handled' | 'scheduled' | 'flush'>> = []
    try {
      for (const name of names) {
        const link = await nl.link.get(name)
        const addresses = (await nl.addr.list({ link: link.index, family: 4 })).map((a) => a.address)
        found.push({ name, ifindex: link.index, mac: link.address ?? '00:00:00:00:00:00', addresses })
      }
    } finally {
      await nl.close()
    }
    // Relayed subnets need no local address, but replies need a source: some address of ours.
    if (!options.serverId && found.every((p) => p.addresses.length === 0)) throw new ArgumentError('serverId', `none of ${names.join(', ')} has an IPv4 address: give serverId`)
    let server: DhcpServer | undefined
    const db = await LeaseDatabase.open({
      pools: subnets.map((s) => s.pool),
      ...(options.leaseFile ? { journalPath: options.leaseFile } : {}),
      ...(options.offerHoldMs !== undefined ? { offerHoldMs: options.offerHoldMs } : {}),
      journal: {
        sync: options.durability !== 'none',
        // Failures come from writes, and writes only from requests answered after start() returned.
        onFailure: (failure) => server!.#journalFailure(failure),
        onWrite: (write) => {
          if (server) server.#metrics.write(write)
        },
        onCompactionError: (error) => logger.warn({ err: error, leaseFile: options.leaseFile }, 'lease journal not compacted (appending goes on; tried again later)'),
      },
    })
    const ports: Port[] = []
    try {
      for (const p of found) ports.push(await DhcpServer.#openPort(p, options.netns))
    } catch (error) {
      for (const p of ports) await DhcpServer.#closePort(p)
      // The journal holds nothing new: closing it cannot lose records.
      await db.close()
      throw error
    }
    logger.info({ interfaces: names, subnets: options.subnets.map((c) => c.subnet), leases: db.list().length, damagedRecords: db.damagedRecords }, 'serving')
    server = new DhcpServer(options, subnets, db, ports, logger)
    return server
  }

  static async #openPort(p: Omit<Port, 'udp' | 'raw' | 'outbox' | 'acks' | 'handled' | 'scheduled' | 'flush'>, netns: string | undefined): Promise<Port> {
    let udp: UdpSocket
    try {
      // No SO_REUSEADDR: with it, a second server on this interface (ours, or dnsmasq, which sets
      // it too) binds as well and both answer. Without it the kernel refuses the bind while any
      // socket in the namespace receives port 67 on this device or on all devices.
      udp = await UdpSocket.open({ netns, port: 67, interface: p.name, broadcast: true, batch: 64, receiveBufferBytes: 4 << 20 })
    } catch (error) {
      if ((error as { code?: string }).code !== 'EADDRINUSE') throw error
      throw new DhcpError('LAB_ERR_DHCP_INTERFACE_BUSY', `another DHCP server already serves ${p.name}${netns ? ` in netns ${netns}` : ''} (UDP port 67 there is taken)`, { cause: error })
    }
    try {
      const raw = await PacketSocket.open({ netns, interface: p.name, protocol: 'ipv4', type: 'dgram', filter: SEND_ONLY })
      return { ...p, udp, raw, outbox: [], acks: [], handled: 0, scheduled: false, flush: () => undefined }
    } catch (error) {
      await udp.close()
      throw error
    }
  }

  static async #closePort(p: Port): Promise<void> {
    await p.udp.close()
    await p.raw.close()
  }

  /**
   * `{ ok: true }` while the server can make new bindings; `{ ok: false, reason }` while its lease
   * journal cannot be written. It then answers only for leases already on disk and tries the
   * journal again with a backoff, healthy again once a write succeeds. Every change is emitted as
   * `'health'` and published on `lab:dhcp4:health`.
   */
  get health(): DhcpServerHealth {
    return this.#health
  }

  /**
   * This server's Prometheus metrics (`lab_dhcp4_*`), in a registry of its own: serve it with
   * `registry.metrics()`, or merge it with others (`Registry.merge`). Nothing is registered in
   * prom-client's global registry.
   */
  metrics(): Registry {
    return this.#metrics.registry
  }

  /** The lease database tells when the journal starts or stops failing. */
  #journalFailure(failure: Error | undefined): void {
    const health = journalHealth(this.#health, failure, this.options.leaseFile, this.logger)
    if (!health) return
    this.#health = health
    this.emit('health', health)
    if (healthChannel.hasSubscribers) healthChannel.publish({ health, interfaces: this.interfaces, ...(this.options.netns ? { netns: this.options.netns } : {}) } satisfies HealthEvent)
  }

  #publish(event: LeaseEvent['event'], lease: Lease): void {
    if (leaseChannel.hasSubscribers) leaseChannel.publish({ event, lease, interfaces: this.interfaces } satisfies LeaseEvent)
  }

  /**
   * The responder's context for a request: the subnet it belongs to, and our address as that
   * subnet's clients see it, filled into one object kept for the purpose (respond() keeps no
   * reference to it): no object per packet. Undefined when no subnet of ours fits.
   */
  #select(port: Port, request: DhcpMessage, d: Datagram): ResponderContext | undefined {
    let subnet: Subnet | undefined
    if (request.giaddr !== '0.0.0.0') {
      if (request.giaddr !== this.#lastRelay) {
        this.#lastRelaySubnet = this.#subnetOf(request.giaddr)
        this.#lastRelay = request.giaddr
      }
      subnet = this.#lastRelaySubnet
    } else if (request.ciaddr !== '0.0.0.0') subnet = this.#subnetOf(request.ciaddr)
    else {
      for (const a of port.addresses) if ((subnet = this.#subnetOf(a))) break
    }
    if (!subnet) return undefined
    let serverId: string | undefined
    if (request.giaddr === '0.0.0.0') {
      for (const a of port.addresses) {
        if (subnet.contains(a)) {
          serverId = a
          break
        }
      }
    }
    serverId ??= (d.to !== '255.255.255.255' && port.addresses.includes(d.to) ? d.to : undefined) ?? port.addresses[0] ?? this.options.serverId
    if (!serverId) return undefined
    const context = this.#context
    context.subnet = subnet
    context.serverId = serverId
    return context
  }

  #subnetOf(address: string): Subnet | undefined {
    for (const s of this.subnets) if (s.contains(address)) return s
    return undefined
  }

  #handle(port: Port, d: Datagram): void {
    const arrived = performance.now()
    this.#counts.received++
    let request: DhcpMessage
    try {
      request = DhcpMessage.decode(d.data)
    } catch (error) {
      if (!(error instanceof DhcpDecodeError)) throw error
      this.#counts.malformed++
      if (this.#debug) this.logger.debug({ from: d.from, reason: error.reason }, 'malformed packet dropped')
      return
    }
    const type = request.messageType ?? 'unknown'
    this.#received.set(type, (this.#received.get(type) ?? 0) + 1)
    const where = this.#select(port, request, d)
    if (!where) {
      this.#counts.ignored++
      if (this.#debug) this.logger.debug({ xid: request.xid, giaddr: request.giaddr, ciaddr: request.ciaddr, interface: port.name }, 'no subnet for request')
      return
    }
    let outcome: Outcome
    try {
      outcome = respond(request, where)
    } catch (error) {
      // A value the reply cannot carry (or a bug): this one request goes unanswered, the server goes on.
      this.#counts.ignored++
      this.logger.warn({ err: error, xid: request.xid }, 'request not answered')
      return
    }
    this.#counts[COUNTER[outcome.event]]++
    if (outcome.nakReason) this.#naks.set(outcome.nakReason, (this.#naks.get(outcome.nakReason) ?? 0) + 1)
    this.#report(request, outcome, where.subnet)
    const reply = outcome.reply
    if (reply) {
      // The client may use the address as soon as it reads the ACK: the lease must be written first.
      if (outcome.event === 'ack') port.acks.push({ reply, lease: outcome.lease!, arrived })
      else this.#send(port, reply, arrived)
    }
    if (++port.handled >= CHUNK) this.#flush(port)
    else if (!port.scheduled) {
      port.scheduled = true
      setImmediate(port.flush)
    }
  }

  /** Sends the replies made so far; ACKs once their leases are written (on disk with 'commit'). */
  #flush(port: Port): void {
    port.handled = 0
    port.scheduled = false
    if (port.acks.length > 0) {
      const acks = port.acks
      port.acks = []
      if (this.#writeNow && this.db.writeNow()) {
        for (const ack of acks) this.#sendAck(port, ack)
      } else {
        this.db.commitSoon()
        this.db.durable().then(
          () => {
            for (const ack of acks) this.#sendAck(port, ack)
            this.#sendOutbox(port)
          },
          (error: unknown) => {
            // Not sent: counted as withheld. The journal's failure itself is logged once, as an
            // error, where the server learns of it (#journalFailure); this is one of its effects.
            this.#counts.acks -= acks.length
            this.#counts.withheld += acks.length
            if (this.#debug) this.logger.debug({ err: error, addresses: acks.map((a) => a.reply.yiaddr) }, 'leases not durable: ACKs withheld')
          },
        )
      }
    }
    this.#sendOutbox(port)
  }

  #sendAck(port: Port, ack: PendingAck): void {
    this.#publish('bind', ack.lease)
    this.#send(port, ack.reply, ack.arrived)
  }

  #report(request: DhcpMessage, outcome: Outcome, subnet: Subnet): void {
    const { event, lease } = outcome
    if (event === 'release' || event === 'decline') {
      if (lease) this.#publish(event, lease)
      this.logger.info({ event, chaddr: request.chaddr, address: event === 'release' ? request.ciaddr : request.get(50), known: lease !== undefined }, event)
    } else if (event === 'exhausted') {
      this.logger.warn({ subnet: subnet.config.subnet, chaddr: request.chaddr }, 'pool exhausted: no offer')
    } else if (this.#debug) {
      this.logger.debug({ event, chaddr: request.chaddr, address: outcome.reply?.yiaddr, giaddr: request.giaddr }, event)
    }
  }

  /** RFC 2131 4.1: to the relay; to the client's address; broadcast; else unicast to yiaddr at chaddr. */
  #send(port: Port, m: DhcpMessage, arrived: number): void {
    if (this.#stopped) return
    const data = this.#encoder.encode(m)
    const type = m.messageType ?? 'unknown'
    this.#sent.set(type, (this.#sent.get(type) ?? 0) + 1)
    this.#metrics.exchange(type, (performance.now() - arrived) / 1000)
    const source = m.get(54)
    if (m.giaddr !== '0.0.0.0') return this.#queue(port, { data, address: m.giaddr, port: 67 })
    if (m.ciaddr !== '0.0.0.0' && m.messageType !== 'NAK') return this.#queue(port, { data, address: m.ciaddr, port: 68 })
    if (m.broadcast || m.messageType === 'NAK' || m.yiaddr === '0.0.0.0' || m.htype !== 1 || m.hlen !== 6 || !source) {
      return this.#queue(port, { data, address: '255.255.255.255', port: 68, ifindex: port.ifindex })
    }
    const packet = encodeIpv4Udp({ source, destination: m.yiaddr, sourcePort: 67, destinationPort: 68, payload: data })
    port.raw.send(packet, { to: m.chaddr }).catch((error: unknown) => this.logger.warn({ err: error, to: m.chaddr }, 'reply not sent'))
  }

  /** Replies leave together, in one sendmmsg, when #flush sends the outbox. */
  #queue(port: Port, datagram: OutgoingDatagram): void {
    port.outbox.push(datagram)
  }

  #sendOutbox(port: Port): void {
    if (port.outbox.length === 0 || this.#stopped) return
    const batch = port.outbox
    port.outbox = []
    port.udp.sendBatch(batch).catch((error: unknown) => this.logger.warn({ err: error }, 'replies not sent'))
  }

  /** Frees expired leases and lapsed offers; runs every sweepIntervalMs. */
  sweep(): void {
    const { expired, lapsedOffers } = this.db.sweep()
    this.#counts.expired += expired.length
    for (const lease of expired) {
      this.#publish('expire', lease)
      this.logger.info({ event: 'expired', address: lease.address, mac: lease.mac }, 'lease expired')
    }
    if (lapsedOffers && this.#debug) this.logger.debug({ lapsedOffers }, 'offers lapsed')
  }

  /** The counters and free addresses per subnet, as a fresh JSON-ready object. */
  counters(): DhcpServerCounters {
    const poolFree: Record<string, number> = {}
    for (const s of this.subnets) poolFree[s.config.subnet] = this.db.free(s.pool)
    const journal = this.db.journalCounters()
    return { ...this.#counts, poolFree, ...(journal ? { journal: { ...journal } } : {}) }
  }

  /**
   * Stops answering, closes the sockets and writes what the journal still holds; idempotent.
   * Records that cannot be written (the journal was failing) are logged as an error.
   */
  async stop(): Promise<void> {
    if (this.#stopped) return
    this.#stopped = true
    clearInterval(this.#sweeper)
    for (const p of this.#ports) await DhcpServer.#closePort(p)
    try {
      await this.db.close()
    } catch (error) {
      // Stopping must not fail because the disk is full: what was lost is said, once.
      this.logger.error({ err: error, leaseFile: this.options.leaseFile }, 'lease records lost at stop')
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop()
  }
}
