// Queueing disciplines (RTM_*QDISC): netem (delay, jitter, loss, duplicate, reorder, corrupt) and
// tbf (a token-bucket rate limit), encoded as the kernel's structs as `tc qdisc` sends them; any
// other kind is listed with its kind and handle (nothing read is lost: its raw options are kept).
//
// Units follow tc: a bare duration is microseconds, a bare rate bits per second, a bare size bytes,
// a bare percentage a percent (2 means 2%). Strings take tc's suffixes: '50ms', '100mbit', '32kb'.
import { ArgumentError } from '../errors.js'
import { Attributes, fixedHeader } from '../netlink/attributes.js'
import { NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE } from '../netlink/constants.js'
import type { MessageWriter, NetlinkMessage } from '../netlink/message.js'
import { checkRef, refsOf, type LinkRef, type Operation } from './context.js'
import * as C from './constants.js'

/** netem's settings; unset means off (0 in the kernel's struct). */
export interface NetemOptions {
  /** Added latency: '50ms', or microseconds. */
  delay?: string | number
  /** Random variation of the delay (needs delay): '5ms', or microseconds. */
  jitter?: string | number
  /** Random loss: '2%', or a percent. */
  loss?: string | number
  duplicate?: string | number
  /** Packets sent at once instead of delayed (needs delay): '25%', or a percent. */
  reorder?: string | number
  /** With reorder: every gap-th packet is the one reordered (tc's `gap`, default 1). */
  gap?: number
  corrupt?: string | number
  /** Queue length in packets (default 1000, as tc). */
  limit?: number
}

/** tbf's settings. */
export interface TbfOptions {
  /** '100mbit', or bits per second. */
  rate: string | number
  /** Bucket size: '32kb', or bytes (default: 10 ms of rate, at least 1600 bytes). */
  burst?: string | number
  /** Longest a packet may wait: '50ms', or microseconds (default 50ms); sets the queue limit. */
  latency?: string | number
}

interface QdiscTarget {
  /** The link (`dev` in tc). */
  interface: LinkRef
  /** 'root' (default) or a class 'major:minor'. */
  parent?: string
  /** 'major:' such as '1:'; the kernel picks one when unset. */
  handle?: string
}

export type QdiscOptions = QdiscTarget & (({ kind: 'netem' } & NetemOptions) | ({ kind: 'tbf' } & TbfOptions))

/** Identifies a qdisc to delete: the link and its parent (default root). */
export type QdiscRef = QdiscTarget & { kind?: string }

/** netem as read back; durations in microseconds, probabilities in percent. */
export interface Netem {
  limit: number
  delay?: number
  jitter?: number
  loss?: number
  duplicate?: number
  reorder?: number
  gap?: number
  corrupt?: number
}

/** tbf as read back: rate in bits per second, burst and limit in bytes, latency in microseconds. */
export interface Tbf {
  rate: number
  burst: number
  limit: number
  latency: number
}

export interface Qdisc {
  index: number
  kind: string
  /** tc's notation: '8001:'. */
  handle: string
  /** 'root', 'ingress' or 'major:minor'. */
  parent: string
  netem?: Netem
  tbf?: Tbf
  /** The TCA_OPTIONS bytes of kinds decoded by neither. */
  options?: Buffer
}

const U32_MAX = 0xffffffff
const TICK_NS = 1 << C.PSCHED_SHIFT

const TIME_UNITS: Record<string, number> = { s: 1e6, sec: 1e6, secs: 1e6, ms: 1e3, msec: 1e3, msecs: 1e3, us: 1, usec: 1, usecs: 1, '': 1 }
const RATE_UNITS: Record<string, number> = { '': 1, bit: 1, kbit: 1e3, mbit: 1e6, gbit: 1e9, tbit: 1e12, bps: 8, kbps: 8e3, mbps: 8e6, gbps: 8e9, tbps: 8e12 }
const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, m: 1024 ** 2, mb: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, kbit: 128, mbit: 1024 ** 2 / 8, gbit: 1024 ** 3 / 8 }

function withUnit(field: string, value: string | number, units: Record<string, number>, what: string): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw new ArgumentError(field, `expected ${what}, got ${value}`)
    return value
  }
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(String(value).trim())
  const unit = m ? units[m[2]!.toLowerCase()] : undefined
  if (!m || unit === undefined) throw new ArgumentError(field, `expected ${what}, got ${JSON.stringify(value)}`)
  return Number(m[1]) * unit
}

/** '50ms' -> 50000 (microseconds); a number is already microseconds. */
export function parseDuration(value: string | number, field = 'duration'): number {
  return withUnit(field, value, TIME_UNITS, 'a duration such as 50ms')
}

