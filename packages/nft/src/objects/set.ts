// Named sets and maps, and their elements: keys as the values nft takes (`10.0.0.1`,
// `10.0.0.0/24`, `10.1.0.0-10.1.0.9`, `80`, `1024-2047`, `eth0`), in both directions, so what
// reads back can be applied again unchanged.
import { Attributes, ArgumentError, formatIp, formatMac, parseCidr, parseIp, parseMac, type AttributeWriter, type NetlinkMessage } from '@lab/netlink-native'
import { DATA, NFTA_LIST_ELEM, SET, SET_ELEM, SET_ELEM_INTERVAL_END, SET_ELEM_LIST, SET_FLAGS, familyName } from '../constants.js'
import { writeValue, writeVerdict, readData, type Verdict } from '../expr/data.js'
import { L4_NUMBERS, l4Name } from '../expr/protocols.js'
import { nfgenFamily, type TableRef } from './header.js'

/**
 * Key types: nft's datatype numbers and lengths.
 * - order: the key byte order nft records in the set's userdata (1 host, 2 big endian); without
 *   it `nft list` cannot print host-order keys such as interface names.
 * - prefix: nft prints an aligned power-of-two interval of this type as a prefix (`10.0.0.0/24`,
 *   `0x00000010/28`), others as a range (`1024-2047`): DTYPE_F_PREFIX in nft's datatype.c.
 * - perLine: how many elements nft prints on one line of a named set (calculate_delim() in nft's
 *   expression.c); 1 for the types it gives a line each.
 */
export const SET_TYPES = {
  ipv4_addr: { id: 7, len: 4, order: 2, prefix: true, perLine: 2 },
  ipv6_addr: { id: 8, len: 16, order: 2, prefix: true, perLine: 1 },
  ether_addr: { id: 9, len: 6, order: 2, prefix: false, perLine: 1 },
  inet_proto: { id: 12, len: 1, order: 2, prefix: false, perLine: 5 },
  inet_service: { id: 13, len: 2, order: 2, prefix: false, perLine: 5 },
  mark: { id: 19, len: 4, order: 1, prefix: true, perLine: 5 },
  ifname: { id: 41, len: 16, order: 1, prefix: false, perLine: 1 },
} as const

const UDATA_SET_KEYBYTEORDER = 0

function setUserdata(order: number): Buffer {
  const b = Buffer.alloc(6)
  b.writeUInt8(UDATA_SET_KEYBYTEORDER, 0)
  b.writeUInt8(4, 1)
  b.writeUInt32LE(order, 2)
  return b
}
export type SetType = keyof typeof SET_TYPES

export type SetFlag = 'interval' | 'timeout' | 'constant' | 'anonymous' | 'eval'

export interface SetSpec {
  table: TableRef
  name: string
  type: SetType
  /** A map: the type of the values (`type ipv4_addr : inet_service`), or verdicts (`vmap`). */
  dataType?: SetType | 'verdict'
  /** `interval` lets elements be prefixes and ranges; `eval` is nft's `dynamic`. */
  flags?: SetFlag[]
  /** Default element timeout, ms (with the timeout flag). */
  timeoutMs?: number
  /** Transaction-local id, so rules in the same transaction can refer to a new set. */
  id?: number
}

export interface NftSet extends SetSpec {
  handle?: bigint
}

export type ElementValue = string | number

/** A key as an unsigned number, in the type's byte order: what nft sorts and ranges by. */
function keyNumber(type: SetType, key: Buffer): bigint {
  const bytes = SET_TYPES[type].order === 1 ? Buffer.from(key).reverse() : key
  return bytes.length ? BigInt(`0x${bytes.toString('hex')}`) : 0n
}

function numberKey(type: SetType, n: bigint): Buffer {
  const len = SET_TYPES[type].len
  const b = Buffer.from(n.toString(16).padStart(len * 2, '0'), 'hex')
  return SET_TYPES[type].order === 1 ? b.reverse() : b
}

/**
 * A key as an interval set holds it. The kernel orders interval elements by memcmp, so nft sends
 * host-order keys (marks) of interval sets big-endian (`nft --debug=netlink list set` shows
 * `0x10/28` as element 10000000, not 00000010 as in a plain set). Its own inverse.
 */
function intervalKey(type: SetType, key: Buffer, interval: boolean): Buffer {
  return interval && SET_TYPES[type].order === 1 && type !== 'ifname' ? Buffer.from(key).reverse() : key
}

const maxKey = (type: SetType): bigint => (1n << BigInt(SET_TYPES[type].len * 8)) - 1n

