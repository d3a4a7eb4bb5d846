// The DHCP server: per served interface a device-bound UdpSocket on port 67 (drained with
// recvmmsg) and an AF_PACKET socket for unicasts to clients without an address; the subnets; the
// responder; the lease database. Subnet choice: the relay's giaddr, else the client's ciaddr, else
// the receiving interface's address. An ACK leaves only once its lease is durable. Malformed
// packets are counted and dropped; nothing a client sends stops the server.
import { BPF, Netlink, PacketSocket, UdpSocket, bpf, type Datagram, type OutgoingDatagram } from '@lab/netlink-native'
import pino, { type Logger } from 'pino'
import { DhcpDecodeError } from '../codec/errors.js'
import { DhcpMessage } from '../codec/message.js'
import { encodeIpv4Udp } from '../wire/ipv4-udp.js'
import { LeaseDatabase } from './lease-db.js'
import { respond } from './responder.js'
import { Subnet, type SubnetConfig } from './subnet.js'

/** The packet socket only sends: a filter that accepts nothing keeps its receive queue empty. */
const SEND_ONLY = [bpf(BPF.RET_K, 0, 0, 0)]

export interface DhcpServerOptions {
  netns?: string
  /** The interfaces served (bridges, veths, TAPs): `interfaces`, or `interface` for one. */
  interfaces?: string[]
  interface?: string
  /** The subnets served: `subnets`, or `subnet` for one. */
  subnets?: SubnetConfig[]
  subnet?: SubnetConfig
  /** Lease journal; in memory only when omitted. */
  leaseFile?: string
  /** This server's address for clients on an interface without an address in their subnet. */
  serverId?: string
  /** How long an offered address is held, ms (default 60 s). */
  offerHoldMs?: number
  /** How often expired leases and lapsed offers are swept, ms (default 10 s). */
  sweepIntervalMs?: number
  logger?: Logger
}

export interface DhcpServerStats {
  received: number
  malformed: number
  offers: number
  acks: number
  naks: number
  informs: number
  releases: number
  declines: number
  /** Requests for no subnet of ours, another server's offer, and the like: not answered. */
  ignored: number
  /** DISCOVERs not answered because the pool was exhausted. */
  exhausted: number
  expired: number
}

export interface DhcpServerCounters extends DhcpServerStats {
  /** Per subnet, addresses a new client could get. */
  poolFree: Record<string, number>
  journal?: { records: number; commits: number }
}

interface Port {
  name: string
  ifindex: number
  mac: string
  addresses: string[]
  udp: UdpSocket
  raw: PacketSocket
  outbox: OutgoingDatagram[]
}

export class DhcpServer {
  readonly stats: DhcpServerStats = { received: 0, malformed: 0, offers: 0, acks: 0, naks: 0, informs: 0, releases: 0, declines: 0, ignored: 0, exhausted: 0, expired: 0 }
  readonly #ports: Port[]
  readonly #sweeper: NodeJS.Timeout
  #closed = false

