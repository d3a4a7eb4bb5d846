// A BOOTP/DHCP message (RFC 2131 section 2): the fixed header, the magic cookie and the options.
// Long options are split and joined as RFC 3396 says; option overload (52) is honoured on decode.
import { DhcpDecodeError } from './errors.js'
import { ArgumentError, ipv4ToNumber } from '@lab/netlink-native'
import { DEFINITIONS, MESSAGE_TYPES, OPTION_NAMES, isKnown, type KnownCode, type MessageType, type OptionTypes } from './options.js'

export const BOOTREQUEST = 1
export const BOOTREPLY = 2
const FIXED = 236
const COOKIE = Buffer.from([99, 130, 83, 99])
const COOKIE_VALUE = COOKIE.readUInt32BE(0)
const PAD = 0
const END = 255
const OVERLOAD = 52
/** Replies are padded to the BOOTP minimum; some clients drop anything shorter. */
const MIN_LENGTH = 300

export type OptionValue = OptionTypes[KnownCode] | Buffer

const zeroIp = '0.0.0.0'

/** The last non-zero address read, and its text: a relay's giaddr repeats in packet after packet. */
let lastIp = -1
let lastIpText = zeroIp

function ipAt(b: Buffer, at: number): string {
  const n = b.readUInt32BE(at)
  // Most address fields of a request are zero: no new string for them, nor for a repeated one.
  if (n === 0) return zeroIp
  if (n === lastIp) return lastIpText
  lastIp = n
  lastIpText = `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`
  return lastIpText
}

function writeIp(b: Buffer, at: number, ip: string, field: string): void {
  if (ip === zeroIp) return // the buffer is zeroed
  b.writeUInt32BE(ipv4ToNumber(ip, field), at)
}

/** Bytes an option value of `length` bytes takes on the wire, codes and lengths included (RFC 3396 splits). */
export function encodedOptionLength(length: number): number {
  return length + 2 * Math.max(1, Math.ceil(length / 255))
}

/**
 * Writes `count` options (`codes[i]` with the value `datas[i]`) from `at`; returns where they end.
 * RFC 3396: a value longer than 255 bytes goes in consecutive options with the same code.
 */
export function writeOptions(buf: Buffer, at: number, codes: ArrayLike<number>, datas: readonly Buffer[], count: number): number {
  for (let i = 0; i < count; i++) {
    const data = datas[i]!
    for (let from = 0; from < data.length || from === 0; from += 255) {
      const length = Math.min(255, data.length - from)
      buf[at] = codes[i]!
      buf[at + 1] = length
      data.copy(buf, at + 2, from, from + length)
      at += 2 + length
      if (data.length === 0) break
    }
  }
  return at
}

/** Lowercase hex digits by value, as character codes. */
const HEX_CHAR = Array.from({ length: 16 }, (_, i) => i.toString(16).charCodeAt(0))
/** Where a hardware address's text is put together: 16 bytes make at most 47 characters. */
const macScratch = Buffer.alloc(47)

/**
 * `aa:bb:..` for `length` bytes at `at`, made as one flat string: a server keeps the text of
 * every client's address in its lease, and text joined piece by piece is a tree of strings that
 * the garbage collector copies object by object while the lease is young.
 */
function macText(b: Buffer, at: number, length: number): string {
  if (length === 0) return ''
  let n = 0
  for (let i = 0; i < length; i++) {
    const byte = b[at + i]!
    if (i > 0) macScratch[n++] = 58
    macScratch[n++] = HEX_CHAR[byte >> 4]!
    macScratch[n++] = HEX_CHAR[byte & 15]!
  }
  return macScratch.toString('latin1', 0, n)
}