/** '100mbit' -> 100000000 (bits per second); a number is already bits per second. */
export function parseRate(value: string | number, field = 'rate'): number {
  const bits = withUnit(field, value, RATE_UNITS, 'a rate such as 100mbit')
  if (bits < 8) throw new ArgumentError(field, `a rate must be at least 8bit, got ${JSON.stringify(value)}`)
  return bits
}

/** '32kb' -> 32768 (bytes); a number is already bytes. */
export function parseSize(value: string | number, field = 'size'): number {
  return Math.round(withUnit(field, value, SIZE_UNITS, 'a size such as 32kb'))
}

/** '2%' -> 2; a number is already a percent. */
export function parsePercent(value: string | number, field = 'percent'): number {
  const n = typeof value === 'number' ? value : /^\d+(?:\.\d+)?%$/.test(value.trim()) ? Number(value.trim().slice(0, -1)) : NaN
  if (!Number.isFinite(n) || n < 0 || n > 100) throw new ArgumentError(field, `expected a percentage such as 2%, got ${JSON.stringify(value)}`)
  return n
}

/** A percent as the kernel's fraction of 2^32-1, rounded as tc rounds it. */
const probability = (percent: number): number => Math.min(U32_MAX, Math.round((percent / 100) * U32_MAX))
const percentOf = (p: number): number => Math.round((p / U32_MAX) * 100 * 1e6) / 1e6
const ticks = (microseconds: number): number => Math.min(U32_MAX, Math.floor((microseconds * 1000) / TICK_NS))

/** 'root', 'ingress', '1:', '1:2' or ffff:fff1 to the kernel's u32 handle. */
export function parseHandle(value: string, field: string): number {
  if (value === 'root') return C.TC_H_ROOT
  if (value === 'ingress') return C.TC_H_INGRESS
  const m = /^([0-9a-f]{1,4}):([0-9a-f]{0,4})$/i.exec(value)
  if (!m) throw new ArgumentError(field, `expected 'root' or a handle such as 1: or 1:2, got ${JSON.stringify(value)}`)
  return ((parseInt(m[1]!, 16) << 16) | (m[2] ? parseInt(m[2], 16) : 0)) >>> 0
}

export function formatHandle(handle: number, parent = false): string {
  if (parent && handle === C.TC_H_ROOT) return 'root'
  if (parent && handle === C.TC_H_INGRESS) return 'ingress'
  const major = (handle >>> 16).toString(16)
  const minor = handle & 0xffff
  return minor ? `${major}:${minor.toString(16)}` : `${major}:`
}

/** struct tcmsg: family, pad, ifindex, handle, parent, info (20 bytes). */
function tcmsg(w: MessageWriter, ifindex: number, handle: number, parent: number): void {
  const at = w.reserve(20)
  w.buf.writeInt32LE(ifindex, at + 4)
  w.buf.writeUInt32LE(handle >>> 0, at + 8)
  w.buf.writeUInt32LE(parent >>> 0, at + 12)
}

interface EncodedNetem {
  latency: number
  jitter: number
  limit: number
  loss: number
  gap: number
  duplicate: number
  reorder: number
  corrupt: number
}

function netemOf(o: NetemOptions): EncodedNetem {
  const delay = o.delay === undefined ? 0 : parseDuration(o.delay, 'delay')
  const jitter = o.jitter === undefined ? 0 : parseDuration(o.jitter, 'jitter')
  const reorder = o.reorder === undefined ? 0 : probability(parsePercent(o.reorder, 'reorder'))
  if (jitter && !delay) throw new ArgumentError('jitter', 'jitter needs a delay')
  // As tc: reordering sends some packets at once and delays the rest, so there must be a delay.
  if (reorder && !delay) throw new ArgumentError('reorder', 'reordering needs a delay')
  if (o.limit !== undefined && (!Number.isInteger(o.limit) || o.limit < 1 || o.limit > U32_MAX)) throw new ArgumentError('limit', `expected a packet count, got ${o.limit}`)
  if (o.gap !== undefined && (!Number.isInteger(o.gap) || o.gap < 0 || o.gap > U32_MAX)) throw new ArgumentError('gap', `expected a packet count, got ${o.gap}`)
  return {
    latency: delay,
    jitter,
    limit: o.limit ?? 1000,
    loss: o.loss === undefined ? 0 : probability(parsePercent(o.loss, 'loss')),
    // tc sets gap 1 with reorder: "every packet may be reordered".
    gap: o.gap ?? (reorder ? 1 : 0),
    duplicate: o.duplicate === undefined ? 0 : probability(parsePercent(o.duplicate, 'duplicate')),
    reorder,
    corrupt: o.corrupt === undefined ? 0 : probability(parsePercent(o.corrupt, 'corrupt')),
  }
}

