// A netlink socket in any network namespace. Requests are pipelined: many messages go out in one
// sendmsg, replies are matched back by sequence number, dumps are collected to NLMSG_DONE. The
// kernel handles rtnetlink and nf_tables requests inside sendmsg, so replies are usually waiting
// when sendmsg returns and are drained at once; anything later arrives through the event loop.
import { native } from '../native.js'
import { DecodeError, SystemError, sys, sysAsync } from '../errors.js'
import { EAGAIN, EBADF, EINTR, EIO, ENOBUFS } from '../sys/errno.js'
import { FdHandle } from '../io/fd-handle.js'
import { resolveNetnsPath } from '../netns/path.js'
import {
  AF_NETLINK,
  NETLINK_ADD_MEMBERSHIP,
  NETLINK_CAP_ACK,
  NETLINK_EXT_ACK,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSG_HDRLEN,
  NLMSG_NOOP,
  NLMSG_OVERRUN,
  NLM_F_ACK,
  NLM_F_DUMP,
  NLM_F_DUMP_INTR,
  NLM_F_REQUEST,
  SOCK_RAW,
  SOL_NETLINK,
  SOL_SOCKET,
  SO_RCVBUF,
  SO_RCVBUFFORCE,
  SO_SNDBUF,
  SO_SNDBUFFORCE,
} from './constants.js'
import { NetlinkError, parseErrorPayload } from './error.js'
import { MessageWriter, parseMessages, type NetlinkMessage } from './message.js'


/** Replies longer than this never happen: the kernel caps a dump skb at 32 KiB. */
const RECEIVE_BUFFER = 64 * 1024
/** Non-atomic batches go out in chunks so the acks they queue stay far below the receive buffer. */
const CHUNK_BYTES = 64 * 1024
const CHUNK_MESSAGES = 256
const DUMP_RETRIES = 3

export interface NetlinkRequest {
  type: number
  /** Extra flags; NLM_F_REQUEST is always set and NLM_F_ACK is added unless this is a dump. */
  flags?: number
  /** Writes the message body (fixed header and attributes) after the nlmsghdr. */
  body?: (w: MessageWriter) => void
  /** Wait for no reply at all (nfnetlink batch delimiters). */
  noReply?: boolean
  /** For errors: `link add`, and the object, `v0`. */
  op: string
  object?: string
}

export interface NetlinkReply {
  /** Data messages (NLMSG_ERROR/NLMSG_DONE removed). */
  messages: NetlinkMessage[]
  /** The kernel marked the dump inconsistent (NLM_F_DUMP_INTR) on every retry. */
  interrupted: boolean
  /** How many times the dump was sent (more than 1 when the kernel interrupted it). */
  attempts?: number
}

export type NetlinkResult = NetlinkReply | NetlinkError

export interface NetlinkSocketOptions {
  /** The netlink family: NETLINK_ROUTE (0), NETLINK_NETFILTER (12), ... */
  protocol: number
  /** Namespace name (under /run/netns) or path; omitted: the caller's own namespace. */
  netns?: string
  /** Multicast groups to join (event sockets). */
  groups?: number[]
  receiveBufferBytes?: number
  sendBufferBytes?: number
}

/** A message of a batch the kernel refused: its index in the batch and the error. */
export interface BatchFailure {
  index: number
  error: NetlinkError
}

interface BatchRange {
  base: number
  count: number
  failures: BatchFailure[]
  op: string
  describe: ((index: number) => string | undefined) | undefined
}

interface Pending {
  request: NetlinkRequest
  dump: boolean
  messages: NetlinkMessage[]
  interrupted: boolean
  resolve: (result: NetlinkResult) => void
  /** Requests sent without NLM_F_ACK that succeed unless an error came before this one's ack. */
  implied?: number[]
}

export class NetlinkSocket {
  readonly protocol: number
  readonly netns: string | undefined
  readonly portId: number
  #handle: FdHandle
  #seq = Math.floor(Math.random() * 0x7fffffff)
  #pending = new Map<number, Pending>()
  #receive = Buffer.allocUnsafe(RECEIVE_BUFFER)
  #sendBuffer: number
  #listener: ((messages: NetlinkMessage[]) => void) | undefined
  #onOverrun: (() => void) | undefined
  #reading = false
  /** Batches in flight (sendBatch): their messages' errors are collected by index. */
  #ranges: BatchRange[] = []