/** Writes `aa:bb:..` (up to 16 bytes) at `at`; false when it is not a hardware address. */
function writeMac(b: Buffer, at: number, text: string): boolean {
  let count = 0
  for (let i = 0; i < text.length; ) {
    const end = text.indexOf(':', i)
    const stop = end < 0 ? text.length : end
    if (stop - i < 1 || stop - i > 2 || count === 16) return false
    const byte = parseInt(text.slice(i, stop), 16)
    if (!(byte >= 0 && byte <= 255) || !/^[0-9a-fA-F]+$/.test(text.slice(i, stop))) return false
    b[at + count++] = byte
    i = stop + 1
    if (end >= 0 && i === text.length) return false
  }
  return count > 0
}

function cString(b: Buffer): string {
  const end = b.indexOf(0)
  return b.toString('latin1', 0, end < 0 ? b.length : end)
}

export interface DhcpMessageFields {
  op: typeof BOOTREQUEST | typeof BOOTREPLY
  htype: number
  hlen: number
  hops: number
  xid: number
  secs: number
  /** The broadcast bit (RFC 2131 figure 2). */
  broadcast: boolean
  ciaddr: string
  yiaddr: string
  siaddr: string
  giaddr: string
  /** Client hardware address, `aa:bb:cc:dd:ee:ff` for Ethernet. */
  chaddr: string
  sname: string
  file: string
}

export class DhcpMessage implements DhcpMessageFields {
  op: typeof BOOTREQUEST | typeof BOOTREPLY = BOOTREQUEST
  htype = 1
  hlen = 6
  hops = 0
  xid = 0
  secs = 0
  broadcast = false
  ciaddr = zeroIp
  yiaddr = zeroIp
  siaddr = zeroIp
  giaddr = zeroIp
  chaddr = '00:00:00:00:00:00'
  sname = ''
  file = ''
  /** Options in the order they will be sent; known codes hold typed values, others raw bytes. */
  readonly options = new Map<number, OptionValue>()

  constructor(fields?: Partial<DhcpMessageFields>) {
    if (fields !== undefined) Object.assign(this, fields)
  }

  get<C extends KnownCode>(code: C): OptionTypes[C] | undefined {
    return this.options.get(code) as OptionTypes[C] | undefined
  }

  set<C extends KnownCode>(code: C, value: OptionTypes[C]): this {
    this.options.set(code, value)
    return this
  }

  /** An option this library has no type for, as bytes. */
  setRaw(code: number, value: Buffer): this {
    if (code <= 0 || code >= 255) throw new RangeError(`option code ${code} is reserved`)
    this.options.set(code, Buffer.from(value))
    return this
  }

  get messageType(): MessageType | undefined {
    return this.get(53)
  }

  /** Encodes the message; the message type goes first, the rest in insertion order. */
  encode(): Buffer {
    if (Buffer.byteLength(this.sname) > 63 || Buffer.byteLength(this.file) > 127) throw new ArgumentError(Buffer.byteLength(this.sname) > 63 ? 'sname' : 'file', 'too long (63/127 bytes)')
    const codes: number[] = []
    const datas: Buffer[] = []
    let optionBytes = 0
    const add = (code: number, value: OptionValue) => {
      let data: Buffer
      try {
        data = Buffer.isBuffer(value) && !isKnown(code) ? value : DEFINITIONS[code as KnownCode].encode(value as never)
      } catch (error) {
        // The value's own check names what is wrong; the option it was for is said here.
        if (error instanceof ArgumentError) throw new ArgumentError(`option ${code}`, error.message.slice(error.field.length + 2))
        throw error
      }
      codes.push(code)
      datas.push(data)
      // RFC 3396: a value longer than 255 bytes goes in consecutive options with the same code.
      optionBytes += encodedOptionLength(data.length)
    }
    const type = this.options.get(53)
    if (type !== undefined) add(53, type)
    for (const [code, value] of this.options) if (code !== 53) add(code, value)
    const buf = Buffer.alloc(Math.max(MIN_LENGTH, FIXED + COOKIE.length + optionBytes + 1))
    buf[0] = this.op
    buf[1] = this.htype
    buf[2] = this.hlen
    buf[3] = this.hops
    buf.writeUInt32BE(this.xid >>> 0, 4)
    buf.writeUInt16BE(this.secs, 8)
    buf.writeUInt16BE(this.broadcast ? 0x8000 : 0, 10)
    writeIp(buf, 12, this.ciaddr, 'ciaddr')
    writeIp(buf, 16, this.yiaddr, 'yiaddr')
    writeIp(buf, 20, this.siaddr, 'siaddr')
    writeIp(buf, 24, this.giaddr, 'giaddr')
    if (!writeMac(buf, 28, this.chaddr)) throw new ArgumentError('chaddr', `invalid hardware address ${this.chaddr}`)
    if (this.sname) buf.write(this.sname, 44, 'latin1')
    if (this.file) buf.write(this.file, 108, 'latin1')
    COOKIE.copy(buf, FIXED)
    const at = writeOptions(buf, FIXED + COOKIE.length, codes, datas, codes.length)
    buf[at] = END
    return buf
  }

