// How the client talks before it has an address: an AF_PACKET socket on the interface that sends
// whole frames (from 0.0.0.0 to the broadcast address, or straight to the server's MAC) and
// receives every IPv4 UDP datagram to port 68, including unicasts to an address not configured
// yet. A device-bound UDP socket on port 68 keeps the kernel from answering such unicasts with
// ICMP port unreachable, and sends renewals through the kernel when the server's MAC is unknown.
import { ArgumentError, Netlink, PacketSocket, UdpSocket, parseMac, udpPortFilter } from '@lab/netlink-native'
import { DhcpDecodeError } from '../codec/errors.js'
import { DhcpMessage } from '../codec/message.js'
import { decodeIpv4Udp, encodeIpv4Udp, ethernetFrame } from '../wire/ipv4-udp.js'
import type { ClientLease } from './lease.js'
import type { MachineIo } from './machine.js'

const BROADCAST_MAC = Buffer.alloc(6, 0xff)

export interface TransportOptions {
  netns?: string
  interface: string
}

export class PacketTransport implements MachineIo {
  /** Datagrams to port 68 that were not DHCP. */
  malformed = 0
  #onMessage: ((m: DhcpMessage, serverMac: string) => void) | undefined
  #onError: ((e: Error) => void) | undefined

  private constructor(
    readonly mac: string,
    readonly ifindex: number,
    readonly raw: PacketSocket,
    readonly udp: UdpSocket,
  ) {
    raw.on('message', (frame) => {
      const packet = decodeIpv4Udp(frame.data.subarray(14))
      if (!packet || packet.destinationPort !== 68) return
      let m: DhcpMessage
      try {
        m = DhcpMessage.decode(packet.payload)
      } catch (error) {
        if (!(error instanceof DhcpDecodeError)) throw error
        this.malformed++
        return
      }
      this.#onMessage?.(m, frame.address)
    })
    raw.on('error', (e) => this.#onError?.(e))
    // The kernel's copy of what the packet socket already saw: read and dropped.
    udp.on('message', () => undefined)
    udp.on('error', (e) => this.#onError?.(e))
  }

  static async open(options: TransportOptions): Promise<PacketTransport> {
    const nl = await Netlink.open({ netns: options.netns })
    let mac: string
    let ifindex: number
    try {
      const link = await nl.link.get(options.interface)
      if (!link.address) throw new ArgumentError('interface', `${options.interface} has no hardware address`)
      mac = link.address
      ifindex = link.index
      if (!link.up) await nl.link.set(options.interface, { up: true })
    } finally {
      await nl.close()
    }
    const raw = await PacketSocket.open({ netns: options.netns, interface: options.interface, protocol: 'ipv4', filter: udpPortFilter(68), outgoing: false })
    let udp: UdpSocket
    try {
      udp = await UdpSocket.open({ netns: options.netns, port: 68, interface: options.interface, broadcast: true, reuseAddress: true })
    } catch (error) {
      await raw.close()
      throw error
    }
    return new PacketTransport(mac, ifindex, raw, udp)
  }

  onMessage(fn: (m: DhcpMessage, serverMac: string) => void): void {
    this.#onMessage = fn
  }

  onError(fn: (e: Error) => void): void {
    this.#onError = fn
  }

  #frame(m: DhcpMessage, destinationMac: Buffer, destination: string): Buffer {
    const packet = encodeIpv4Udp({ source: m.ciaddr, destination, sourcePort: 68, destinationPort: 67, payload: m.encode() })
    return ethernetFrame(destinationMac, parseMac(this.mac), packet)
  }

  broadcast(m: DhcpMessage): void {
    this.raw.send(this.#frame(m, BROADCAST_MAC, '255.255.255.255')).catch((e: Error) => this.#onError?.(e))
  }

  unicast(m: DhcpMessage, lease: ClientLease): void {
    if (lease.serverMac) {
      this.raw.send(this.#frame(m, parseMac(lease.serverMac), lease.serverId)).catch((e: Error) => this.#onError?.(e))
      return
    }
    // Through the kernel (routing, ARP); if the address is not configured that fails: broadcast.
    this.udp.send({ data: m.encode(), address: lease.serverId, port: 67, source: lease.address }).catch(() => this.broadcast(m))
  }

  /** Closes both sockets; idempotent. */
  async close(): Promise<void> {
    await this.raw.close()
    await this.udp.close()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}
