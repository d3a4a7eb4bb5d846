// Neighbor Discovery on one interface of a namespace, over an AF_PACKET socket (SOCK_DGRAM,
// ethertype IPv6): this code writes the IPv6 header and the ICMPv6 checksum itself.
//
// Why not a raw ICMPv6 socket (AF_INET6, SOCK_RAW, IPPROTO_ICMPV6), where the kernel fills the
// checksum? The receiver must see the IPv6 hop limit to drop anything that is not 255 (RFC 4861
// 6.1.1: it proves the sender is on-link), and a raw IPv6 socket hands it over only as ancillary
// data (IPV6_RECVHOPLIMIT), which @lab/netlink-native's addon cannot read today (it has recvfrom
// and the IPv4-only IP_PKTINFO recvmmsg); adding recvmsg to the addon means new C++ and prebuilt
// binaries for one consumer. An AF_PACKET socket sees the whole IPv6 header, so the hop limit and
// the checksum are checked here (and counted when wrong), the hop limit we send is 255 by
// construction, and nothing new is needed in the addon. What the kernel would have done for us:
// source address (we use the interface's link-local address, as RFC 4861 6.1.2 requires of RAs),
// multicast membership (not needed: a packet socket sees every frame the interface receives) and
// the checksum (wire/ipv6.ts; real peers' kernels verify it in the tests).
import { ArgumentError, Netlink, PacketSocket, bpf, BPF, type BpfInstruction } from '@lab/netlink-native'
import { EventEmitter } from 'node:events'
import { NdpError } from '../errors.js'
import { NdpDecodeError } from '../codec/decode-error.js'
import { decodeNdMessage, encodeNdMessage, type NdMessage } from '../codec/message.js'
import { ND_NEIGHBOR_ADVERT, ND_NEIGHBOR_SOLICIT, ND_ROUTER_ADVERT, ND_ROUTER_SOLICIT } from '../codec/constants.js'
import { checkValidity } from './validity.js'
import { IPPROTO_ICMPV6, ND_HOP_LIMIT, decodeIcmpv6Packet, encodeIcmpv6Packet, isMulticast, multicastMac } from '../wire/ipv6.js'

const RT_SCOPE_LINK = 253

const TYPE_CODES: Record<NdMessage['type'], number> = {
  'router-solicitation': ND_ROUTER_SOLICIT,
  'router-advertisement': ND_ROUTER_ADVERT,
  'neighbor-solicitation': ND_NEIGHBOR_SOLICIT,
  'neighbor-advertisement': ND_NEIGHBOR_ADVERT,
}

export interface NdSocketOptions {
  interface: string
  /** A name under /run/netns or a path; omitted: this process's namespace. */
  netns?: string
  /** The ND messages to receive; default all four. Others are dropped in the kernel. */
  receive?: Array<NdMessage['type']>
}

/** An ND message as it arrived, with what the IPv6 and Ethernet headers said. */
export interface NdPacket {
  message: NdMessage
  source: string
  destination: string
  hopLimit: number
  /** The Ethernet source address of the frame. */
  sourceMac: string
}

export interface NdSendOptions {
  /** IPv6 destination, e.g. ff02::1. */
  destination: string
  /** Default: the interface's link-local address (RFC 4861 6.1.2 requires it for RAs). */
  source?: string
  /** Ethernet destination; default derived from a multicast `destination` (required otherwise). */
  destinationMac?: string
  /** Default 255; anything else is discarded by receivers, which is what tests of that need. */
  hopLimit?: number
}

/** What an NdSocket counted since it opened. */
export interface NdSocketCounters {
  /** Valid ND messages delivered. */
  received: number
  /**
   * Packets dropped because they did not decode, had a bad checksum or a hop limit other than 255,
   * or failed RFC 4861's validity checks (an RA from a source that is not link-local...).
   */
  malformed: number
  sent: number
}

export interface NdSocket {
  on(event: 'message', listener: (packet: NdPacket) => void): this
  on(event: 'malformed', listener: (error: NdpDecodeError, from: { sourceMac: string }) => void): this
  on(event: 'error', listener: (error: Error) => void): this
}

/** Kernel filter: IPv6 with next header ICMPv6 (offset 6) and one of the wanted types (offset 40). */
function filterFor(types: number[]): BpfInstruction[] {
  const program: BpfInstruction[] = [bpf(BPF.LD_B_ABS, 0, 0, 6), bpf(BPF.JEQ_K, 0, types.length + 1, IPPROTO_ICMPV6), bpf(BPF.LD_B_ABS, 0, 0, 40)]
  types.forEach((t, i) => program.push(bpf(BPF.JEQ_K, types.length - i, 0, t)))
  program.push(bpf(BPF.RET_K, 0, 0, 0), bpf(BPF.RET_K, 0, 0, 0x40000))
  return program
}

