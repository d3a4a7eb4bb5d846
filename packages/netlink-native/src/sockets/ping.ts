// ICMP echo ("ping") in any namespace, in process: a raw IPPROTO_ICMP / IPPROTO_ICMPV6 socket
// (root, or CAP_NET_RAW; no net.ipv4.ping_group_range needed), many echoes in flight at once on
// one socket, replies matched by identifier, sequence, a random token in the payload and the
// address they come from. A raw socket sees every echo reply that reaches its namespace (replies
// to /bin/ping or to another Pinger too): what is not ours is counted as `ignored`, what is broken
// (too short, truncated, a bad checksum) as `malformed`, and both are dropped.
//
// Wire formats: RFC 792 (ICMP echo: type 8, reply 0), RFC 4443 §4.1-4.2 (ICMPv6 echo: type 128,
// reply 129; its checksum covers the IPv6 pseudo-header of RFC 8200 §8.1).
import { randomBytes, randomInt } from 'node:crypto'
import { native } from '../native.js'
import { ArgumentError, SystemError, sys, sysAsync } from '../errors.js'
import { EAGAIN, EINTR, ENOBUFS } from '../sys/errno.js'
import { MSG_TRUNC, SOCK_DGRAM, SOCK_RAW, SOL_SOCKET, SO_BINDTODEVICE } from '../sys/socket.js'
import { FdHandle } from '../io/fd-handle.js'
import { resolveNetnsPath } from '../netns/path.js'
import { formatIp, parseIp } from '../rtnetlink/inet.js'
import { ifindexOf } from './ifindex.js'
import { AF_INET, AF_INET6, sockaddrIn, sockaddrIn6 } from './sockaddr.js'

// <netinet/in.h>: protocols; <linux/icmp.h>, <linux/icmpv6.h>: the type filters of raw sockets.
const IPPROTO_ICMP = 1
const IPPROTO_ICMPV6 = 58
const SOL_RAW = 255
const ICMP_FILTER = 1
const ICMPV6_FILTER = 1
// RFC 792 and RFC 4443 message types.
const ICMP_ECHOREPLY = 0
const ICMP_ECHO = 8
const ICMPV6_ECHO_REQUEST = 128
const ICMPV6_ECHO_REPLY = 129

/** ICMP header (type, code, checksum, identifier, sequence): 8 bytes. */
const HEADER = 8
/** Payload bytes, as ping(8)'s default: the first TOKEN of them are this Pinger's token. */
const PAYLOAD = 56
const TOKEN = 8

export interface PingerOptions {
  /** The namespace to ping from: a name under /run/netns or a path; omitted: this process's. */
  netns?: string
  /** 4 (ICMP, the default) or 6 (ICMPv6). */
  family?: 4 | 6
  /**
   * SO_BINDTODEVICE: echoes leave through this interface only (as `ping -I IFACE`); on IPv6 it is
   * also the scope of link-local targets (`fe80::…`), which need it.
   */
  interface?: string
}

export interface PingOptions {
  /** Echo requests to send (default 1). */
  count?: number
  /** How long to wait for each reply after its request left, in ms (default 2000). */
  timeoutMs?: number
  /** Between two requests of one `ping()` (as `ping -i`), in ms (default 1000; 0 sends them all at once). */
  intervalMs?: number
}

export interface PingResult {
  address: string
  /** Requests the kernel took. Fewer than `count` only when a send failed (`error`). */
  transmitted: number
  /** Replies that matched a request (each request counts once). */
  received: number
  /** `transmitted - received`: requests with no reply within `timeoutMs`. */
  lost: number
  /** Round-trip times in ms of the replies, in the order of the requests. */
  rtts: number[]
  /** Why sending stopped early (`ENETUNREACH: ping send 10.9.0.1 netns a`); the counts say how far it got. */
  error?: SystemError
}

/** What a Pinger counted since it opened. */
export interface PingerCounters {
  /** Echo requests the kernel accepted. */
  sent: number
  /** Replies matched to a waiting request. */
  received: number
  /** Replies to our requests that came too late, twice, or from another address. */
  unexpected: number
  /** Too short, truncated, not IPv4, or a bad checksum: dropped. */
  malformed: number
  /** Echo replies for someone else (another identifier or token). */
  ignored: number
}