/** Encodes one element key of a set type: "10.0.0.1", "eth0", 443, "tcp", "02:00:..:01". */
export function encodeKey(type: SetType, value: ElementValue): Buffer {
  switch (type) {
    case 'ipv4_addr':
    case 'ipv6_addr': {
      const ip = parseIp(String(value), 'element')
      if ((type === 'ipv4_addr') !== (ip.family === 4)) throw new ArgumentError('element', `${value} is not an ${type}`)
      return ip.bytes
    }
    case 'ether_addr':
      return parseMac(String(value), 'element')
    case 'inet_service': {
      const n = typeof value === 'number' || /^\d+$/.test(value) ? Number(value) : NaN
      if (!Number.isInteger(n) || n < 0 || n > 65535) throw new ArgumentError('element', `invalid port ${value}`)
      const b = Buffer.alloc(2)
      b.writeUInt16BE(n)
      return b
    }
    case 'inet_proto': {
      const n = typeof value === 'number' || /^\d+$/.test(value) ? Number(value) : L4_NUMBERS[value]
      if (n === undefined || !Number.isInteger(n) || n < 0 || n > 255) throw new ArgumentError('element', `unknown protocol ${value}`)
      return Buffer.from([n])
    }
    case 'mark': {
      const n = typeof value === 'number' ? value : /^(0x[0-9a-f]+|\d+)$/i.test(value) ? Number(value) : NaN
      if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new ArgumentError('element', `invalid mark ${value}`)
      const b = Buffer.alloc(4)
      b.writeUInt32LE(n)
      return b
    }
    case 'ifname': {
      const s = String(value)
      if (Buffer.byteLength(s) > 15) throw new ArgumentError('element', `interface name too long: ${s}`)
      const b = Buffer.alloc(16)
      b.write(s)
      return b
    }
  }
}

/** A key as the value encodeKey takes back: `10.0.0.1`, `80`, `tcp`, `0x00000010`, `eth0`. */
export function formatKey(type: SetType, key: Buffer): string {
  switch (type) {
    case 'ipv4_addr':
    case 'ipv6_addr':
      return formatIp(key)
    case 'ether_addr':
      return formatMac(key)
    case 'inet_service':
      return String(key.readUInt16BE(0))
    case 'inet_proto':
      return l4Name(key[0]!)
    case 'mark':
      return `0x${key.readUInt32LE(0).toString(16).padStart(8, '0')}`
    case 'ifname':
      return key.toString('utf8').replace(/\0.*$/s, '')
  }
}

/**
 * The interval [from, to] (both included) as nft writes it: one value, a prefix when the type
 * has prefixes and the interval is an aligned power of two (`10.0.0.0/24`), else `from-to`.
 * nft prints the ends of a range by number where it has names (protocols).
 */
export function formatInterval(type: SetType, from: Buffer, to: Buffer): string {
  const lo = keyNumber(type, from)
  const hi = keyNumber(type, to)
  if (lo === hi) return formatKey(type, from)
  const size = hi - lo + 1n
  if (SET_TYPES[type].prefix && (size & (size - 1n)) === 0n && (lo & (size - 1n)) === 0n) {
    const length = SET_TYPES[type].len * 8 - (size.toString(2).length - 1)
    return `${formatKey(type, from)}/${length}`
  }
  const end = (k: Buffer) => (type === 'inet_proto' ? String(k[0]) : formatKey(type, k))
  return `${end(from)}-${end(to)}`
}

/**
 * The interval an element key stands for: a value, a prefix (`10.0.0.0/24`, `0x10/28`), a range
 * (`10.1.0.0-10.1.0.9`, `1024-2047`) or a pair [from, to]. Prefixes and ranges need `interval`.
 */