function writeNetem(w: MessageWriter, n: EncodedNetem): void {
  // TCA_OPTIONS holds struct tc_netem_qopt { latency, limit, loss, gap, duplicate, jitter } (u32
  // each, latency and jitter in 64 ns ticks) and then attributes: it is not flagged as a nest.
  const at = w.beginNested(C.TCA_OPTIONS, false)
  const q = w.reserve(24)
  w.buf.writeUInt32LE(ticks(n.latency), q)
  w.buf.writeUInt32LE(n.limit, q + 4)
  w.buf.writeUInt32LE(n.loss, q + 8)
  w.buf.writeUInt32LE(n.gap, q + 12)
  w.buf.writeUInt32LE(n.duplicate, q + 16)
  w.buf.writeUInt32LE(ticks(n.jitter), q + 20)
  // Times past 2^32 ticks (about 274 s) need the 64-bit nanosecond attributes.
  if (ticks(n.latency) === U32_MAX) w.u64(C.TCA_NETEM_LATENCY64, BigInt(Math.round(n.latency * 1000)))
  if (ticks(n.jitter) === U32_MAX) w.u64(C.TCA_NETEM_JITTER64, BigInt(Math.round(n.jitter * 1000)))
  // struct tc_netem_reorder / tc_netem_corrupt: { probability, correlation }.
  if (n.reorder) w.attr(C.TCA_NETEM_REORDER, u32s(n.reorder, 0))
  if (n.corrupt) w.attr(C.TCA_NETEM_CORRUPT, u32s(n.corrupt, 0))
  w.endNested(at)
}

function u32s(...values: number[]): Buffer {
  const b = Buffer.alloc(values.length * 4)
  values.forEach((v, i) => b.writeUInt32LE(v >>> 0, i * 4))
  return b
}

interface EncodedTbf {
  rate: number
  burst: number
  limit: number
  buffer: number
}

function tbfOf(o: TbfOptions): EncodedTbf {
  if (o.rate === undefined) throw new ArgumentError('rate', 'tbf needs a rate')
  const rate = Math.floor(parseRate(o.rate, 'rate') / 8) // the kernel counts bytes per second
  const burst = o.burst === undefined ? Math.max(1600, Math.ceil(rate / 100)) : parseSize(o.burst, 'burst')
  const latency = o.latency === undefined ? 50_000 : parseDuration(o.latency, 'latency')
  if (burst < 1 || burst > U32_MAX) throw new ArgumentError('burst', `expected 1 to ${U32_MAX} bytes, got ${burst}`)
  return {
    rate,
    burst,
    // As tc: the queue holds what drains in `latency` plus one bucket.
    limit: Math.min(U32_MAX, Math.floor((rate * latency) / 1e6) + burst),
    // The time one bucket takes at the rate, in ticks (the kernel recomputes it from the burst).
    buffer: Math.min(U32_MAX, Math.floor((burst * 1e9) / rate / TICK_NS)),
  }
}

function writeTbf(w: MessageWriter, t: EncodedTbf): void {
  w.nested(C.TCA_OPTIONS, (n) => {
    // struct tc_tbf_qopt { tc_ratespec rate, peakrate; u32 limit, buffer, mtu }; tc_ratespec is
    // { u8 cell_log, u8 linklayer, u16 overhead, s16 cell_align, u16 mpu, u32 rate }. With the
    // link layer set the kernel computes its own rate table, so no TCA_TBF_RTAB is needed.
    const p = Buffer.alloc(36)
    p.writeUInt8(C.TC_LINKLAYER_ETHERNET, 1)
    p.writeInt16LE(-1, 4)
    p.writeUInt32LE(Math.min(t.rate, U32_MAX), 8)
    p.writeUInt32LE(t.limit, 24)
    p.writeUInt32LE(t.buffer, 28)
    n.attr(C.TCA_TBF_PARMS, p)
    if (t.rate >= U32_MAX) n.u64(C.TCA_TBF_RATE64, BigInt(t.rate))
    n.u32(C.TCA_TBF_BURST, t.burst)
  })
}

type Verb = 'add' | 'change' | 'replace' | 'del'
const FLAGS: Record<Verb, number> = { add: NLM_F_CREATE | NLM_F_EXCL, change: 0, replace: NLM_F_CREATE | NLM_F_REPLACE, del: 0 }

