// A relay-mode load generator (in the spirit of Kea's perfdhcp): many simulated clients behind one
// relay address, each doing DISCOVER-OFFER-REQUEST-ACK with the server, a bounded number in flight
// at a time, with retransmission, a bounded count and a time limit. It measures exchanges per
// second and the latency of whole exchanges.
import { performance } from 'node:perf_hooks'
import { UdpSocket, type OutgoingDatagram } from '@lab/netlink-native'
import { DhcpMessage } from '../codec/message.js'

export interface RelayLoadOptions {
  netns?: string
  /** The server's address (requests are unicast to its port 67). */
  server: string
  /** The relay address: set as giaddr, bound on port 67 for the replies; must be local. */
  giaddr: string
  /** Simulated clients, each one exchange. */
  clients: number
  /** Exchanges in flight at once (default 64). */
  window?: number
  /** Retransmit after this long without an answer, ms (default 1000). */
  timeoutMs?: number
  /** Retransmissions per message before the client gives up (default 3). */
  retries?: number
  /** Stop after this long whatever is left, ms (default 60 000). */
  durationMs?: number
  /** Distinguishes the MACs of different runs (client i is 02:<base>:<i>). Default 0. */
  macBase?: number
  /** Relay agent information (option 82) sub-options to add, e.g. circuit id. */
  agentInformation?: Map<number, Buffer>
  /** Called for each acknowledged lease, when the ACK arrives. */
  onAck?: (ack: { mac: string; address: string; reply: DhcpMessage }) => void
  /** Called for each completed exchange with when it started (ms since the run began) and how long it took. */
  onExchange?: (exchange: { startedMs: number; latencyMs: number; offerMs: number }) => void
  signal?: AbortSignal
}

export interface RelayLoadResult {
  completed: number
  naks: number
  /** Clients that got no answer after all retransmissions, or were cut off by the time limit. */
  failed: number
  retransmissions: number
  elapsedMs: number
  /** Completed exchanges per second. */
  rate: number
  latencyMs: { p50: number; p99: number; max: number }
}

interface Exchange {
  index: number
  macNumber: number
  xid: number
  phase: 'discover' | 'request'
  startedAt: number
  sentAt: number
  tries: number
  request?: Buffer
}

const COOKIE = 0x63825363
const OFFER = 2
const ACK = 5
const NAK = 6

/** Client i of a run: 02:<base>:<i as 4 bytes>, as a 48-bit number. */
function macNumber(base: number, i: number): number {
  return 0x02 * 2 ** 40 + (base & 0xff) * 2 ** 32 + (i >>> 0)
}

