// DHCP Unique Identifiers (RFC 8415 section 11): the identity of a client or server. Every type
// the RFC defines decodes to a typed value; a type it does not define keeps its bytes.
import { ArgumentError } from '@lab/netlink-native'
import { Dhcp6DecodeError } from './errors.js'
import { BoundedMemo } from './memo.js'
import type { Writer } from './options.js'

export const DUID_LLT = 1
export const DUID_EN = 2
export const DUID_LL = 3
export const DUID_UUID = 4
/** RFC 8415 11.2: DUID-LLT time counts seconds from midnight (UTC), January 1, 2000. */
export const DUID_EPOCH_MS = Date.UTC(2000, 0, 1)

/** Link-layer plus time (type 1). `linkLayerAddress` is colon-separated hex (a MAC for Ethernet). */
export interface DuidLlt {
  type: 'llt'
  hardwareType: number
  time: number
  linkLayerAddress: string
}
/** Enterprise number plus an identifier the enterprise assigns (type 2). */
export interface DuidEn {
  type: 'en'
  enterpriseNumber: number
  identifier: Buffer
}
/** Link-layer address alone (type 3). */
export interface DuidLl {
  type: 'll'
  hardwareType: number
  linkLayerAddress: string
}
/** RFC 6355: a 128-bit UUID (type 4), as 8-4-4-4-12 hex text. */
export interface DuidUuid {
  type: 'uuid'
  uuid: string
}
/** A DUID type no RFC here defines: kept whole. */
export interface DuidOther {
  type: 'unknown'
  duidType: number
  data: Buffer
}
export type Duid = DuidLlt | DuidEn | DuidLl | DuidUuid | DuidOther

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))

export function colonHex(b: Buffer | Uint8Array): string {
  let text = ''
  for (let i = 0; i < b.length; i++) text += (i ? ':' : '') + HEX[b[i]!]!
  return text
}

/** Lowercase hex of two-digit colon-separated bytes ("02:00:0a"), or undefined for any other text. */
function plainHex(text: string): string | undefined {
  if (text.length % 3 !== 2) return undefined
  let hex = ''
  for (let i = 0; i < text.length; i += 3) {
    const hi = HEX_DIGIT[text.charCodeAt(i)]
    const lo = HEX_DIGIT[text.charCodeAt(i + 1)]
    if (hi === undefined || lo === undefined || (i + 2 < text.length && text.charCodeAt(i + 2) !== 58)) return undefined
    hex += hi + lo
  }
  return hex
}
const HEX_DIGIT: Array<string | undefined> = []
for (const c of '0123456789abcdef') HEX_DIGIT[c.charCodeAt(0)] = c
for (const c of 'ABCDEF') HEX_DIGIT[c.charCodeAt(0)] = c.toLowerCase()

/** Colon-separated hex as bytes (shared: copy, never change them). */
const colonHexBytes = new BoundedMemo(4096, (text: string, field: string): Buffer => {
  if (text === '') return Buffer.alloc(0)
  // Two digits per byte, the common form: no regular expression, no array.
  const hex = plainHex(text)
  if (hex !== undefined) return Buffer.from(hex, 'hex')
  if (!/^[0-9a-fA-F]{1,2}(:[0-9a-fA-F]{1,2})*$/.test(text)) throw new ArgumentError(field, `expected colon-separated hex bytes, got ${JSON.stringify(text)}`)
  return Buffer.from(text.split(':').map((x) => parseInt(x, 16)))
})
const parseColonHex = (text: string, field: string): Buffer => colonHexBytes.get(text, field)

/**
 * Encodes a DUID. Layout: 2 bytes DUID type, then per type: LLT 2 bytes hardware type, 4 bytes
 * time, link-layer address; EN 4 bytes enterprise number, identifier; LL 2 bytes hardware type,
 * link-layer address; UUID 16 bytes.
 */
export function encodeDuid(d: Duid): Buffer {
  switch (d.type) {
    case 'llt': {
      const ll = parseColonHex(d.linkLayerAddress, 'linkLayerAddress')
      const b = Buffer.alloc(8 + ll.length)
      b.writeUInt16BE(DUID_LLT, 0)
      b.writeUInt16BE(d.hardwareType, 2)
      b.writeUInt32BE(d.time >>> 0, 4)
      ll.copy(b, 8)
      return b
    }
    case 'en': {
      const b = Buffer.alloc(6 + d.identifier.length)
      b.writeUInt16BE(DUID_EN, 0)
      b.writeUInt32BE(d.enterpriseNumber >>> 0, 2)
      Buffer.from(d.identifier).copy(b, 6)
      return b
    }
    case 'll': {
      const ll = parseColonHex(d.linkLayerAddress, 'linkLayerAddress')
      const b = Buffer.alloc(4 + ll.length)
      b.writeUInt16BE(DUID_LL, 0)
      b.writeUInt16BE(d.hardwareType, 2)
      ll.copy(b, 4)
      return b
    }
    case 'uuid': {
      const hex = d.uuid.replaceAll('-', '')
      if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new ArgumentError('uuid', `expected a UUID, got ${JSON.stringify(d.uuid)}`)
      const b = Buffer.alloc(18)
      b.writeUInt16BE(DUID_UUID, 0)
      b.write(hex, 2, 'hex')
      return b
    }
    case 'unknown': {
      const b = Buffer.alloc(2 + d.data.length)
      b.writeUInt16BE(d.duidType, 0)
      Buffer.from(d.data).copy(b, 2)
      return b
    }
  }
}

