// UDP in any namespace, optionally bound to a device, with IP_PKTINFO (arrival interface and
// destination address of each datagram; chosen source and interface when sending) and batched
// syscalls: one recvmmsg drains up to 64 datagrams per wake-up, sendBatch goes out with sendmmsg.
// An IPv6 local address makes an IPv6 socket (IPV6_V6ONLY) that can join multicast groups (DHCPv6
// servers listen on ff02::1:2); it reports the bound interface as the arrival interface.
import { native } from '../native.js'
import { ArgumentError, SystemError, rethrowAs, sys, sysAsync } from '../errors.js'
import { EAGAIN, EINTR, ENOBUFS } from '../sys/errno.js'
import { IPPROTO_IP, IPPROTO_IPV6, IPV6_V6ONLY, IP_PKTINFO, MSG_TRUNC, SOCK_DGRAM, SOL_SOCKET, SO_BINDTODEVICE, SO_BROADCAST, SO_RCVBUF, SO_RCVBUFFORCE, SO_REUSEADDR } from '../sys/socket.js'
import { FdHandle } from '../io/fd-handle.js'
import { resolveNetnsPath } from '../netns/path.js'
import { formatIp, parseIp } from '../rtnetlink/inet.js'
import { DatagramReader } from './datagram-reader.js'
import { ifindexOf } from './ifindex.js'
import { AF_INET, AF_INET6, readSockaddrIn, sockaddrIn, sockaddrIn6 } from './sockaddr.js'

/** linux/in6.h: join a multicast group (struct ipv6_mreq). */
const IPV6_ADD_MEMBERSHIP = 20


export interface UdpSocketOptions {
  netns?: string
  /** Local address (default 0.0.0.0); an IPv6 address (`::` for any) makes an IPv6-only socket. */
  address?: string
  port: number
  /** SO_BINDTODEVICE: only traffic of this interface, and sends leave through it. */
  interface?: string
  broadcast?: boolean
  reuseAddress?: boolean
  /** Largest datagram expected; longer ones are counted as truncated and dropped. Default 2048. */
  maxDatagram?: number
  /** Datagrams per recvmmsg (1..64). Default 32. */
  batch?: number
  receiveBufferBytes?: number
  /**
   * IPv6 multicast groups to join on `interface` (IPV6_ADD_MEMBERSHIP), e.g. `ff02::1:2` for a
   * DHCPv6 server. IPv6 sockets only; needs `interface`.
   */
  multicastGroups?: string[]
}

export interface Datagram {
  data: Buffer
  from: { address: string; port: number }
  /** Interface it arrived on (IP_PKTINFO); on IPv6 sockets the bound interface (0 when unbound). */
  ifindex: number
  /** Destination address in its IP header: tells broadcast from unicast. `::` (not known) on IPv6 sockets. */
  to: string
}

/** What a UdpSocket counted since it opened. */
export interface UdpSocketCounters {
  /** Datagrams delivered to this process. */
  received: number
  /** Datagrams dropped because they were longer than `maxDatagram`. */
  truncated: number
  /** Datagrams the kernel accepted for sending. */
  sent: number
}

export interface OutgoingDatagram {
  data: Buffer
  address: string
  port: number
  /** Leave through this interface (IP_PKTINFO), e.g. a broadcast on one of several devices. On IPv6 sockets the scope of a link-local `address` (default: the bound interface). */
  ifindex?: number
  /** Source address to use (IPv4 sockets only). */
  source?: string
}

// The metadata records' layout comes from the addon (native/mmsg_io.cc), written down only there.
const MMSG = native.MMSG
const META = MMSG.size
const MAX_BATCH = MMSG.maxBatch
/** Destinations whose sockaddr a socket keeps (a DHCP server's clients, a relay: few hot ones). */
const DESTINATIONS = 1024

interface Destination {
  port: number
  scope: number
  sockaddr: Buffer
}


/** The IPv4 address at `at`, inline: this runs once per datagram received. */
function dottedQuad(b: Buffer, at: number): string {
  return `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`
}

export class UdpSocket extends DatagramReader<Datagram> {
  readonly port: number
  readonly what: string
  readonly #counters: UdpSocketCounters = { received: 0, truncated: 0, sent: 0 }
  readonly #queue: Datagram[] = []

  /** 4 or 6: the family of the local address. */
  readonly family: 4 | 6
  readonly #boundIfindex: number
  /** sendBatch's scratch: the datagrams of one sendmmsg, and their metadata records. */
  #sendSlab = Buffer.allocUnsafe(16 * 1024)
  readonly #sendMeta = Buffer.alloc(META * MAX_BATCH)
  readonly #destinations = new Map<string, Destination>()
  #lastSource = { w0: 0, w1: 0, w2: 0, w3: 0, text: '' }