  private constructor(
    readonly options: DhcpServerOptions,
    readonly subnets: Subnet[],
    readonly db: LeaseDatabase,
    ports: Port[],
    readonly logger: Logger,
  ) {
    this.#ports = ports
    for (const port of ports) {
      port.udp.on('message', (d) => this.#handle(port, d))
      port.udp.on('error', (e) => logger.error({ err: e, interface: port.name }, 'socket error'))
      port.raw.on('error', (e) => logger.error({ err: e, interface: port.name }, 'packet socket error'))
    }
    this.#sweeper = setInterval(() => this.sweep(), options.sweepIntervalMs ?? 10_000)
    this.#sweeper.unref()
  }

  static async open(options: DhcpServerOptions): Promise<DhcpServer> {
    const logger = options.logger ?? pino({ name: 'dhcp4-server', level: process.env.LOG_LEVEL ?? 'info' })
    const names = options.interfaces ?? (options.interface ? [options.interface] : [])
    const configs = options.subnets ?? (options.subnet ? [options.subnet] : [])
    if (names.length === 0) throw new Error('no interface to serve: give interfaces')
    if (configs.length === 0) throw new Error('no subnet to serve: give subnets')
    const subnets = configs.map((c) => new Subnet(c))
    for (const [i, a] of subnets.entries()) {
      for (const b of subnets.slice(i + 1)) {
        if (a.pool.contains(b.pool.network + 1) || b.pool.contains(a.pool.network + 1)) throw new Error(`subnets ${a.config.subnet} and ${b.config.subnet} overlap`)
      }
    }
    const nl = await Netlink.open({ netns: options.netns })
    const found: Array<Omit<Port, 'udp' | 'raw' | 'outbox'>> = []
    try {
      for (const name of names) {
        const link = await nl.link.get(name)
        const addresses = (await nl.addr.list({ link: link.index, family: 4 })).map((a) => a.address)
        found.push({ name, ifindex: link.index, mac: link.address ?? '00:00:00:00:00:00', addresses })
      }
    } finally {
      nl.close()
    }
    // Relayed subnets need no local address, but replies need a source: some address of ours.
    if (!options.serverId && found.every((p) => p.addresses.length === 0)) throw new Error(`none of ${names.join(', ')} has an IPv4 address: give serverId`)
    const db = LeaseDatabase.open({ pools: subnets.map((s) => s.pool), journalPath: options.leaseFile, offerHoldMs: options.offerHoldMs })
    const ports: Port[] = []
    try {
      for (const p of found) {
        const udp = await UdpSocket.open({ netns: options.netns, port: 67, interface: p.name, broadcast: true, reuseAddress: true, batch: 64, receiveBufferBytes: 4 << 20 })
        let raw: PacketSocket
        try {
          raw = await PacketSocket.open({ netns: options.netns, interface: p.name, protocol: 'ipv4', type: 'dgram', filter: SEND_ONLY })
        } catch (error) {
          udp.close()
          throw error
        }
        ports.push({ ...p, udp, raw, outbox: [] })
      }
    } catch (error) {
      for (const p of ports) {
        p.udp.close()
        p.raw.close()
      }
      await db.close()
      throw error
    }
    logger.info({ interfaces: names, subnets: configs.map((c) => c.subnet), leases: db.list().length, damagedRecords: db.damagedRecords }, 'serving')
    return new DhcpServer(options, subnets, db, ports, logger)
  }

  /** The subnet a request belongs to, and our address as that subnet's clients see it. */
  #select(port: Port, request: DhcpMessage, d: Datagram): { subnet: Subnet; serverId: string } | undefined {
    const own = (subnet: Subnet) => port.addresses.find((a) => subnet.contains(a))
    const fallback = () => (d.to !== '255.255.255.255' && port.addresses.includes(d.to) ? d.to : undefined) ?? port.addresses[0] ?? this.options.serverId
    const pick = (address: string) => this.subnets.find((s) => s.contains(address))
    let subnet: Subnet | undefined
    if (request.giaddr !== '0.0.0.0') subnet = pick(request.giaddr)
    else if (request.ciaddr !== '0.0.0.0') subnet = pick(request.ciaddr)
    else subnet = port.addresses.map(pick).find((s) => s !== undefined)
    if (!subnet) return undefined
    const serverId = (request.giaddr === '0.0.0.0' ? own(subnet) : undefined) ?? fallback()
    return serverId ? { subnet, serverId } : undefined
  }