export function parseInterval(type: SetType, key: ElementSpec['key'], interval: boolean): { from: Buffer; to: Buffer } {
  let from: Buffer
  let to: Buffer
  const text = typeof key === 'string' ? key : undefined
  const slash = text?.indexOf('/') ?? -1
  const dash = type === 'ifname' || type === 'ether_addr' ? -1 : (text?.indexOf('-') ?? -1)
  if (Array.isArray(key)) {
    from = encodeKey(type, key[0])
    to = encodeKey(type, key[1])
  } else if (text !== undefined && slash > 0 && SET_TYPES[type].prefix) {
    const bits = SET_TYPES[type].len * 8
    let base: bigint
    let length: number
    if (type === 'mark') {
      base = keyNumber(type, encodeKey(type, text.slice(0, slash)))
      length = /^\d+$/.test(text.slice(slash + 1)) ? Number(text.slice(slash + 1)) : NaN
      if (!(length >= 0 && length <= bits)) throw new ArgumentError('element', `invalid prefix length in ${JSON.stringify(text)} (0..${bits})`)
    } else {
      const p = parseCidr(text, 'element')
      if ((type === 'ipv4_addr') !== (p.family === 4)) throw new ArgumentError('element', `${text} is not an ${type}`)
      base = keyNumber(type, p.bytes)
      length = p.length
    }
    const host = (1n << BigInt(bits - length)) - 1n
    from = numberKey(type, base & ~host)
    to = numberKey(type, (base & ~host) | host)
  } else if (text !== undefined && dash > 0) {
    from = encodeKey(type, text.slice(0, dash))
    to = encodeKey(type, text.slice(dash + 1))
  } else {
    from = encodeKey(type, key as ElementValue)
    to = from
  }
  if (keyNumber(type, from) > keyNumber(type, to)) throw new ArgumentError('element', `range ${JSON.stringify(key)} ends before it starts`)
  if (!interval && !from.equals(to)) throw new ArgumentError('element', `${JSON.stringify(key)}: prefixes and ranges need a set with the interval flag`)
  return { from, to }
}

function flagBits(flags: SetSpec['flags'], map: boolean): number {
  return (flags ?? []).reduce((bits, f) => bits | SET_FLAGS[f], map ? SET_FLAGS.map : 0)
}

/** NFT_DATA_VERDICT: the data type of verdict maps. */
const NFT_DATA_VERDICT = 0xffffff00

export function writeSet(w: AttributeWriter, s: SetSpec): void {
  const t = SET_TYPES[s.type]
  if (!t) throw new ArgumentError('type', `unknown set type ${s.type} (${Object.keys(SET_TYPES).join(', ')})`)
  w.str(SET.TABLE, s.table.name)
  w.str(SET.NAME, s.name)
  w.be32(SET.FLAGS, flagBits(s.flags, s.dataType !== undefined))
  w.be32(SET.KEY_TYPE, t.id)
  w.be32(SET.KEY_LEN, t.len)
  if (s.dataType === 'verdict') w.be32(SET.DATA_TYPE, NFT_DATA_VERDICT)
  else if (s.dataType !== undefined) {
    const d = SET_TYPES[s.dataType]
    if (!d) throw new ArgumentError('dataType', `unknown map value type ${s.dataType}`)
    w.be32(SET.DATA_TYPE, d.id)
    w.be32(SET.DATA_LEN, d.len)
  }
  if (s.id !== undefined) w.be32(SET.ID, s.id)
  if (s.timeoutMs !== undefined) w.be64(SET.TIMEOUT, BigInt(s.timeoutMs))
  w.attr(SET.USERDATA, setUserdata(t.order))
}

export function decodeSet(m: NetlinkMessage): NftSet {
  const family = nfgenFamily(m)
  const a = new Attributes(m.payload, 4)
  const keyType = a.be32(SET.KEY_TYPE)
  const type = (Object.keys(SET_TYPES) as SetType[]).find((k) => SET_TYPES[k].id === keyType) ?? 'ipv4_addr'
  const bits = a.be32(SET.FLAGS) ?? 0
  const flags = (Object.keys(SET_FLAGS) as Array<keyof typeof SET_FLAGS>).filter((f): f is SetFlag => f !== 'map' && (bits & SET_FLAGS[f]) !== 0)
  const set: NftSet = { table: { family, name: a.str(SET.TABLE) ?? '' }, name: a.str(SET.NAME) ?? '', type, flags }
  if (bits & SET_FLAGS.map) {
    const dataType = a.be32(SET.DATA_TYPE)
    set.dataType = dataType === NFT_DATA_VERDICT ? 'verdict' : ((Object.keys(SET_TYPES) as SetType[]).find((k) => SET_TYPES[k].id === dataType) ?? 'ipv4_addr')
  }
  const handle = a.be64(SET.HANDLE)
  if (handle !== undefined) set.handle = handle
  const timeout = a.be64(SET.TIMEOUT)
  if (timeout !== undefined) set.timeoutMs = Number(timeout)
  return set
}

export interface ElementSpec {
  /**
   * A value; in interval sets also a prefix (`10.0.0.0/24`), a range (`10.1.0.0-10.1.0.9`,
   * `1024-2047`) or a pair [from, to]. An Element read back is a valid ElementSpec.
   */
  key: ElementValue | [ElementValue, ElementValue]
  /** In maps: the value (of the map's data type), or a verdict in verdict maps. */
  value?: ElementValue | Verdict
  timeoutMs?: number
}