interface Pending {
  address: string
  /** IPv6: our source address towards `address`, the destination in the reply's pseudo-header. */
  local: Buffer | undefined
  sentAt: number
  timer: NodeJS.Timeout
  settle: (rtt: number | undefined) => void
  fail: (error: Error) => void
}

// One receive buffer for every Pinger: JS runs one drain at a time, and each drain finishes with
// the bytes before it returns. Replies longer than a slot are counted as malformed.
const MMSG = native.MMSG
const SLOT = 2048
const BATCH = 16
const slab = Buffer.allocUnsafe(SLOT * BATCH)
const meta = Buffer.alloc(MMSG.size * BATCH)

/** RFC 1071: the ones' complement of the ones' complement sum of 16-bit words (`initial`: a pseudo-header's sum). */
export function internetChecksum(data: Uint8Array, initial = 0): number {
  let sum = initial
  const even = data.length & ~1
  for (let i = 0; i < even; i += 2) sum += (data[i]! << 8) | data[i + 1]!
  if (data.length & 1) sum += data[data.length - 1]! << 8
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16)
  return ~sum & 0xffff
}

/** The unfolded sum of the IPv6 pseudo-header (RFC 8200 §8.1) for an ICMPv6 message of `length` bytes. */
function pseudoHeaderSum(source: Uint8Array, destination: Uint8Array, length: number): number {
  let sum = 0
  for (let i = 0; i < 16; i += 2) sum += ((source[i]! << 8) | source[i + 1]!) + ((destination[i]! << 8) | destination[i + 1]!)
  return sum + (length >>> 16) + (length & 0xffff) + IPPROTO_ICMPV6
}

function positiveInteger(value: number | undefined, fallback: number, field: string, min: number): number {
  if (value === undefined) return fallback
  if (!Number.isInteger(value) || value < min) throw new ArgumentError(field, `expected an integer >= ${min}, got ${String(value)}`)
  return value
}

/**
 * An ICMP echo socket: `await using p = await Pinger.open({ netns: 'h1' })`, then
 * `await p.ping('10.0.0.2')` as often and as concurrently as needed. Equivalent to
 * `ip netns exec h1 ping -c COUNT -W TIMEOUT ADDRESS`, without a process per ping.
 */
export class Pinger {
  readonly family: 4 | 6
  /** The ICMP identifier of this Pinger's requests (random). */
  readonly identifier: number
  readonly what: string
  readonly #handle: FdHandle
  /** IPv6 only: a UDP socket whose connect() tells the source address the kernel picks for a target. */
  readonly #route: FdHandle | undefined
  readonly #scope: number
  readonly #token = randomBytes(TOKEN)
  readonly #pending = new Map<number, Pending>()
  readonly #locals = new Map<string, Buffer>()
  readonly #counters: PingerCounters = { sent: 0, received: 0, unexpected: 0, malformed: 0, ignored: 0 }
  #sequence = 0
  #reading = false

  private constructor(handle: FdHandle, route: FdHandle | undefined, family: 4 | 6, scope: number, what: string) {
    this.#handle = handle
    this.#route = route
    this.family = family
    this.#scope = scope
    this.what = what
    this.identifier = randomInt(0x10000)
  }