  /** Decodes a message; anything malformed throws DhcpDecodeError with the reason. */
  static decode(buf: Buffer): DhcpMessage {
    if (buf.length < FIXED + 4) throw new DhcpDecodeError('short-packet', `${buf.length} bytes, a DHCP message has at least ${FIXED + 4}`)
    const op = buf[0]!
    if (op !== BOOTREQUEST && op !== BOOTREPLY) throw new DhcpDecodeError('bad-op', `op ${op}`)
    if (buf.readUInt32BE(FIXED) !== COOKIE_VALUE) throw new DhcpDecodeError('bad-cookie', `magic cookie ${buf.subarray(FIXED, FIXED + 4).toString('hex')}`)
    const hlen = Math.min(buf[2]!, 16)
    // Fields set one by one: decoding runs per packet, and Object.assign of a fields object
    // costs an object and a generic copy.
    const m = new DhcpMessage()
    m.op = op
    m.htype = buf[1]!
    m.hlen = buf[2]!
    m.hops = buf[3]!
    m.xid = buf.readUInt32BE(4)
    m.secs = buf.readUInt16BE(8)
    m.broadcast = (buf.readUInt16BE(10) & 0x8000) !== 0
    m.ciaddr = ipAt(buf, 12)
    m.yiaddr = ipAt(buf, 16)
    m.siaddr = ipAt(buf, 20)
    m.giaddr = ipAt(buf, 24)
    m.chaddr = macText(buf, 28, hlen)
    if (readSimpleOptions(buf, m)) {
      // No overload: sname and file are text (nearly always empty).
      m.file = buf[108] === 0 ? '' : cString(buf.subarray(108, 236))
      m.sname = buf[44] === 0 ? '' : cString(buf.subarray(44, 108))
      return m
    }
    const raw = new Map<number, Buffer[]>()
    const overload = readOptions(buf.subarray(FIXED + 4), raw, 'options')
    // RFC 2131 4.1: with overload, options continue in file (1), sname (2) or both (3), in that order.
    if (overload & 1) readOptions(buf.subarray(108, 236), raw, 'file')
    else m.file = cString(buf.subarray(108, 236))
    if (overload & 2) readOptions(buf.subarray(44, 108), raw, 'sname')
    else m.sname = cString(buf.subarray(44, 108))
    for (const [code, chunks] of raw) {
      if (code === OVERLOAD) continue
      const data = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)
      m.options.set(code, isKnown(code) ? (DEFINITIONS[code].decode(data, code) as OptionValue) : data)
    }
    return m
  }

  toString(): string {
    const type = this.messageType ? `DHCP${this.messageType}` : this.op === BOOTREQUEST ? 'BOOTREQUEST' : 'BOOTREPLY'
    const lines = [`${type} xid 0x${this.xid.toString(16).padStart(8, '0')} chaddr ${this.chaddr}${this.broadcast ? ' broadcast' : ''}`]
    const addresses = (['ciaddr', 'yiaddr', 'siaddr', 'giaddr'] as const).filter((f) => this[f] !== zeroIp).map((f) => `${f} ${this[f]}`)
    if (addresses.length) lines.push(`  ${addresses.join(' ')}`)
    for (const [code, value] of this.options) {
      if (code === 53) continue
      const text = isKnown(code) ? DEFINITIONS[code].format(value as never) : (value as Buffer).toString('hex')
      lines.push(`  ${OPTION_NAMES[code] ?? `option-${code}`} (${code}): ${text}`)
    }
    return lines.join('\n')
  }
}

