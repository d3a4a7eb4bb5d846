// The DHCP server: a UdpSocket on port 67 bound to the served interface, the responder, and the
// lease database. Malformed packets are counted and dropped; nothing a client sends stops it.
import { Netlink, UdpSocket, type Datagram } from '@lab/netlink-native'
import pino, { type Logger } from 'pino'
import { DhcpDecodeError } from '../codec/errors.js'
import { DhcpMessage } from '../codec/message.js'
import { LeaseDatabase } from './lease-db.js'
import { respond } from './responder.js'
import { Subnet, type SubnetConfig } from './subnet.js'

export interface DhcpServerOptions {
  netns?: string
  /** The interface served (a bridge, a veth, a TAP). */
  interface: string
  subnet: SubnetConfig
  /** Lease journal; in memory only when omitted. */
  leaseFile?: string
  /** This server's address; default: the interface's first IPv4 address. */
  serverId?: string
  logger?: Logger
}

export interface DhcpServerStats {
  received: number
  malformed: number
  offers: number
  acks: number
  naks: number
  informs: number
  ignored: number
}

export class DhcpServer {
  readonly stats: DhcpServerStats = { received: 0, malformed: 0, offers: 0, acks: 0, naks: 0, informs: 0, ignored: 0 }
  readonly #socket: UdpSocket

  private constructor(
    readonly options: DhcpServerOptions,
    readonly subnet: Subnet,
    readonly db: LeaseDatabase,
    readonly serverId: string,
    readonly ifindex: number,
    socket: UdpSocket,
    readonly logger: Logger,
  ) {
    this.#socket = socket
    socket.on('message', (d) => this.#handle(d))
    socket.on('error', (e) => logger.error({ err: e }, 'socket error'))
  }

  static async open(options: DhcpServerOptions): Promise<DhcpServer> {
    const logger = options.logger ?? pino({ name: 'dhcp4-server', level: process.env.LOG_LEVEL ?? 'info' })
    const subnet = new Subnet(options.subnet)
    const nl = await Netlink.open({ netns: options.netns })
    let serverId: string
    let ifindex: number
    try {
      const link = await nl.link.get(options.interface)
      ifindex = link.index
      serverId = options.serverId ?? (await nl.addr.list({ link: link.index, family: 4 })).find((a) => subnet.contains(a.address))?.address ?? ''
    } finally {
      nl.close()
    }
    if (!serverId) throw new Error(`${options.interface} has no address in ${options.subnet.subnet}: give serverId`)
    const db = LeaseDatabase.open({ pool: subnet.pool, journalPath: options.leaseFile })
    const socket = UdpSocket.open({ netns: options.netns, port: 67, device: options.interface, broadcast: true, reuseAddress: true })
    logger.info({ interface: options.interface, serverId, subnet: options.subnet.subnet, leases: db.list().length }, 'serving')
    return new DhcpServer(options, subnet, db, serverId, ifindex, socket, logger)
  }

  #handle(d: Datagram): void {
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
    let answer
    try {
      answer = respond(request, { subnet: this.subnet, db: this.db, serverId: this.serverId })
    } catch (error) {
      this.stats.ignored++
      this.logger.warn({ err: error, xid: request.xid }, 'request not answered')
      return
    }
    if (!answer) {
      this.stats.ignored++
      return
    }
    this.stats[`${answer.event}s` as 'offers' | 'acks' | 'naks' | 'informs']++
    this.logger.info({ event: answer.event, chaddr: request.chaddr, address: answer.reply.yiaddr }, answer.event)
    void this.#send(answer.reply).catch((error) => this.logger.warn({ err: error }, 'reply not sent'))
  }

  /** RFC 2131 4.1: to the relay, to the client's address when it has one, else broadcast. */
  async #send(m: DhcpMessage): Promise<void> {
    const data = m.encode()
    if (m.giaddr !== '0.0.0.0') return this.#socket.send({ data, address: m.giaddr, port: 67 })
    if (m.ciaddr !== '0.0.0.0' && m.messageType !== 'NAK') return this.#socket.send({ data, address: m.ciaddr, port: 68 })
    // A client without an address cannot be reached by unicast without an ARP entry: broadcast.
    return this.#socket.send({ data, address: '255.255.255.255', port: 68, ifindex: this.ifindex })
  }

  close(): void {
    this.#socket.close()
    this.db.close()
  }
}