function qdiscOperation(verb: Verb, o: QdiscOptions | QdiscRef): Operation<void> {
  const link = checkRef(o.interface, 'interface')
  const parent = parseHandle(o.parent ?? 'root', 'parent')
  const handle = o.handle === undefined ? 0 : parseHandle(o.handle, 'handle')
  let options: ((w: MessageWriter) => void) | undefined
  if (verb !== 'del') {
    const q = o as QdiscOptions
    if (q.kind === 'netem') {
      const n = netemOf(q)
      options = (w) => writeNetem(w, n)
    } else if (q.kind === 'tbf') {
      const t = tbfOf(q)
      options = (w) => writeTbf(w, t)
    } else {
      throw new ArgumentError('kind', `expected netem or tbf, got ${JSON.stringify((q as { kind?: unknown }).kind)}`)
    }
  }
  return {
    refs: refsOf(link),
    encode: (ctx) => ({
      type: verb === 'del' ? C.RTM_DELQDISC : C.RTM_NEWQDISC,
      flags: FLAGS[verb],
      op: `qdisc ${verb}`,
      object: `dev ${link} ${o.parent ?? 'root'}${o.kind ? ` ${o.kind}` : ''}`,
      body: (w) => {
        tcmsg(w, ctx.index(link, 'interface'), handle, parent)
        if (o.kind) w.str(C.TCA_KIND, o.kind)
        options?.(w)
      },
    }),
    decode: () => undefined,
  }
}

export const qdiscAdd = (o: QdiscOptions) => qdiscOperation('add', o)
export const qdiscChange = (o: QdiscOptions) => qdiscOperation('change', o)
export const qdiscReplace = (o: QdiscOptions) => qdiscOperation('replace', o)
export const qdiscDel = (o: QdiscRef) => qdiscOperation('del', o)

export function qdiscDumpRequest(w: MessageWriter): void {
  w.reserve(20)
}

function decodeNetem(v: Buffer): Netem {
  const q = fixedHeader(v, 24, 'struct tc_netem_qopt')
  const a = new Attributes(q, 24)
  const ns64 = (type: number) => a.get(type)?.readBigInt64LE(0)
  const latencyNs = ns64(C.TCA_NETEM_LATENCY64) ?? BigInt(q.readUInt32LE(0)) * BigInt(TICK_NS)
  const jitterNs = ns64(C.TCA_NETEM_JITTER64) ?? BigInt(q.readUInt32LE(20)) * BigInt(TICK_NS)
  const netem: Netem = { limit: q.readUInt32LE(4) }
  const set = (key: keyof Netem, value: number) => {
    if (value) netem[key] = value
  }
  set('delay', Number(latencyNs) / 1000)
  set('jitter', Number(jitterNs) / 1000)
  set('loss', percentOf(q.readUInt32LE(8)))
  set('gap', q.readUInt32LE(12))
  set('duplicate', percentOf(q.readUInt32LE(16)))
  const reorder = a.get(C.TCA_NETEM_REORDER)
  if (reorder && reorder.length >= 4) set('reorder', percentOf(reorder.readUInt32LE(0)))
  const corrupt = a.get(C.TCA_NETEM_CORRUPT)
  if (corrupt && corrupt.length >= 4) set('corrupt', percentOf(corrupt.readUInt32LE(0)))
  return netem
}

function decodeTbf(options: Attributes): Tbf | undefined {
  const p = options.get(C.TCA_TBF_PARMS)
  if (!p || p.length < 36) return undefined
  const rate = Number(options.u64(C.TCA_TBF_RATE64) ?? BigInt(p.readUInt32LE(8)))
  const limit = p.readUInt32LE(24)
  const bufferNs = p.readUInt32LE(28) * TICK_NS
  // As tc derives them: the bucket is what the rate sends in `buffer`; the latency is how long
  // a full queue takes to drain, less the bucket.
  return {
    rate: rate * 8,
    burst: Math.floor((rate * bufferNs) / 1e9),
    limit,
    latency: Math.round((1e6 * limit) / rate - bufferNs / 1000),
  }
}

export function decodeQdisc(message: NetlinkMessage): Qdisc {
  const p = fixedHeader(message.payload, 20, 'struct tcmsg')
  const a = new Attributes(p, 20)
  const qdisc: Qdisc = {
    index: p.readInt32LE(4),
    kind: a.str(C.TCA_KIND) ?? '',
    handle: formatHandle(p.readUInt32LE(8)),
    parent: formatHandle(p.readUInt32LE(12), true),
  }
  const options = a.get(C.TCA_OPTIONS)
  if (options && options.length > 0) {
    if (qdisc.kind === 'netem') qdisc.netem = decodeNetem(options)
    else if (qdisc.kind === 'tbf') qdisc.tbf = decodeTbf(new Attributes(options))
    else qdisc.options = Buffer.from(options)
  }
  return qdisc
}