  private constructor(handle: FdHandle, what: string, port: number, maxDatagram: number, batch: number, family: 4 | 6, boundIfindex: number) {
    const slab = Buffer.allocUnsafe(maxDatagram * batch)
    const meta = Buffer.alloc(META * batch)
    super(handle, () => {
      if (this.#queue.length > 0) return this.#queue.shift()
      for (;;) {
        const n = native.recvmmsg(handle.fd, slab, maxDatagram, batch, meta)
        if (n === -EAGAIN) return undefined
        if (n < 0) {
          if (n === -EINTR) continue
          throw new SystemError({ errno: -n, op: 'udp receive', object: what })
        }
        for (let i = 0; i < n; i++) {
          const m = i * META
          const length = meta.readInt32LE(m + MMSG.recvLength)
          if (meta.readInt32LE(m + MMSG.recvFlags) & MSG_TRUNC) {
            this.#counters.truncated++
            continue
          }
          // A copy of its own (the slab is read into again): one allocation, no view in between.
          const data = Buffer.allocUnsafe(length)
          slab.copy(data, 0, i * maxDatagram, i * maxDatagram + length)
          if (family === 6) {
            // The addon reads IPv4 packet info only: the arrival interface is the bound one.
            this.#queue.push({ data, from: { address: this.#sourceText(meta, m + MMSG.address + 8), port: meta.readUInt16BE(m + MMSG.address + 2) }, ifindex: boundIfindex, to: '::' })
          } else {
            this.#queue.push({ data, from: readSockaddrIn(meta, m + MMSG.address), ifindex: meta.readInt32LE(m + MMSG.ifindex), to: dottedQuad(meta, m + MMSG.destination) })
          }
          this.#counters.received++
        }
        if (this.#queue.length > 0) return this.#queue.shift()
      }
    })
    this.port = port
    this.what = what
    this.family = family
    this.#boundIfindex = boundIfindex
  }

  /**
   * Opens a UDP socket in `netns` (a name under /run/netns or a path; omitted: this process's
   * namespace), bound to `address:port` and, with `interface`, to that device (SO_BINDTODEVICE).
   * Throws ArgumentError for bad options, a SystemError naming the bind (`EADDRINUSE: udp bind
   * 0.0.0.0:67 dev br0`) when the kernel refuses.
   */
  static async open(options: UdpSocketOptions): Promise<UdpSocket> {
    const address = options.address ?? '0.0.0.0'
    const family = parseIp(address, 'address').family
    const what = `${family === 6 ? `[${address}]` : address}:${options.port}${options.interface ? ` dev ${options.interface}` : ''}${options.netns ? ` netns ${options.netns}` : ''}`
    const bind = family === 6 ? sockaddrIn6(address, options.port) : sockaddrIn(address, options.port)
    const groups = options.multicastGroups ?? []
    if (!Array.isArray(groups)) throw new ArgumentError('multicastGroups', 'a list of IPv6 multicast addresses')
    if (groups.length > 0 && (family !== 6 || !options.interface)) throw new ArgumentError('multicastGroups', 'needs an IPv6 address and an interface')
    const mreqs = groups.map((g) => {
      const ip = parseIp(g, 'multicastGroups')
      if (ip.family !== 6 || ip.bytes[0] !== 0xff) throw new ArgumentError('multicastGroups', `not an IPv6 multicast address: ${g}`)
      return ip.bytes
    })
    const batch = options.batch ?? 32
    if (!Number.isInteger(batch) || batch < 1 || batch > MAX_BATCH) throw new ArgumentError('batch', `1..${MAX_BATCH}`)
    const maxDatagram = options.maxDatagram ?? 2048
    const nsPath = options.netns === undefined ? null : resolveNetnsPath(options.netns)
    const fd = await sysAsync('udp socket', what, () => native.socketAtAsync(nsPath, family === 6 ? AF_INET6 : AF_INET, SOCK_DGRAM, 0))
    const handle = new FdHandle(fd, 'udp')
    try {
      if (options.reuseAddress) native.setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, 1)
      if (options.broadcast && family === 4) native.setsockopt(fd, SOL_SOCKET, SO_BROADCAST, 1)
      if (family === 6) native.setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1)
      else native.setsockopt(fd, IPPROTO_IP, IP_PKTINFO, 1)
      if (options.receiveBufferBytes) {
        try {
          native.setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, options.receiveBufferBytes)
        } catch {
          native.setsockopt(fd, SOL_SOCKET, SO_RCVBUF, options.receiveBufferBytes)
        }
      }
      let boundIfindex = 0
      if (options.interface) {
        boundIfindex = ifindexOf(fd, options.interface, 'udp bind')
        const name = Buffer.alloc(16)
        name.write(options.interface)
        sys('udp bind', what, () => native.setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, name))
      }
      for (const group of mreqs) {
        // struct ipv6_mreq: the group, then the interface index (host order).
        const mreq = Buffer.alloc(20)
        group.copy(mreq, 0)
        mreq.writeInt32LE(boundIfindex, 16)
        sys('udp join', `${formatIp(group)} ${what}`, () => native.setsockopt(fd, IPPROTO_IPV6, IPV6_ADD_MEMBERSHIP, mreq))
      }
      sys('udp bind', what, () => native.bind(fd, bind))
      const local = Buffer.alloc(28)
      native.getsockname(fd, local)
      return new UdpSocket(handle, what, local.readUInt16BE(2), maxDatagram, batch, family, boundIfindex)
    } catch (error) {
      handle.close()
      throw error
    }
  }

  /** A fresh copy of what this socket counted since it opened. */
  counters(): UdpSocketCounters {
    return { ...this.#counters }
  }

  /** Sends one datagram; waits for room when the send queue is full. */
  async send(datagram: OutgoingDatagram): Promise<void> {
    await this.sendBatch([datagram])
  }

  /**
   * The text of the IPv6 source address at `at`: the last one is remembered (a relay, a peer
   * server: one source sends most datagrams), so formatting runs only when the source changes.
   */
  #sourceText(b: Buffer, at: number): string {
    const w0 = b.readInt32LE(at)
    const w1 = b.readInt32LE(at + 4)
    const w2 = b.readInt32LE(at + 8)
    const w3 = b.readInt32LE(at + 12)
    const last = this.#lastSource
    if (last.text !== '' && w0 === last.w0 && w1 === last.w1 && w2 === last.w2 && w3 === last.w3) return last.text
    const text = formatIp(b.subarray(at, at + 16))
    this.#lastSource = { w0, w1, w2, w3, text }
    return text
  }

  /**
   * The sockaddr for a destination, made once per address and kept (up to DESTINATIONS of them,
   * then the memo starts over): parsing address text per datagram cost a server more than the
   * rest of its send path. Throws ArgumentError for a bad address or port, as sockaddrIn does.
   */
  #sockaddr(address: string, port: number, scope: number): Buffer {
    let d = this.#destinations.get(address)
    if (d === undefined || d.port !== port || d.scope !== scope) {
      const sockaddr = this.family === 6 ? sockaddrIn6(address, port, scope) : sockaddrIn(address, port)
      if (this.#destinations.size >= DESTINATIONS) this.#destinations.clear()
      d = { port, scope, sockaddr }
      this.#destinations.set(address, d)
    }
    return d.sockaddr
  }

  /** Sends many datagrams with as few sendmmsg calls as possible; resolves when all are queued. */
  async sendBatch(datagrams: OutgoingDatagram[]): Promise<void> {
    const v6 = this.family === 6
    let at = 0
    while (at < datagrams.length) {
      const count = Math.min(MAX_BATCH, datagrams.length - at)
      let total = 0
      for (let i = at; i < at + count; i++) total += datagrams[i]!.data.length
      // sendmmsg copies everything before it returns: the scratch buffers serve call after call
      // (filling and sending happen with no await between them).
      if (this.#sendSlab.length < total) this.#sendSlab = Buffer.allocUnsafe(Math.max(total, 2 * this.#sendSlab.length))
      const slab = this.#sendSlab
      const meta = this.#sendMeta
      let offset = 0
      for (let i = 0; i < count; i++) {
        const d = datagrams[at + i]!
        const m = i * META
        if (v6 && d.source) throw new ArgumentError('source', 'not supported on IPv6 sockets')
        // IPv6: the interface goes in the destination's scope (the addon sends IPv4 packet info only).
        const to = this.#sockaddr(d.address, d.port, v6 ? (d.ifindex ?? this.#boundIfindex) : 0)
        d.data.copy(slab, offset)
        meta.writeInt32LE(offset, m + MMSG.sendOffset)
        meta.writeInt32LE(d.data.length, m + MMSG.sendLength)
        meta.writeInt32LE(to.length, m + MMSG.addressLength)
        meta.writeInt32LE(v6 ? 0 : (d.ifindex ?? 0), m + MMSG.ifindex)
        if (d.source) parseIp(d.source, 'source').bytes.copy(meta, m + MMSG.source)
        else meta.writeInt32LE(0, m + MMSG.source)
        to.copy(meta, m + MMSG.address)
        offset += d.data.length
      }
      let n: number
      try {
        n = native.sendmmsg(this.handle.fd, slab, meta, count)
      } catch (error) {
        return rethrowAs(error, 'udp send', this.#sendWhat(datagrams[at]!))
      }
      if (n === -EAGAIN || n === -ENOBUFS) {
        await this.handle.writable()
        continue
      }
      if (n < 0) {
        if (n === -EINTR) continue
        throw new SystemError({ errno: -n, op: 'udp send', object: this.#sendWhat(datagrams[at]!) })
      }
      at += n
      this.#counters.sent += n
    }
  }

  #sendWhat(first: OutgoingDatagram): string {
    return `${first.address}:${first.port} from ${this.what}`
  }
}
