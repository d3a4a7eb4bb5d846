import { Attributes, ArgumentError, formatIp, formatMac, parseCidr, parseIp, parseMac, type AttributeWriter, type NetlinkMessage } from '@lab/netlink-native'
import { DATA, NFTA_LIST_ELEM, SET, SET_ELEM, SET_ELEM_INTERVAL_END, SET_ELEM_LIST, SET_FLAGS, familyName } from '../constants.js'
import type { TableRef } from './header.js'
import { writeValue, writeVerdict, readData, type Verdict } from '../expr/data.js'

/** Key types: nft's datatype numbers and lengths. */
// order: the key byte order nft records in the set's userdata (1 host, 2 big endian); without it
// `nft list` cannot print host-order keys such as interface names.
export const SET_TYPES = {
  ipv4_addr: { id: 7, len: 4, order: 2 },
  ipv6_addr: { id: 8, len: 16, order: 2 },
  ether_addr: { id: 9, len: 6, order: 2 },
  inet_proto: { id: 12, len: 1, order: 2 },
  inet_service: { id: 13, len: 2, order: 2 },
  mark: { id: 19, len: 4, order: 1 },
  ifname: { id: 41, len: 16, order: 1 },
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

export interface SetSpec {
  table: TableRef
  name: string
  type: SetType
  /** A map: the type of the values (`type ipv4_addr : inet_service`), or verdicts (`vmap`). */
  dataType?: SetType | 'verdict'
  flags?: Array<'interval' | 'timeout' | 'constant' | 'anonymous'>
  /** Default element timeout, ms (with the timeout flag). */
  timeoutMs?: number
  /** Transaction-local id, so rules in the same transaction can refer to a new set. */
  id?: number
}

export interface NftSet extends SetSpec {
  handle?: bigint
}

export type ElementValue = string | number

/** Encodes one element key of a set type: "10.0.0.1", "eth0", 443, "02:00:..:01". */
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
      const n = Number(value)
      if (!Number.isInteger(n) || n < 0 || n > 65535) throw new ArgumentError('element', `invalid port ${value}`)
      const b = Buffer.alloc(2)
      b.writeUInt16BE(n)
      return b
    }
    case 'inet_proto': {
      const n = typeof value === 'number' ? value : ({ tcp: 6, udp: 17, icmp: 1, icmpv6: 58 } as Record<string, number>)[value]
      if (n === undefined) throw new ArgumentError('element', `unknown protocol ${value}`)
      return Buffer.from([n])
    }
    case 'mark': {
      const b = Buffer.alloc(4)
      b.writeUInt32LE(Number(value) >>> 0)
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
      return String(key[0])
    case 'mark':
      return `0x${key.readUInt32LE(0).toString(16).padStart(8, '0')}`
    case 'ifname':
      return JSON.stringify(key.toString('utf8').replace(/\0.*$/s, ''))
  }
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
  const family = familyName(m.payload.readUInt8(0))
  const a = new Attributes(m.payload, 4)
  const keyType = a.be32(SET.KEY_TYPE)
  const type = (Object.keys(SET_TYPES) as SetType[]).find((k) => SET_TYPES[k].id === keyType) ?? 'ipv4_addr'
  const bits = a.be32(SET.FLAGS) ?? 0
  const flags = (Object.keys(SET_FLAGS) as Array<keyof typeof SET_FLAGS>).filter((f) => f !== 'map' && bits & SET_FLAGS[f]) as NftSet['flags']
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
  /** A value, or a range "10.0.0.0/24" / [from, to] in interval sets. */
  key: ElementValue | [ElementValue, ElementValue]
  /** In maps: the value (of the map's data type), or a verdict in verdict maps. */
  value?: ElementValue | Verdict
  timeoutMs?: number
}

/** An interval set stores [start, end) pairs: the end element carries the interval-end flag. */
function expand(type: SetType, interval: boolean, e: ElementSpec): Array<{ key: Buffer; end: boolean; timeoutMs?: number; value?: ElementSpec['value'] }> {
  if (!interval) {
    if (Array.isArray(e.key)) throw new ArgumentError('element', 'ranges need a set with the interval flag')
    return [{ key: encodeKey(type, e.key), end: false, timeoutMs: e.timeoutMs, value: e.value }]
  }
  let from: Buffer
  let to: Buffer
  if (Array.isArray(e.key)) {
    from = encodeKey(type, e.key[0])
    to = encodeKey(type, e.key[1])
  } else if ((type === 'ipv4_addr' || type === 'ipv6_addr') && String(e.key).includes('/')) {
    const p = parseCidr(String(e.key), 'element')
    from = Buffer.from(p.bytes)
    for (let bit = p.length; bit < from.length * 8; bit++) from[bit >> 3]! &= ~(0x80 >> (bit & 7))
    to = Buffer.from(from)
    for (let bit = p.length; bit < to.length * 8; bit++) to[bit >> 3]! |= 0x80 >> (bit & 7)
  } else {
    from = encodeKey(type, e.key)
    to = Buffer.from(from)
  }
  // The end element is one past the last value of the range.
  const next = Buffer.from(to)
  for (let i = next.length - 1; i >= 0; i--) {
    next[i] = (next[i]! + 1) & 0xff
    if (next[i] !== 0) break
  }
  const out: Array<{ key: Buffer; end: boolean; timeoutMs?: number; value?: ElementSpec['value'] }> = [{ key: from, end: false, timeoutMs: e.timeoutMs, value: e.value }]
  if (!next.every((b) => b === 0)) out.push({ key: next, end: true })
  return out
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
  w.nested(SET_ELEM_LIST.ELEMENTS, () => {
    for (const e of elements) {
      for (const part of expand(set.type, interval, e)) {
        w.nested(NFTA_LIST_ELEM, () => {
          w.nested(SET_ELEM.KEY, () => w.attr(DATA.VALUE, part.key))
          if (part.end) w.be32(SET_ELEM.FLAGS, SET_ELEM_INTERVAL_END)
          else writeElementData(w, set, part.value)
          if (part.timeoutMs !== undefined) w.be64(SET_ELEM.TIMEOUT, BigInt(part.timeoutMs))
        })
      }
    }
  })
}

export interface Element {
  key: string
  /** In maps: the value as text, or the verdict. */
  value?: string | Verdict
  /** The key as the kernel holds it (for ordering). */
  bytes: Buffer
  intervalEnd: boolean
  timeoutMs?: number
  expiresMs?: number
}

export function decodeElements(m: NetlinkMessage, type: SetType, dataType?: SetSpec['dataType']): Element[] {
  const a = new Attributes(m.payload, 4)
  const list = a.nested(SET_ELEM_LIST.ELEMENTS)
  if (!list) return []
  return list.all(NFTA_LIST_ELEM).map((raw) => {
    const e = new Attributes(raw)
    const key = e.nested(SET_ELEM.KEY)?.get(DATA.VALUE) ?? Buffer.alloc(0)
    const out: Element = { key: formatKey(type, key), bytes: Buffer.from(key), intervalEnd: ((e.be32(SET_ELEM.FLAGS) ?? 0) & SET_ELEM_INTERVAL_END) !== 0 }
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

export { familyName }