/** Where the value of option `code` starts in an encoded message, or -1. */
function optionOffset(b: Buffer, code: number): number {
  for (let at = 240; at < b.length; ) {
    const c = b[at]!
    if (c === 0) {
      at++
      continue
    }
    if (c === 255 || at + 1 >= b.length) return -1
    if (c === code) return at + 2
    at += 2 + b[at + 1]!
  }
  return -1
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

export async function relayLoad(options: RelayLoadOptions): Promise<RelayLoadResult> {
  const window = options.window ?? 64
  const timeoutMs = options.timeoutMs ?? 1000
  const retries = options.retries ?? 3
  const agent = options.agentInformation
  const socket = await UdpSocket.open({ netns: options.netns, address: options.giaddr, port: 67, batch: 64, receiveBufferBytes: 4 << 20 })
  const byXid = new Map<number, Exchange>()
  const latencies: number[] = []
  const result = { completed: 0, naks: 0, failed: 0, retransmissions: 0 }
  const xidBase = (Math.random() * 0x7fffffff) >>> 0
  let next = 0
  let outbox: OutgoingDatagram[] = []
  const started = performance.now()

  // Messages are stamped from templates and replies read in place: the generator must cost far
  // less per exchange than the servers it measures.
  const template = (type: 'DISCOVER' | 'REQUEST') => {
    const m = new DhcpMessage({ op: 1, xid: 0, chaddr: '00:00:00:00:00:00', giaddr: options.giaddr, hops: 1 })
    m.set(53, type)
    if (type === 'REQUEST') m.set(50, '0.0.0.0').set(54, '0.0.0.0')
    m.set(55, [1, 3, 6, 15, 51, 54])
    if (agent) m.set(82, agent)
    return m.encode()
  }
  const discover = template('DISCOVER')
  const request = template('REQUEST')
  const requestedAt = optionOffset(request, 50)
  const serverIdAt = optionOffset(request, 54)
  const stamp = (base: Buffer, e: Exchange) => {
    const b = Buffer.from(base)
    b.writeUInt32BE(e.xid, 4)
    b.writeUIntBE(e.macNumber, 28, 6)
    return b
  }
  const send = (data: Buffer) => {
    outbox.push({ data, address: options.server, port: 67 })
  }
  const flush = () => {
    if (outbox.length === 0) return
    const batch = outbox
    outbox = []
    socket.sendBatch(batch).catch(() => undefined)
  }
  const startMore = () => {
    while (byXid.size < window && next < options.clients) {
      const now = performance.now()
      const e: Exchange = { index: next, macNumber: macNumber(options.macBase ?? 0, next), xid: (xidBase + next) >>> 0, phase: 'discover', startedAt: now, sentAt: now, tries: 0 }
      next++
      e.request = stamp(discover, e)
      byXid.set(e.xid, e)
      send(e.request)
    }
  }

  let finish!: () => void
  const done = new Promise<void>((resolve) => (finish = resolve))
  const settleIfDone = () => {
    if (byXid.size === 0 && next >= options.clients) finish()
  }

  socket.on('message', (d) => {
    const b = d.data
    if (b.length < 241 || b[0] !== 2 || b.readUInt32BE(236) !== COOKIE) return
    const e = byXid.get(b.readUInt32BE(4))
    if (!e) return
    const typeAt = optionOffset(b, 53)
    const type = typeAt < 0 ? 0 : b[typeAt]!
    if (e.phase === 'discover' && type === OFFER) {
      const serverAt = optionOffset(b, 54)
      if (serverAt < 0) return
      e.phase = 'request'
      e.tries = 0
      e.sentAt = performance.now()
      const r = stamp(request, e)
      b.copy(r, requestedAt, 16, 20)
      b.copy(r, serverIdAt, serverAt, serverAt + 4)
      e.request = r
      send(r)
    } else if (e.phase === 'request' && type === ACK) {
      byXid.delete(e.xid)
      result.completed++
      const latency = performance.now() - e.startedAt
      latencies.push(latency)
      options.onExchange?.({ startedMs: e.startedAt - started, latencyMs: latency, offerMs: e.sentAt - e.startedAt })
      if (options.onAck) {
        const reply = DhcpMessage.decode(b)
        options.onAck({ mac: reply.chaddr, address: reply.yiaddr, reply })
      }
    } else if (type === NAK) {
      byXid.delete(e.xid)
      result.naks++
    } else {
      return
    }
    startMore()
    setImmediate(flush)
    settleIfDone()
  })

  const ticker = setInterval(() => {
    const now = performance.now()
    for (const e of byXid.values()) {
      if (now - e.sentAt < timeoutMs) continue
      if (e.tries >= retries) {
        byXid.delete(e.xid)
        result.failed++
        continue
      }
      e.tries++
      e.sentAt = now
      result.retransmissions++
      send(e.request!)
    }
    startMore()
    flush()
    settleIfDone()
  }, Math.max(10, Math.min(100, timeoutMs / 4)))
  const limit = setTimeout(finish, options.durationMs ?? 60_000)
  const abort = () => finish()
  options.signal?.addEventListener('abort', abort, { once: true })

  startMore()
  flush()
  settleIfDone()
  await done
  clearInterval(ticker)
  clearTimeout(limit)
  options.signal?.removeEventListener('abort', abort)
  socket.close()
  result.failed += byXid.size + (options.clients - next)
  const elapsedMs = performance.now() - started
  latencies.sort((a, b) => a - b)
  return {
    ...result,
    elapsedMs,
    rate: result.completed / (elapsedMs / 1000),
    latencyMs: { p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies[latencies.length - 1] ?? 0 },
  }
}