/**
 * Writes the DUID at the writer's end, as encodeDuid() makes it. A DUID-LL or -LLT whose address
 * is two-digit colon hex (what decoding makes) goes in digit by digit: no text memo, no buffer.
 */
export function writeDuid(d: Duid, w: Writer): void {
  if (d.type === 'll' || d.type === 'llt') {
    const text = d.linkLayerAddress
    const head = d.type === 'll' ? 4 : 8
    const n = typeof text === 'string' && text.length % 3 === 2 ? (text.length + 1) / 3 : -1
    if (n > 0) {
      w.room(head + n)
      const b = w.b
      const at = w.at + head
      let ok = true
      for (let i = 0; i < n; i++) {
        const hi = NIBBLE[text.charCodeAt(3 * i)] ?? -1
        const lo = NIBBLE[text.charCodeAt(3 * i + 1)] ?? -1
        if (hi < 0 || lo < 0 || (i + 1 < n && text.charCodeAt(3 * i + 2) !== 58)) {
          ok = false
          break
        }
        b[at + i] = (hi << 4) | lo
      }
      if (ok) {
        b.writeUInt16BE(d.type === 'll' ? DUID_LL : DUID_LLT, w.at)
        b.writeUInt16BE(d.hardwareType, w.at + 2)
        if (d.type === 'llt') b.writeUInt32BE(d.time >>> 0, w.at + 4)
        w.at += head + n
        return
      }
    }
  }
  w.bytes(encodeDuid(d))
}
const NIBBLE: number[] = []
for (let i = 0; i < 16; i++) {
  NIBBLE['0123456789abcdef'.charCodeAt(i)] = i
  NIBBLE['0123456789ABCDEF'.charCodeAt(i)] = i
}

/** Decodes a DUID; `code` is the option it came in, for the error. */
export function decodeDuid(b: Buffer, code?: number): Duid {
  // RFC 8415 11.1: a DUID is 2 to 130 bytes (type plus up to 128 bytes).
  if (b.length < 2 || b.length > 130) throw new Dhcp6DecodeError('bad-option-length', `a DUID has 2..130 bytes, this one ${b.length}`, code)
  const type = b.readUInt16BE(0)
  switch (type) {
    case DUID_LLT:
      if (b.length < 8) throw new Dhcp6DecodeError('bad-option-length', `DUID-LLT needs at least 8 bytes, has ${b.length}`, code)
      return { type: 'llt', hardwareType: b.readUInt16BE(2), time: b.readUInt32BE(4), linkLayerAddress: colonHex(b.subarray(8)) }
    case DUID_EN:
      if (b.length < 6) throw new Dhcp6DecodeError('bad-option-length', `DUID-EN needs at least 6 bytes, has ${b.length}`, code)
      return { type: 'en', enterpriseNumber: b.readUInt32BE(2), identifier: Buffer.from(b.subarray(6)) }
    case DUID_LL:
      if (b.length < 4) throw new Dhcp6DecodeError('bad-option-length', `DUID-LL needs at least 4 bytes, has ${b.length}`, code)
      return { type: 'll', hardwareType: b.readUInt16BE(2), linkLayerAddress: colonHex(b.subarray(4)) }
    case DUID_UUID: {
      if (b.length !== 18) throw new Dhcp6DecodeError('bad-option-length', `DUID-UUID has 18 bytes, this one ${b.length}`, code)
      const h = b.toString('hex', 2)
      return { type: 'uuid', uuid: `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}` }
    }
    default:
      return { type: 'unknown', duidType: type, data: Buffer.from(b.subarray(2)) }
  }
}

export function formatDuid(d: Duid): string {
  switch (d.type) {
    case 'llt':
      return `llt hw ${d.hardwareType} time ${d.time} ${d.linkLayerAddress}`
    case 'en':
      return `en ${d.enterpriseNumber} ${d.identifier.toString('hex')}`
    case 'll':
      return `ll hw ${d.hardwareType} ${d.linkLayerAddress}`
    case 'uuid':
      return `uuid ${d.uuid}`
    case 'unknown':
      return `type ${d.duidType} ${d.data.toString('hex')}`
  }
}

/** Hardware types as four hex digits; the first 256 made once (number to hex text is slow). */
const HEX4 = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(4, '0'))
const hex4 = (n: number) => HEX4[n] ?? (n >>> 0).toString(16).padStart(4, '0')

/** The DUID as hex: the key a server files a client under (the hex of encodeDuid's bytes). */
export function duidHex(d: Duid): string {
  // The common DUIDs without building their bytes: type, hardware type, the address's digits.
  if (d.type === 'll' && Number.isInteger(d.hardwareType) && d.hardwareType >= 0 && d.hardwareType <= 0xffff) {
    const ll = plainHex(d.linkLayerAddress)
    if (ll !== undefined) return '0003' + hex4(d.hardwareType) + ll
  }
  return encodeDuid(d).toString('hex')
}

/**
 * The MAC inside a DUID-LLT or DUID-LL of an Ethernet link (hardware type 1), or undefined: what
 * a reservation by MAC matches (RFC 6939's client link-layer address is the other source).
 */
export function duidMac(d: Duid): string | undefined {
  if ((d.type === 'llt' || d.type === 'll') && d.hardwareType === 1 && d.linkLayerAddress.length === 17) return d.linkLayerAddress
  return undefined
}