export class NdSocket extends EventEmitter {
  readonly interface: string
  readonly netns: string | undefined
  /** The interface's hardware address, read when the socket opened. */
  readonly mac: string
  readonly #socket: PacketSocket
  readonly #nl: Netlink
  readonly #counters: NdSocketCounters = { received: 0, malformed: 0, sent: 0 }

  private constructor(socket: PacketSocket, nl: Netlink, options: NdSocketOptions, mac: string) {
    super()
    this.#socket = socket
    this.#nl = nl
    this.interface = options.interface
    this.netns = options.netns
    this.mac = mac
    socket.on('error', (error) => this.emit('error', error))
    socket.on('message', (frame) => {
      let packet: NdPacket
      try {
        const ip = decodeIcmpv6Packet(frame.data)
        // RFC 4861 6.1.1, 6.1.2, 7.1.1, 7.1.2: "The IP Hop Limit field has a value of 255".
        if (ip.hopLimit !== ND_HOP_LIMIT) throw new NdpDecodeError('bad-hop-limit', `hop limit ${ip.hopLimit} from ${ip.source}`, 7)
        const message = decodeNdMessage(ip.icmp)
        checkValidity(message, ip.source, ip.destination)
        packet = { message, source: ip.source, destination: ip.destination, hopLimit: ip.hopLimit, sourceMac: frame.address }
      } catch (error) {
        if (!(error instanceof NdpDecodeError)) throw error
        this.#counters.malformed++
        this.emit('malformed', error, { sourceMac: frame.address })
        return
      }
      this.#counters.received++
      this.emit('message', packet)
    })
  }

  /**
   * Opens the socket on `interface` in `netns`. Throws ArgumentError for bad options, NdpError
   * (LAB_ERR_NDP_INTERFACE) when the interface has no Ethernet address, SystemError (ENODEV...)
   * when the kernel refuses.
   */
  static async open(options: NdSocketOptions): Promise<NdSocket> {
    if (typeof options.interface !== 'string' || options.interface === '') throw new ArgumentError('interface', 'required')
    const types = (options.receive ?? (Object.keys(TYPE_CODES) as Array<NdMessage['type']>)).map((t) => {
      const code = TYPE_CODES[t]
      if (code === undefined) throw new ArgumentError('receive', `unknown ND message type ${t}`)
      return code
    })
    const nl = await Netlink.open({ netns: options.netns })
    try {
      const link = await nl.link.get(options.interface)
      if (!link.address || link.address.split(':').length !== 6) throw new NdpError('LAB_ERR_NDP_INTERFACE', `${options.interface} has no Ethernet address`)
      const socket = await PacketSocket.open({ netns: options.netns, interface: options.interface, protocol: 'ipv6', type: 'dgram', filter: filterFor(types), outgoing: false })
      return new NdSocket(socket, nl, options, link.address)
    } catch (error) {
      await nl.close()
      throw error
    }
  }

  /**
   * The interface's IPv6 link-local address, undefined while it has none (a bridge without ports
   * has none; DAD-tentative ones are used only when there is nothing else).
   */
  async linkLocal(): Promise<string | undefined> {
    const addresses = (await this.#nl.addr.list({ link: this.interface, family: 6 })).filter((a) => a.scope === RT_SCOPE_LINK && a.address.startsWith('fe80'))
    return (addresses.find((a) => !a.tentative) ?? addresses[0])?.address
  }

  /** Sends `message` (hop limit 255, checksum filled in). Throws NdpError when no source address can be found. */
  async send(message: NdMessage, options: NdSendOptions): Promise<void> {
    const source = options.source ?? (await this.linkLocal())
    if (!source) throw new NdpError('LAB_ERR_NDP_INTERFACE', `${this.interface} has no IPv6 link-local address yet`)
    const to = options.destinationMac ?? (isMulticast(options.destination) ? multicastMac(options.destination) : undefined)
    if (!to) throw new ArgumentError('destinationMac', `needed for the unicast destination ${options.destination}`)
    const packet = encodeIcmpv6Packet({ source, destination: options.destination, hopLimit: options.hopLimit, icmp: encodeNdMessage(message) })
    await this.#socket.send(packet, { to })
    this.#counters.sent++
  }

  /** A fresh copy of what this socket counted. */
  counters(): NdSocketCounters {
    return { ...this.#counters }
  }

  /** Closes the socket; later calls do nothing. */
  async close(): Promise<void> {
    if (this.#socket.closed) return
    await this.#socket.close()
    await this.#nl.close()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}