/** Per option code, the decode (its `generation`) that last saw it in a packet's options field. */
const seenIn = new Uint32Array(256)
let generation = 0

/**
 * The common case, without the lists and views of readOptions: when the options field has no
 * option twice (RFC 3396 concatenation) and no overload (52), its options go into `m` in order,
 * the hot ones decoded in place, and true is returned. Otherwise (or before any value is decoded)
 * false: the caller reads the message the general way. Throws what readOptions and the
 * definitions throw, in the same order: framing errors of the whole field first, then values.
 */
function readSimpleOptions(buf: Buffer, m: DhcpMessage): boolean {
  if (++generation === 0xffffffff) {
    seenIn.fill(0)
    generation = 1
  }
  const start = FIXED + 4
  const end = buf.length
  for (let at = start; at < end; ) {
    const code = buf[at]!
    if (code === PAD) {
      at++
      continue
    }
    if (code === END) break
    if (at + 1 >= end) throw new DhcpDecodeError('option-overrun', `option ${code} in options has no length`, code)
    const len = buf[at + 1]!
    if (at + 2 + len > end) throw new DhcpDecodeError('option-overrun', `option ${code} in options claims ${len} bytes, ${end - at - 2} remain`, code)
    if (code === OVERLOAD || seenIn[code] === generation) return false
    seenIn[code] = generation
    at += 2 + len
  }
  for (let at = start; at < end; ) {
    const code = buf[at]!
    if (code === PAD) {
      at++
      continue
    }
    if (code === END) break
    const len = buf[at + 1]!
    let value: OptionValue
    if (isKnown(code)) {
      const definition = DEFINITIONS[code]
      value = (definition.decodeAt ? definition.decodeAt(buf, at + 2, len, code) : definition.decode(buf.subarray(at + 2, at + 2 + len), code)) as OptionValue
    } else {
      value = buf.subarray(at + 2, at + 2 + len)
    }
    m.options.set(code, value)
    at += 2 + len
  }
  return true
}

/** Reads TLV options into `into`, concatenating repeats (RFC 3396); returns the overload value. */
function readOptions(b: Buffer, into: Map<number, Buffer[]>, where: string): number {
  let overload = 0
  for (let at = 0; at < b.length; ) {
    const code = b[at]!
    if (code === PAD) {
      at++
      continue
    }
    if (code === END) break
    if (at + 1 >= b.length) throw new DhcpDecodeError('option-overrun', `option ${code} in ${where} has no length`, code)
    const len = b[at + 1]!
    if (at + 2 + len > b.length) throw new DhcpDecodeError('option-overrun', `option ${code} in ${where} claims ${len} bytes, ${b.length - at - 2} remain`, code)
    const data = b.subarray(at + 2, at + 2 + len)
    if (code === OVERLOAD) {
      if (len !== 1 || data[0]! < 1 || data[0]! > 3) throw new DhcpDecodeError('bad-option-value', `overload ${data.toString('hex')}`, code)
      if (where !== 'options') throw new DhcpDecodeError('bad-option-value', `overload inside ${where}`, code)
      overload = data[0]!
    }
    const list = into.get(code)
    if (list) list.push(data)
    else into.set(code, [data])
    at += 2 + len
  }
  return overload
}

export { MESSAGE_TYPES }
