// AF_PACKET sockets in any namespace: raw Ethernet frames (or SOCK_DGRAM payloads) on one
// interface and ethertype, with the link-layer details of each frame.
import { native } from '../native.js'
import { ArgumentError, sys, sysAsync } from '../errors.js'
import { EAGAIN, ENOBUFS } from '../sys/errno.js'
import { PACKET_ADD_MEMBERSHIP, PACKET_MR_PROMISC, SOCK_DGRAM, SOCK_RAW, SOL_PACKET } from '../sys/socket.js'
import { FdHandle } from '../io/fd-handle.js'
import { resolveNetnsPath } from '../netns/path.js'
import { BpfInstruction, attachFilter } from './bpf.js'
import { DatagramReader, check } from './datagram-reader.js'
import { ifindexOf } from './ifindex.js'
import { AF_PACKET, readSockaddrLl, sockaddrLl, type LinkLayerAddress } from './sockaddr.js'


export const ETHERTYPES = { all: 0x0003, ipv4: 0x0800, arp: 0x0806, ipv6: 0x86dd } as const

export interface PacketSocketOptions {
  netns?: string
  /** Interface to bind to (all interfaces when omitted). */
  interface?: string
  /** Ethertype: a name or a number (host order). Default all. */
  protocol?: keyof typeof ETHERTYPES | number
  /** raw: frames with the Ethernet header; dgram: payloads, the kernel adds the header on send. */
  type?: 'raw' | 'dgram'
  promiscuous?: boolean
  /** Classic BPF run in the kernel: frames it rejects never reach this process. */
  filter?: BpfInstruction[]
  /** Frames this host sends are seen too (pkttype outgoing) unless this is false. Default true. */
  outgoing?: boolean
}

export interface Frame extends LinkLayerAddress {
  data: Buffer
}

const MAX_FRAME = 65536

export class PacketSocket extends DatagramReader<Frame> {
  readonly ifindex: number
  readonly protocol: number
  readonly #what: string

  private constructor(handle: FdHandle, ifindex: number, protocol: number, what: string, outgoing: boolean) {
    const buf = Buffer.allocUnsafe(MAX_FRAME)
    const addr = Buffer.alloc(20)
    super(handle, () => {
      for (;;) {
        const n = check(native.recvfrom(handle.fd, buf, addr, 0), 'packet receive', what)
        if (n === undefined) return undefined
        const meta = readSockaddrLl(addr)
        if (!outgoing && meta.packetType === 'outgoing') continue
        return { ...meta, data: Buffer.from(buf.subarray(0, n)) }
      }
    })
    this.ifindex = ifindex
    this.protocol = protocol
    this.#what = what
  }

  /**
   * Opens an AF_PACKET socket in `netns` (name or path; omitted: this process's namespace), bound
   * to `interface` (every interface when omitted) and `protocol`. The filter is attached before
   * the bind, so nothing unfiltered is ever queued. Throws ArgumentError for bad options, a
   * SystemError (`ENODEV: packet bind nope0`) when the kernel refuses.
   */
  static async open(options: PacketSocketOptions = {}): Promise<PacketSocket> {
    const protocol = typeof options.protocol === 'number' ? options.protocol : ETHERTYPES[options.protocol ?? 'all']
    if (protocol === undefined || protocol < 0 || protocol > 0xffff) throw new ArgumentError('protocol', `unknown ethertype ${options.protocol}`)
    const what = `${options.interface ?? 'any'}${options.netns ? ` netns ${options.netns}` : ''}`
    const nsPath = options.netns === undefined ? null : resolveNetnsPath(options.netns)
    // Protocol 0 at creation: nothing is queued before the filter and the bind are in place.
    const fd = await sysAsync('packet socket', what, () => native.socketAtAsync(nsPath, AF_PACKET, options.type === 'dgram' ? SOCK_DGRAM : SOCK_RAW, 0))
    const handle = new FdHandle(fd, 'packet socket')
    try {
      const ifindex = options.interface ? ifindexOf(fd, options.interface, 'packet bind') : 0
      if (options.filter) attachFilter(fd, options.filter, what)
      sys('packet bind', what, () => native.bind(fd, sockaddrLl(ifindex, protocol)))
      if (options.promiscuous) {
        if (!ifindex) throw new ArgumentError('promiscuous', 'needs an interface')
        const mreq = Buffer.alloc(16)
        mreq.writeInt32LE(ifindex, 0)
        mreq.writeUInt16LE(PACKET_MR_PROMISC, 4)
        sys('packet promiscuous', what, () => native.setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq))
      }
      return new PacketSocket(handle, ifindex, protocol, what, options.outgoing !== false)
    } catch (error) {
      handle.close()
      throw error
    }
  }

  /**
   * Sends one frame (raw: with its Ethernet header). Waits for room when the socket's send queue
   * is full. `to` is the destination MAC (needed for dgram sockets).
   */
  async send(frame: Buffer, options: { to?: string; ifindex?: number; protocol?: number } = {}): Promise<void> {
    const ifindex = options.ifindex ?? this.ifindex
    if (!ifindex) throw new ArgumentError('ifindex', 'an unbound packet socket needs an ifindex to send')
    const addr = sockaddrLl(ifindex, options.protocol ?? (this.protocol === ETHERTYPES.all ? 0 : this.protocol), options.to)
    for (;;) {
      const n = native.sendto(this.handle.fd, frame, 0, frame.length, addr, 0)
      if (n >= 0) return
      if (n === -EAGAIN || n === -ENOBUFS) {
        await this.handle.writable()
        continue
      }
      check(n, 'packet send', this.#what)
    }
  }
}