  private constructor(protocol: number, netns: string | undefined, handle: FdHandle) {
    this.protocol = protocol
    this.netns = netns
    this.#handle = handle
    this.#sendBuffer = native.getsockoptInt(handle.fd, SOL_SOCKET, SO_SNDBUF)
    const addr = Buffer.alloc(12)
    native.getsockname(handle.fd, addr)
    this.portId = addr.readUInt32LE(4)
  }

  /**
   * Opens a netlink socket of `protocol` in `netns`, bound, with extended acks on and 8 MiB
   * receive / 4 MiB send buffers, joined to `groups`. Throws a SystemError when the kernel refuses
   * (`ENOENT: netlink socket netns gone`).
   */
  static async open(options: NetlinkSocketOptions): Promise<NetlinkSocket> {
    const path = options.netns === undefined ? null : resolveNetnsPath(options.netns)
    const what = options.netns ? `netns ${options.netns}` : undefined
    // Made on the namespace worker thread without blocking this one.
    const fd = await sysAsync('netlink socket', what, () => native.socketAtAsync(path, AF_NETLINK, SOCK_RAW, options.protocol))
    return NetlinkSocket.#setUp(fd, options, what)
  }

  /**
   * As `open()`, but the socket exists, bound and joined to `groups`, when this returns: for event
   * streams, which must see every change made after they were asked for. Blocks the calling
   * thread while the namespace worker makes the socket (one setns and one socket(), some
   * microseconds).
   */
  static openSync(options: NetlinkSocketOptions): NetlinkSocket {
    const path = options.netns === undefined ? null : resolveNetnsPath(options.netns)
    const what = options.netns ? `netns ${options.netns}` : undefined
    const fd = sys('netlink socket', what, () => native.socketAt(path, AF_NETLINK, SOCK_RAW, options.protocol))
    return NetlinkSocket.#setUp(fd, options, what)
  }

