// How the client talks: a UDP socket on port 546 bound to the interface, sending to
// All_DHCP_Relay_Agents_and_Servers (ff02::1:2) port 547. The kernel picks the source: for a
// link-scoped destination that is the interface's link-local address (RFC 8415 13.1 wants it),
// which must have passed duplicate address detection first, since a tentative address cannot be
// a source. Servers and relays answer to that address, port 546.
import { ArgumentError, Netlink, UdpSocket, type Address } from '@lab/netlink-native'
import { Dhcp6DecodeError, decodeMessage, type Dhcp6Message } from '../codec/index.js'
import { Dhcp6Error } from '../errors.js'
import type { MachineIo } from './machine.js'


/** RFC 8415 7.1: All_DHCP_Relay_Agents_and_Servers. */
export const ALL_DHCP_RELAY_AGENTS_AND_SERVERS = 'ff02::1:2'
/** RFC 8415 7.2: clients listen on 546, servers and relays on 547. */
export const CLIENT_PORT = 546
export const SERVER_PORT = 547

/** rtnetlink's RT_SCOPE_LINK. */
const SCOPE_LINK = 253
/** IFA_F_DADFAILED (linux/if_addr.h). */
const IFA_F_DADFAILED = 0x08

export interface TransportOptions {
  interface: string
  netns?: string
  /** How long to wait for a usable link-local address (DAD takes about 1 s). Default 10 s. */
  linkLocalTimeoutMs?: number
}

/** The interface's link-local address once DAD has passed, polled (DAD sends no event we could miss-order). */
async function usableLinkLocal(nl: Netlink, ifname: string, ifindex: number, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const all: Address[] = await nl.addr.list({ link: ifindex, family: 6 })
    const linkLocal = all.filter((a) => a.scope === SCOPE_LINK)
    const ready = linkLocal.find((a) => !a.tentative && !(a.flags & IFA_F_DADFAILED))
    if (ready) return ready.address
    if (linkLocal.length > 0 && linkLocal.every((a) => a.flags & IFA_F_DADFAILED)) {
      throw new Dhcp6Error('LAB_ERR_DHCP6_NO_LINK_LOCAL', `${ifname}: duplicate address detection failed for its link-local address ${linkLocal[0]!.address}`)
    }
    if (Date.now() > deadline) {
      throw new Dhcp6Error('LAB_ERR_DHCP6_NO_LINK_LOCAL', `${ifname}: no link-local IPv6 address out of duplicate address detection within ${timeoutMs / 1000} s (is IPv6 disabled, or the link down?)`)
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

export class UdpTransport implements MachineIo {
  /** Datagrams to port 546 that did not decode as DHCPv6, or were not a server's message to a client. */
  malformed = 0
  #onMessage: ((m: Dhcp6Message, from: string) => void) | undefined
  #onError: ((e: Error) => void) | undefined

  private constructor(
    readonly mac: string | undefined,
    readonly ifindex: number,
    /** The link-local address the client sends from. */
    readonly linkLocal: string,
    readonly socket: UdpSocket,
  ) {
    socket.on('message', (d) => {
      let m
      try {
        m = decodeMessage(d.data)
      } catch (error) {
        if (!(error instanceof Dhcp6DecodeError)) throw error
        this.malformed++
        return
      }
      // A client hears only servers' messages; relay messages are for servers and relays.
      if (m.relay) {
        this.malformed++
        return
      }
      this.#onMessage?.(m, d.from.address)
    })
    socket.on('error', (e) => this.#onError?.(e))
  }

  /**
   * Opens the client's socket on `interface` (set up if down), once its link-local address is
   * usable. Throws Dhcp6Error LAB_ERR_DHCP6_NO_LINK_LOCAL when none becomes usable in time, a
   * SystemError (`EADDRINUSE: udp bind [::]:546 dev eth0`) when another client holds the port.
   */
  static async open(options: TransportOptions): Promise<UdpTransport> {
    const timeoutMs = options.linkLocalTimeoutMs ?? 10_000
    if (!Number.isFinite(timeoutMs) || timeoutMs < 0) throw new ArgumentError('linkLocalTimeoutMs', 'expected milliseconds (>= 0)')
    const nl = await Netlink.open({ netns: options.netns })
    let mac: string | undefined
    let ifindex: number
    let linkLocal: string
    try {
      const link = await nl.link.get(options.interface)
      mac = link.address
      ifindex = link.index
      if (!link.up) await nl.link.set(options.interface, { up: true })
      linkLocal = await usableLinkLocal(nl, options.interface, ifindex, timeoutMs)
    } finally {
      await nl.close()
    }
    const socket = await UdpSocket.open({ netns: options.netns, address: '::', port: CLIENT_PORT, interface: options.interface })
    return new UdpTransport(mac, ifindex, linkLocal, socket)
  }

  onMessage(fn: (m: Dhcp6Message, from: string) => void): void {
    this.#onMessage = fn
  }

  onError(fn: (e: Error) => void): void {
    this.#onError = fn
  }

  send(m: Dhcp6Message): void {
    this.socket.send({ data: m.encode(), address: ALL_DHCP_RELAY_AGENTS_AND_SERVERS, port: SERVER_PORT, ifindex: this.ifindex }).catch((e: Error) => this.#onError?.(e))
  }

  /** Closes the socket; idempotent. */
  async close(): Promise<void> {
    await this.socket.close()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}