interface WireElement {
  key: Buffer
  end: boolean
  timeoutMs?: number | undefined
  value?: ElementSpec['value']
}

/**
 * An interval set stores half-open [start, end) pairs: the start element carries the value, the
 * end element (one past the last key) the NFT_SET_ELEM_INTERVAL_END flag. An interval that runs to
 * the top of the key space has no end element, as nft sends it.
 */
function toWire(type: SetType, interval: boolean, e: ElementSpec): WireElement[] {
  const { from, to } = parseInterval(type, e.key, interval)
  const start: WireElement = { key: intervalKey(type, from, interval), end: false, timeoutMs: e.timeoutMs, value: e.value }
  if (!interval) return [start]
  const next = keyNumber(type, to) + 1n
  return next > maxKey(type) ? [start] : [start, { key: intervalKey(type, numberKey(type, next), true), end: true }]
}

function writeElementData(w: AttributeWriter, set: SetSpec, value: ElementSpec['value']): void {
  if (value === undefined || set.dataType === undefined) {
    if (set.dataType !== undefined) throw new ArgumentError('value', `map ${set.name} needs a value for each element`)
    return
  }
  if (set.dataType === 'verdict') {
    if (typeof value !== 'object') throw new ArgumentError('value', 'a verdict map needs { verdict, chain? } values')
    writeVerdict(w, SET_ELEM.DATA, value)
  } else {
    if (typeof value === 'object') throw new ArgumentError('value', `map ${set.name} holds ${set.dataType} values, not verdicts`)
    writeValue(w, SET_ELEM.DATA, encodeKey(set.dataType, value))
  }
}

export function writeElements(w: AttributeWriter, set: SetSpec, elements: ElementSpec[]): void {
  const interval = (set.flags ?? []).includes('interval')
  w.str(SET_ELEM_LIST.TABLE, set.table.name)
  w.str(SET_ELEM_LIST.SET, set.name)
  if (set.id !== undefined) w.be32(SET_ELEM_LIST.SET_ID, set.id)
  const list = w.beginNested(SET_ELEM_LIST.ELEMENTS)
  for (const e of elements) {
    for (const part of toWire(set.type, interval, e)) {
      const at = w.beginNested(NFTA_LIST_ELEM)
      writeValue(w, SET_ELEM.KEY, part.key)
      if (part.end) w.be32(SET_ELEM.FLAGS, SET_ELEM_INTERVAL_END)
      else writeElementData(w, set, part.value)
      if (part.timeoutMs !== undefined) w.be64(SET_ELEM.TIMEOUT, BigInt(part.timeoutMs))
      w.endNested(at)
    }
  }
  w.endNested(list)
}

export interface Element {
  /** The key as ElementSpec takes it: `10.0.0.1`, `10.0.0.0/24`, `10.1.0.0-10.1.0.9`, `80`, `eth0`. */
  key: string
  /** In maps: the value as text, or the verdict. */
  value?: string | Verdict
  /** The (first) key, as encodeKey() makes it. */
  bytes: Buffer
  /** In interval sets, when the element covers more than one key: the last key it covers. */
  lastBytes?: Buffer
  timeoutMs?: number
  expiresMs?: number
}

/** One element as the kernel lists it: an interval set lists starts and ends separately. */
export interface WireElementRead {
  key: Buffer
  end: boolean
  value?: string | Verdict
  timeoutMs?: number
  expiresMs?: number
}

/** The elements of one NFT_MSG_NEWSETELEM message, as the kernel sent them. */
export function decodeWireElements(m: NetlinkMessage, dataType?: SetSpec['dataType']): WireElementRead[] {
  nfgenFamily(m)
  const a = new Attributes(m.payload, 4)
  const list = a.nested(SET_ELEM_LIST.ELEMENTS)
  if (!list) return []
  return list.all(NFTA_LIST_ELEM).map((raw) => {
    const e = new Attributes(raw)
    const key = e.nested(SET_ELEM.KEY)?.get(DATA.VALUE) ?? Buffer.alloc(0)
    const out: WireElementRead = { key: Buffer.from(key), end: ((e.be32(SET_ELEM.FLAGS) ?? 0) & SET_ELEM_INTERVAL_END) !== 0 }
    const data = readData(e.nested(SET_ELEM.DATA))
    if (data.verdict) out.value = data.verdict
    else if (data.value && dataType && dataType !== 'verdict') out.value = formatKey(dataType, data.value)
    const timeout = e.be64(SET_ELEM.TIMEOUT)
    if (timeout !== undefined) out.timeoutMs = Number(timeout)
    const expires = e.be64(SET_ELEM.EXPIRATION)
    if (expires !== undefined) out.expiresMs = Number(expires)
    return out
  })
}