  static #setUp(fd: number, options: NetlinkSocketOptions, what: string | undefined): NetlinkSocket {
    const protocol = options.protocol
    const handle = new FdHandle(fd, 'netlink')
    try {
      setBuffer(fd, SO_RCVBUFFORCE, SO_RCVBUF, options.receiveBufferBytes ?? 8 << 20)
      setBuffer(fd, SO_SNDBUFFORCE, SO_SNDBUF, options.sendBufferBytes ?? 4 << 20)
      // Extended acks carry the kernel's reason; capped acks keep error replies small.
      native.setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, 1)
      native.setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, 1)
      const addr = Buffer.alloc(12)
      addr.writeUInt16LE(AF_NETLINK, 0)
      sys('netlink bind', what, () => native.bind(fd, addr))
      for (const group of options.groups ?? []) {
        sys('netlink join group', String(group), () => native.setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, group))
      }
      return new NetlinkSocket(protocol, options.netns, handle)
    } catch (error) {
      handle.close()
      throw error
    }
  }

  get closed(): boolean {
    return this.#handle.closed
  }

  /** The socket's fd, e.g. for interface ioctls, which resolve in the socket's namespace. */
  get fd(): number {
    return this.#handle.fd
  }

  nextSeq(): number {
    this.#seq = (this.#seq + 1) >>> 0 || 1
    return this.#seq
  }

  /** Sends one request and returns its reply; a kernel error is thrown as NetlinkError. */
  async request(request: NetlinkRequest): Promise<NetlinkReply> {
    const [result] = await this.exchange([request])
    if (result instanceof NetlinkError) throw result
    return result!
  }

  /** A dump, retried while the kernel reports it interrupted (NLM_F_DUMP_INTR). */
  async dump(request: NetlinkRequest): Promise<NetlinkReply> {
    let reply = await this.request({ ...request, flags: (request.flags ?? 0) | NLM_F_DUMP })
    let attempts = 1
    while (reply.interrupted && attempts < DUMP_RETRIES) {
      reply = await this.request({ ...request, flags: (request.flags ?? 0) | NLM_F_DUMP })
      attempts++
    }
    return { ...reply, attempts }
  }

  /**
   * Sends many requests pipelined and resolves with one result per request, in order: a reply or
   * the NetlinkError for that request. `atomic` sends everything in one sendmsg (required for an
   * nfnetlink batch, which the kernel applies as one transaction). `ackLastOnly` asks for an ack
   * on the last acknowledged request only: the kernel still answers every failing request with
   * its error, before that last ack, so huge batches need no ack per message.
   */
  exchange(requests: NetlinkRequest[], options: { atomic?: boolean; ackLastOnly?: boolean } = {}): Promise<NetlinkResult[]> {
    if (requests.length === 0) return Promise.resolve([])
    const writer = new MessageWriter(Math.max(4096, requests.length * 128))
    const boundaries: number[] = []
    const seqs: number[] = []
    let lastAcked = -1
    if (options.ackLastOnly) {
      for (let i = requests.length - 1; i >= 0; i--) {
        if (!requests[i]!.noReply) {
          lastAcked = i
          break
        }
      }
    }
    const implied: number[] = []
    // One promise for the whole exchange: huge nfnetlink batches would otherwise make one each.
    const results: NetlinkResult[] = new Array(requests.length)
    let remaining = 0
    let settle!: () => void
    const all = new Promise<NetlinkResult[]>((resolve) => (settle = () => resolve(results)))
    try {
      requests.forEach((request, i) => {
        const seq = this.nextSeq()
        const dump = ((request.flags ?? 0) & NLM_F_DUMP) === NLM_F_DUMP
        let flags = (request.flags ?? 0) | NLM_F_REQUEST
        const silent = options.ackLastOnly === true && i !== lastAcked && !dump
        if (!dump && !request.noReply && !silent) flags |= NLM_F_ACK
        const at = writer.begin(request.type, flags, seq, 0)
        request.body?.(writer)
        writer.end(at)
        boundaries.push(writer.length)
        seqs.push(seq)
        if (request.noReply) {
          results[i] = { messages: [], interrupted: false }
          return
        }
        if (silent) implied.push(seq)
        remaining++
        const resolve = (result: NetlinkResult) => {
          results[i] = result
          if (--remaining === 0) settle()
        }
        this.#pending.set(seq, { request, dump, messages: [], interrupted: false, resolve, ...(i === lastAcked ? { implied } : {}) })
      })
    } catch (error) {
      for (const seq of seqs) this.#pending.delete(seq)
      return Promise.reject(error)
    }
    if (remaining === 0) settle()
    if (options.atomic && writer.length + 64 > this.#sendBuffer) {
      // One sendmsg must hold the whole batch: grow the send buffer to fit it.
      setBuffer(this.#handle.fd, SO_SNDBUFFORCE, SO_SNDBUF, writer.length + 65536)
      this.#sendBuffer = native.getsockoptInt(this.#handle.fd, SOL_SOCKET, SO_SNDBUF)
    }
    try {
      this.#send(writer.view(), boundaries, options.atomic === true)
    } catch (error) {
      for (const seq of seqs) this.#pending.delete(seq)
      return Promise.reject(error)
    }
    return all
  }

  /**
   * Sends messages already written one after another into `data` (nlmsghdr and body each, as a
   * MessageWriter makes them) in one sendmsg, as an nfnetlink batch needs: the kernel applies it
   * whole or not at all. Each header's sequence number is filled in here; the flags are the
   * caller's (NLM_F_REQUEST, and NLM_F_ACK where an answer is wanted). Resolves once the last
   * message with NLM_F_ACK is answered (at once when none has it) with the errors the kernel
   * returned, by message index: it answers every message it refuses, acked or not, before that
   * last ack. Nothing is kept per message, so a batch of 100,000 costs what its bytes cost.
   * `describe(index)` names a failed message in its NetlinkError (called only for failures).
   */
  sendBatch(data: Buffer, options: { op: string; describe?: (index: number) => string | undefined }): Promise<BatchFailure[]> {
    // Number the messages; a range that would wrap restarts at 1, so `seq - base` stays an index.
    let count = 0
    let lastAcked = -1
    for (let at = 0; at + NLMSG_HDRLEN <= data.length; ) {
      const len = data.readUInt32LE(at)
      if (len < NLMSG_HDRLEN || at + len > data.length) throw new DecodeError(`batch message at ${at}: length ${len} overruns ${data.length - at} bytes`, { length: len, offset: at })
      if (data.readUInt16LE(at + 6) & NLM_F_ACK) lastAcked = count
      count++
      at += (len + 3) & ~3
    }
    if (count === 0) return Promise.resolve([])
    if (this.#seq + count + 1 > 0xffffffff) this.#seq = 0
    const base = this.#seq + 1
    this.#seq += count
    for (let at = 0, k = 0; k < count; k++) {
      data.writeUInt32LE(base + k, at + 8)
      at += (data.readUInt32LE(at) + 3) & ~3
    }
    const failures: BatchFailure[] = []
    const range: BatchRange = { base, count, failures, op: options.op, describe: options.describe }
    let done!: () => void
    const finished = new Promise<BatchFailure[]>((resolve) => (done = () => resolve(failures)))
    this.#ranges.push(range)
    if (lastAcked >= 0) {
      const request: NetlinkRequest = { type: 0, op: options.op, ...(options.describe ? { object: options.describe(lastAcked) ?? undefined } : {}) }
      this.#pending.set(base + lastAcked, {
        request,
        dump: false,
        messages: [],
        interrupted: false,
        resolve: (result) => {
          const at = this.#ranges.indexOf(range)
          if (at >= 0) this.#ranges.splice(at, 1)
          // Its own error (or a lost reply) counts once, beside those of the others.
          if (result instanceof NetlinkError && !failures.some((f) => f.index === lastAcked)) failures.push({ index: lastAcked, error: result })
          failures.sort((a, b) => a.index - b.index)
          done()
        },
      })
    }
    if (data.length + 64 > this.#sendBuffer) {
      setBuffer(this.#handle.fd, SO_SNDBUFFORCE, SO_SNDBUF, data.length + 65536)
      this.#sendBuffer = native.getsockoptInt(this.#handle.fd, SOL_SOCKET, SO_SNDBUF)
    }
    try {
      this.#send(data, [], true)
    } catch (error) {
      this.#pending.delete(base + lastAcked)
      const at = this.#ranges.indexOf(range)
      if (at >= 0) this.#ranges.splice(at, 1)
      return Promise.reject(error)
    }
    if (lastAcked < 0) {
      // Nothing to wait for: what the kernel refused is already queued, and was read by #send.
      this.#ranges.splice(this.#ranges.indexOf(range), 1)
      done()
    }
    return finished
  }

  #send(data: Buffer, boundaries: number[], atomic: boolean): void {
    let start = 0
    let index = 0
    while (start < data.length) {
      let end = data.length
      if (!atomic) {
        const first = index
        while (index < boundaries.length && (index - first < CHUNK_MESSAGES) && boundaries[index]! - start <= CHUNK_BYTES) index++
        if (index === first) index++
        end = boundaries[index - 1]!
      }
      const dest = Buffer.alloc(12)
      dest.writeUInt16LE(AF_NETLINK, 0)
      for (;;) {
        const n = sys('netlink send', this.netns, () => native.sendto(this.#handle.fd, data, start, end - start, dest))
        if (n === -EINTR) continue
        if (n < 0) throw new SystemError({ errno: -n, op: 'netlink send', object: this.netns })
        break
      }
      start = end
      this.#drain()
    }
    this.#armReading()
  }

  /** Reads every queued datagram without blocking; dispatches replies and events. */
  #drain(): void {
    for (;;) {
      if (this.#handle.closed) return
      const n = native.recvfrom(this.#handle.fd, this.#receive, null, 0)
      if (n === -EAGAIN) return
      if (n === -EINTR) continue
      if (n === -ENOBUFS) {
        this.#overrun()
        continue
      }
      if (n < 0) throw new SystemError({ errno: -n, op: 'netlink receive', object: this.netns })
      const copy = Buffer.from(this.#receive.subarray(0, n))
      this.#dispatch(parseMessages(copy))
    }
  }

  #dispatch(messages: NetlinkMessage[]): void {
    const events: NetlinkMessage[] = []
    for (const message of messages) {
      const pending = message.seq !== 0 ? this.#pending.get(message.seq) : undefined
      if (!pending && this.#ranges.length > 0 && message.type === NLMSG_ERROR && this.#inRange(message)) continue
      if (!pending) {
        if (message.type !== NLMSG_ERROR && message.type !== NLMSG_DONE && message.type !== NLMSG_NOOP) events.push(message)
        continue
      }
      if (message.type === NLMSG_ERROR) {
        const { errno, extack } = parseErrorPayload(message.payload, message.flags)
        this.#finish(message.seq, pending, errno === 0 ? null : new NetlinkError(errno, pending.request.op, pending.request.object, extack))
      } else if (message.type === NLMSG_DONE) {
        const status = message.payload.length >= 4 ? message.payload.readInt32LE(0) : 0
        if (message.flags & NLM_F_DUMP_INTR) pending.interrupted = true
        this.#finish(message.seq, pending, status < 0 ? new NetlinkError(-status, pending.request.op, pending.request.object, parseErrorPayload(message.payload, message.flags).extack) : null)
      } else if (message.type === NLMSG_NOOP || message.type === NLMSG_OVERRUN) {
        continue
      } else {
        if (message.flags & NLM_F_DUMP_INTR) pending.interrupted = true
        pending.messages.push(message)
      }
    }
    if (events.length > 0) this.#listener?.(events)
  }

  /** An error for a message of a batch sent by sendBatch() that no one waits for on its own. */
  #inRange(message: NetlinkMessage): boolean {
    for (const range of this.#ranges) {
      const index = (message.seq - range.base) >>> 0
      if (index >= range.count) continue
      const { errno, extack } = parseErrorPayload(message.payload, message.flags)
      if (errno !== 0) range.failures.push({ index, error: new NetlinkError(errno, range.op, range.describe?.(index), extack) })
      return true
    }
    return false
  }

  #finish(seq: number, pending: Pending, error: NetlinkError | null): void {
    this.#pending.delete(seq)
    pending.resolve(error ?? { messages: pending.messages, interrupted: pending.interrupted })
    // Requests sent without an ack that got no error before this reply succeeded.
    for (const other of pending.implied ?? []) {
      const p = this.#pending.get(other)
      if (!p) continue
      this.#pending.delete(other)
      p.resolve({ messages: p.messages, interrupted: false })
    }
    if (this.#pending.size === 0 && !this.#listener) this.#stopReading()
  }

  /** The receive queue overflowed: replies or events were lost. */
  #overrun(): void {
    if (this.#pending.size > 0) {
      const lost = [...this.#pending.entries()]
      this.#pending.clear()
      for (const [, p] of lost) p.resolve(new NetlinkError(ENOBUFS, p.request.op, p.request.object, { message: 'netlink receive queue overflowed; reply lost' }))
    }
    this.#onOverrun?.()
  }

  #armReading(): void {
    if (this.#reading || this.#handle.closed) return
    if (this.#pending.size === 0 && !this.#listener) return
    this.#reading = true
    this.#handle.resumeReading(() => {
      try {
        this.#drain()
      } catch (error) {
        this.#fail(error)
      }
    })
  }

  #stopReading(): void {
    if (!this.#reading || this.#handle.closed) return
    this.#reading = false
    this.#handle.pauseReading()
  }

  #fail(error: unknown): void {
    const lost = [...this.#pending.values()]
    this.#pending.clear()
    for (const p of lost) {
      const errno = (error as { errno?: number }).errno ?? EIO
      p.resolve(new NetlinkError(errno, p.request.op, p.request.object, { message: (error as Error).message }))
    }
  }

  /**
   * Delivers messages that answer no request (multicast events) to `onMessages`, and calls
   * `onOverrun` when the kernel dropped some because the receive queue was full (ENOBUFS).
   */
  listen(onMessages: (messages: NetlinkMessage[]) => void, onOverrun: () => void): void {
    this.#listener = onMessages
    this.#onOverrun = onOverrun
    this.#armReading()
    // Events may already be queued from before the listener was set.
    try {
      this.#drain()
    } catch (error) {
      this.#fail(error)
    }
  }

  joinGroup(group: number): void {
    sys('netlink join group', String(group), () => native.setsockopt(this.#handle.fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, group))
  }

  /** Closes the socket; outstanding requests fail with EBADF. Safe to call twice. */
  async close(): Promise<void> {
    if (this.#handle.closed) return
    this.#listener = undefined
    this.#handle.close()
    const lost = [...this.#pending.values()]
    this.#pending.clear()
    for (const p of lost) p.resolve(new NetlinkError(EBADF, p.request.op, p.request.object, { message: 'socket closed' }))
  }

  /** `await using socket = await NetlinkSocket.open(...)` closes it at the end of the scope. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}

function setBuffer(fd: number, force: number, plain: number, bytes: number): void {
  try {
    native.setsockopt(fd, SOL_SOCKET, force, bytes)
  } catch {
    // Without CAP_NET_ADMIN the forced size is refused; the capped size still helps.
    native.setsockopt(fd, SOL_SOCKET, plain, bytes)
  }
}