  #handle(port: Port, d: Datagram): void {
    this.stats.received++
    let request: DhcpMessage
    try {
      request = DhcpMessage.decode(d.data)
    } catch (error) {
      if (!(error instanceof DhcpDecodeError)) throw error
      this.stats.malformed++
      this.logger.debug({ from: d.from, reason: error.reason }, 'malformed packet dropped')
      return
    }
    const where = this.#select(port, request, d)
    if (!where) {
      this.stats.ignored++
      this.logger.debug({ xid: request.xid, giaddr: request.giaddr, ciaddr: request.ciaddr, interface: port.name }, 'no subnet for request')
      return
    }
    let answer
    try {
      answer = respond(request, { subnet: where.subnet, db: this.db, serverId: where.serverId })
    } catch (error) {
      this.stats.ignored++
      this.logger.warn({ err: error, xid: request.xid }, 'request not answered')
      return
    }
    if (!answer) {
      const type = request.messageType
      if (type === 'RELEASE') this.stats.releases++
      else if (type === 'DECLINE') this.stats.declines++
      else if (type === 'DISCOVER') this.stats.exhausted++
      else this.stats.ignored++
      if (type === 'DISCOVER') this.logger.warn({ subnet: where.subnet.config.subnet, chaddr: request.chaddr }, 'pool exhausted: no offer')
      else if (type === 'RELEASE' || type === 'DECLINE') this.logger.info({ event: type.toLowerCase(), chaddr: request.chaddr, address: type === 'RELEASE' ? request.ciaddr : request.get(50) }, type.toLowerCase())
      return
    }
    this.stats[`${answer.event}s` as 'offers' | 'acks' | 'naks' | 'informs']++
    if (this.logger.isLevelEnabled('debug')) this.logger.debug({ event: answer.event, chaddr: request.chaddr, address: answer.reply.yiaddr, giaddr: request.giaddr }, answer.event)
    const reply = answer.reply
    if (answer.event === 'ack') {
      // The client may use the address as soon as it reads the ACK: the lease must be on disk first.
      this.db.durable().then(
        () => this.#send(port, reply),
        (error: unknown) => this.logger.error({ err: error, address: reply.yiaddr }, 'lease not durable: ACK withheld'),
      )
    } else {
      this.#send(port, reply)
    }
  }

  /** RFC 2131 4.1: to the relay; to the client's address; broadcast; else unicast to yiaddr at chaddr. */
  #send(port: Port, m: DhcpMessage): void {
    if (this.#closed) return
    const data = m.encode()
    const source = m.get(54)
    if (m.giaddr !== '0.0.0.0') return this.#queue(port, { data, address: m.giaddr, port: 67 })
    if (m.ciaddr !== '0.0.0.0' && m.messageType !== 'NAK') return this.#queue(port, { data, address: m.ciaddr, port: 68 })
    if (m.broadcast || m.messageType === 'NAK' || m.yiaddr === '0.0.0.0' || m.htype !== 1 || m.hlen !== 6 || !source) {
      return this.#queue(port, { data, address: '255.255.255.255', port: 68, ifindex: port.ifindex })
    }
    const packet = encodeIpv4Udp({ source, destination: m.yiaddr, sourcePort: 67, destinationPort: 68, payload: data })
    port.raw.send(packet, { to: m.chaddr }).catch((error: unknown) => this.logger.warn({ err: error, to: m.chaddr }, 'reply not sent'))
  }

  /** Replies made in one turn of the event loop leave together, in one sendmmsg. */
  #queue(port: Port, datagram: OutgoingDatagram): void {
    port.outbox.push(datagram)
    if (port.outbox.length > 1) return
    setImmediate(() => {
      const batch = port.outbox.splice(0)
      if (this.#closed) return
      port.udp.sendBatch(batch).catch((error: unknown) => this.logger.warn({ err: error }, 'replies not sent'))
    })
  }

  /** Frees expired leases and lapsed offers; runs every sweepIntervalMs. */
  sweep(): void {
    const { expired, lapsedOffers } = this.db.sweep()
    this.stats.expired += expired.length
    for (const lease of expired) this.logger.info({ event: 'expired', address: lease.address, mac: lease.mac }, 'lease expired')
    if (lapsedOffers) this.logger.debug({ lapsedOffers }, 'offers lapsed')
  }

  /** Counters and free addresses per subnet, as JSON-ready values. */
  counters(): DhcpServerCounters {
    const poolFree: Record<string, number> = {}
    for (const s of this.subnets) poolFree[s.config.subnet] = this.db.free(s.pool)
    const journal = this.db.journalStats
    return { ...this.stats, poolFree, ...(journal ? { journal: { ...journal } } : {}) }
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    clearInterval(this.#sweeper)
    for (const p of this.#ports) {
      p.udp.close()
      p.raw.close()
    }
    await this.db.close()
  }
}