function element(type: SetType, start: WireElementRead, last: Buffer): Element {
  const out: Element = { key: formatInterval(type, start.key, last), bytes: start.key }
  if (!last.equals(start.key)) out.lastBytes = last
  if (start.value !== undefined) out.value = start.value
  if (start.timeoutMs !== undefined) out.timeoutMs = start.timeoutMs
  if (start.expiresMs !== undefined) out.expiresMs = start.expiresMs
  return out
}

/**
 * The elements of a set from what the kernel listed. Interval sets are joined back as nft's
 * interval_map_decompose() does: the kernel lists starts and ends (NFT_SET_ELEM_INTERVAL_END,
 * one past the last key) in its own order, newest-highest first for rbtree sets; sorted by key
 * (an end before a start at the same key), each start runs to the next end, a start directly
 * after an open start closes that one just before it, and a start left open runs to the top.
 * Without `interval` known (`flags` not given), a set is an interval set when it lists an end.
 */
export function joinElements(wire: WireElementRead[], set: Pick<SetSpec, 'type' | 'flags'>): Element[] {
  const type = set.type
  const interval = set.flags ? set.flags.includes('interval') : wire.some((e) => e.end)
  const sorted = wire.map((e) => ({ ...e, key: intervalKey(type, e.key, interval) })).sort((a, b) => {
    const d = keyNumber(type, a.key) - keyNumber(type, b.key)
    return d !== 0n ? (d < 0n ? -1 : 1) : Number(b.end) - Number(a.end)
  })
  if (!interval) return sorted.map((e) => element(type, e, e.key))
  const out: Element[] = []
  let low: WireElementRead | undefined
  for (const e of sorted) {
    if (e.end) {
      if (low) out.push(element(type, low, numberKey(type, keyNumber(type, e.key) - 1n)))
      low = undefined
    } else {
      if (low) out.push(element(type, low, numberKey(type, keyNumber(type, e.key) - 1n)))
      low = e
    }
  }
  if (low) out.push(element(type, low, numberKey(type, maxKey(type))))
  return out
}

/** Elements as they read back, from specs (for text of inline sets not sent yet). */
export function specElements(type: SetType, specs: ElementSpec[], interval: boolean): Element[] {
  return specs
    .map((s) => {
      const { from, to } = parseInterval(type, s.key, interval)
      return element(type, { key: from, end: false, ...(s.value !== undefined ? { value: typeof s.value === 'object' ? s.value : String(s.value) } : {}) }, to)
    })
    .sort((a, b) => (keyNumber(type, a.bytes) < keyNumber(type, b.bytes) ? -1 : 1))
}

/** The time as nft prints it: `1m`, `59s996ms`, `1h2m`. */
export function durationText(ms: number): string {
  const units: Array<[string, number]> = [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000], ['ms', 1]]
  let rest = ms
  let out = ''
  for (const [unit, size] of units) {
    const n = Math.floor(rest / size)
    rest -= n * size
    if (n) out += `${n}${unit}`
  }
  return out || '0s'
}

/**
 * The elements between braces as nft prints them: in key order, `key : value` in maps; named sets
 * wrap after as many as nft puts on a line for the key type (2 addresses, 5 ports or marks, ...),
 * continuing at nft's fixed indent; inline (anonymous) sets stay on one line.
 */
export function elementsText(set: Pick<SetSpec, 'type' | 'dataType' | 'timeoutMs'>, elements: Element[], options: { anonymous?: boolean } = {}): string {
  const quote = (type: SetType | 'verdict' | undefined, text: string) => (type === 'ifname' ? JSON.stringify(text) : text)
  const texts = elements.map((e) => {
    let text = quote(set.type, e.key)
    if (e.timeoutMs !== undefined && e.timeoutMs !== set.timeoutMs) text += ` timeout ${durationText(e.timeoutMs)}`
    if (e.expiresMs !== undefined) text += ` expires ${durationText(e.expiresMs)}`
    if (e.value === undefined) return text
    const value = typeof e.value === 'string' ? quote(set.dataType, e.value) : e.value.chain !== undefined ? `${e.value.verdict} ${e.value.chain}` : e.value.verdict
    return `${text} : ${value}`
  })
  const perLine = options.anonymous ? Infinity : SET_TYPES[set.type].perLine
  let out = ''
  texts.forEach((t, i) => {
    if (i > 0) out += i % perLine === 0 ? ',\n\t\t\t     ' : ', '
    out += t
  })
  return `{ ${out} }`
}

export { familyName }