  /**
   * Opens a raw ICMP (or ICMPv6) socket in `netns` that passes echo replies only (ICMP_FILTER).
   * Needs root or CAP_NET_RAW (EPERM otherwise). Throws ArgumentError for bad options, a
   * SystemError naming the socket when the kernel refuses (`ENODEV: ping bind netns h1 dev eth9`).
   */
  static async open(options: PingerOptions = {}): Promise<Pinger> {
    const family = options.family ?? 4
    if (family !== 4 && family !== 6) throw new ArgumentError('family', `expected 4 or 6, got ${String(family)}`)
    const what = `${options.netns ? `netns ${options.netns}` : 'this netns'}${options.interface ? ` dev ${options.interface}` : ''}`
    const nsPath = options.netns === undefined ? null : resolveNetnsPath(options.netns)
    const domain = family === 6 ? AF_INET6 : AF_INET
    const fd = await sysAsync('ping socket', what, () => native.socketAtAsync(nsPath, domain, SOCK_RAW, family === 6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP))
    const handle = new FdHandle(fd, 'ping')
    let route: FdHandle | undefined
    try {
      if (family === 4) {
        // A bit set is a type blocked: everything but echo replies (types >= 32 always pass).
        const filter = Buffer.alloc(4)
        filter.writeUInt32LE(~(1 << ICMP_ECHOREPLY) >>> 0)
        sys('ping filter', what, () => native.setsockopt(fd, SOL_RAW, ICMP_FILTER, filter))
      } else {
        // struct icmp6_filter: 256 bits, a bit set blocks that type.
        const filter = Buffer.alloc(32, 0xff)
        filter.writeUInt32LE(~(1 << (ICMPV6_ECHO_REPLY & 31)) >>> 0, (ICMPV6_ECHO_REPLY >> 5) * 4)
        sys('ping filter', what, () => native.setsockopt(fd, IPPROTO_ICMPV6, ICMPV6_FILTER, filter))
      }
      let scope = 0
      if (options.interface) {
        scope = ifindexOf(fd, options.interface, 'ping bind')
        const name = Buffer.alloc(16)
        name.write(options.interface)
        sys('ping bind', what, () => native.setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, name))
      }
      if (family === 6) {
        route = new FdHandle(await sysAsync('ping socket', what, () => native.socketAtAsync(nsPath, AF_INET6, SOCK_DGRAM, 0)), 'ping')
        if (options.interface) {
          const name = Buffer.alloc(16)
          name.write(options.interface)
          const r = route.fd
          sys('ping bind', what, () => native.setsockopt(r, SOL_SOCKET, SO_BINDTODEVICE, name))
        }
      }
      return new Pinger(handle, route, family, scope, what)
    } catch (error) {
      handle.close()
      route?.close()
      throw error
    }
  }

  /** A fresh copy of what this Pinger counted since it opened. */
  counters(): PingerCounters {
    return { ...this.#counters }
  }

  get closed(): boolean {
    return this.#handle.closed
  }

  /**
   * Sends `count` echo requests to `address` (`intervalMs` apart) and waits for their replies
   * (each at most `timeoutMs`). Resolves with what came back; an unreachable host is `lost`, not an
   * error. A send the kernel refuses (no route: ENETUNREACH) ends it early with `error` set.
   * Throws ArgumentError for a bad address (or one of the other family) or bad options.
   */
  async ping(address: string, options: PingOptions = {}): Promise<PingResult> {
    const ip = parseIp(address, 'address')
    if (ip.family !== this.family) throw new ArgumentError('address', `${address} is not an IPv${this.family} address (this Pinger is IPv${this.family})`)
    const count = positiveInteger(options.count, 1, 'count', 1)
    const timeoutMs = positiveInteger(options.timeoutMs, 2000, 'timeoutMs', 1)
    const intervalMs = positiveInteger(options.intervalMs, 1000, 'intervalMs', 0)
    const target = ip.text
    const to = this.family === 6 ? sockaddrIn6(target, 0, this.#scope) : sockaddrIn(target, 0)
    const result: PingResult = { address: target, transmitted: 0, received: 0, lost: 0, rtts: [] }
    const replies: Array<Promise<number | undefined>> = []
    try {
      const local = this.family === 6 ? this.#localFor(target, ip.bytes) : undefined
      for (let i = 0; i < count; i++) {
        if (i > 0 && intervalMs > 0) await new Promise((r) => setTimeout(r, intervalMs))
        replies.push((await this.#send(target, to, local, timeoutMs)).reply)
        result.transmitted++
      }
    } catch (error) {
      if (!(error instanceof SystemError) || this.closed) throw error
      result.error = error
    }
    for (const rtt of await Promise.all(replies)) {
      if (rtt === undefined) continue
      result.received++
      result.rtts.push(rtt)
    }
    result.lost = result.transmitted - result.received
    return result
  }

  /** Our source address towards `target` (IPv6), from a connect() of the route socket: nothing is sent. */
  #localFor(target: string, bytes: Buffer): Buffer {
    let local = this.#locals.get(target)
    if (local) return local
    const fd = this.#route!.fd
    const scope = bytes[0] === 0xfe && (bytes[1]! & 0xc0) === 0x80 ? this.#scope : 0
    sys('ping send', `${target} from ${this.what}`, () => native.connect(fd, sockaddrIn6(target, 9, scope)))
    const name = Buffer.alloc(28)
    native.getsockname(fd, name)
    local = Buffer.from(name.subarray(8, 24))
    this.#locals.set(target, local)
    return local
  }

  /** Sends one request; resolves once the kernel took it, with the promise of its reply's RTT (wrapped: an async function would wait for it). */
  async #send(target: string, to: Buffer, local: Buffer | undefined, timeoutMs: number): Promise<{ reply: Promise<number | undefined> }> {
    const sequence = this.#nextSequence()
    const packet = Buffer.alloc(HEADER + PAYLOAD)
    packet[0] = this.family === 6 ? ICMPV6_ECHO_REQUEST : ICMP_ECHO
    packet.writeUInt16BE(this.identifier, 4)
    packet.writeUInt16BE(sequence, 6)
    this.#token.copy(packet, HEADER)
    for (let i = TOKEN; i < PAYLOAD; i++) packet[HEADER + i] = i // ping(8)'s fill pattern
    // The kernel fills in an ICMPv6 checksum itself (raw ICMPv6 sockets always checksum at offset 2).
    if (this.family === 4) packet.writeUInt16BE(internetChecksum(packet), 2)
    let pending!: Pending
    const reply = new Promise<number | undefined>((settle, fail) => {
      pending = {
        address: target,
        local,
        sentAt: 0,
        timer: setTimeout(() => {
          this.#pending.delete(sequence)
          this.#readIfWaiting()
          settle(undefined)
        }, timeoutMs),
        settle,
        fail,
      }
    })
    this.#pending.set(sequence, pending)
    this.#readIfWaiting()
    const object = `${target} from ${this.what}`
    for (;;) {
      let n: number
      try {
        pending.sentAt = performance.now()
        n = sys('ping send', object, () => native.sendto(this.#handle.fd, packet, 0, packet.length, to, 0))
      } catch (error) {
        clearTimeout(pending.timer)
        this.#pending.delete(sequence)
        pending.settle(undefined)
        this.#readIfWaiting()
        throw error
      }
      if (n === -EAGAIN || n === -ENOBUFS) {
        await this.#handle.writable()
        continue
      }
      if (n === -EINTR) continue
      break
    }
    this.#counters.sent++
    return { reply }
  }

  /** The next sequence number not in flight (16 bits, wrapping). */
  #nextSequence(): number {
    if (this.#pending.size >= 0x10000) throw new ArgumentError('count', 'more than 65536 requests in flight on one Pinger')
    do this.#sequence = (this.#sequence + 1) & 0xffff
    while (this.#pending.has(this.#sequence))
    return this.#sequence
  }

  /** Polls the socket only while replies are awaited, so an idle Pinger keeps nothing running. */
  #readIfWaiting(): void {
    if (this.closed) return
    const want = this.#pending.size > 0
    if (want === this.#reading) return
    this.#reading = want
    if (want) this.#handle.resumeReading(() => this.#drain())
    else this.#handle.pauseReading()
  }

  #drain(): void {
    const fd = this.#handle.fd
    for (;;) {
      const n = native.recvmmsg(fd, slab, SLOT, BATCH, meta)
      if (n === -EAGAIN) return
      if (n === -EINTR) continue
      if (n < 0) {
        this.#failAll(new SystemError({ errno: -n, op: 'ping receive', object: this.what }))
        return
      }
      for (let i = 0; i < n; i++) {
        const m = i * MMSG.size
        if (meta.readInt32LE(m + MMSG.recvFlags) & MSG_TRUNC) {
          this.#counters.malformed++
          continue
        }
        const data = slab.subarray(i * SLOT, i * SLOT + meta.readInt32LE(m + MMSG.recvLength))
        if (this.family === 4) this.#receive4(data, meta.subarray(m + MMSG.address + 4, m + MMSG.address + 8))
        else this.#receive6(data, meta.subarray(m + MMSG.address + 8, m + MMSG.address + 24))
      }
    }
  }

  /** A raw IPv4 socket reads the IP header too: [IHL*4 bytes header][ICMP]. */
  #receive4(packet: Buffer, from: Buffer): void {
    const ihl = (packet[0]! & 0x0f) * 4
    if (packet.length < 20 || packet[0]! >> 4 !== 4 || ihl < 20 || packet.length < ihl + HEADER) {
      this.#counters.malformed++
      return
    }
    const icmp = packet.subarray(ihl)
    if (icmp[0] !== ICMP_ECHOREPLY) {
      this.#counters.ignored++ // ICMP_FILTER passes types >= 32
      return
    }
    // Raw IPv4 sockets get packets before the kernel's ICMP code checks anything.
    if (internetChecksum(icmp) !== 0) {
      this.#counters.malformed++
      return
    }
    this.#match(icmp, `${from[0]}.${from[1]}.${from[2]}.${from[3]}`, undefined)
  }

  /** A raw ICMPv6 socket reads the ICMPv6 message alone. */
  #receive6(icmp: Buffer, from: Buffer): void {
    if (icmp.length < HEADER) {
      this.#counters.malformed++
      return
    }
    if (icmp[0] !== ICMPV6_ECHO_REPLY) {
      this.#counters.ignored++
      return
    }
    this.#match(icmp, formatIp(from), from)
  }

  /** Matches an echo reply (checksum checked already for IPv4; `from6`: IPv6 source to check it with). */
  #match(icmp: Buffer, from: string, from6: Buffer | undefined): void {
    if (icmp.readUInt16BE(4) !== this.identifier || icmp.length < HEADER + TOKEN || !this.#token.equals(icmp.subarray(HEADER, HEADER + TOKEN))) {
      this.#counters.ignored++
      return
    }
    const sequence = icmp.readUInt16BE(6)
    const pending = this.#pending.get(sequence)
    if (!pending || pending.address !== from) {
      this.#counters.unexpected++
      return
    }
    // The kernel checks ICMPv6 checksums before raw sockets see them (RFC 3542 §3.1); checked
    // again here, against the pseudo-header of this exchange.
    if (from6 && internetChecksum(icmp, pseudoHeaderSum(from6, pending.local!, icmp.length)) !== 0) {
      this.#counters.malformed++
      return
    }
    const rtt = performance.now() - pending.sentAt
    clearTimeout(pending.timer)
    this.#pending.delete(sequence)
    this.#counters.received++
    this.#readIfWaiting()
    pending.settle(rtt)
  }

  #failAll(error: Error): void {
    for (const pending of this.#pending.values()) {
      clearTimeout(pending.timer)
      pending.fail(error)
    }
    this.#pending.clear()
    this.#readIfWaiting()
  }

  /** Closes the socket; requests still waiting count as lost. Safe to call more than once. */
  async close(): Promise<void> {
    if (this.closed) return
    for (const pending of this.#pending.values()) {
      clearTimeout(pending.timer)
      pending.settle(undefined)
    }
    this.#pending.clear()
    this.#reading = false
    this.#handle.close()
    this.#route?.close()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}

/**
 * One-shot: opens a Pinger of `address`'s family in `netns`, pings, closes. Equivalent to
 * `ip netns exec NETNS ping -c COUNT ADDRESS`.
 */
export async function ping(address: string, options: PingerOptions & PingOptions = {}): Promise<PingResult> {
  const family = parseIp(address, 'address').family
  await using pinger = await Pinger.open({ netns: options.netns, interface: options.interface, family })
  return await pinger.ping(address, options) // awaited here: `await using` closes it on return
}
