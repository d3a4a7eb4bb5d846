// Netlink attributes (struct nlattr: u16 length, u16 type, value, padded to 4 bytes), read and
// written in host byte order unless a helper says otherwise. Nesting is just an attribute whose
// value is more attributes.
import { DecodeError } from '../errors.js'
import { NLA_F_NESTED, NLA_F_NET_BYTEORDER, NLA_HDRLEN, NLA_TYPE_MASK } from './constants.js'

export const align4 = (n: number): number => (n + 3) & ~3

/**
 * Checks that a message payload holds its fixed header (struct ifinfomsg, rtmsg, ...) before a
 * decoder reads it: a short one is a DecodeError naming the header, not a RangeError.
 */
export function fixedHeader(payload: Buffer, size: number, what: string): Buffer {
  if (payload.length < size) throw new DecodeError(`${what}: needs ${size} bytes, got ${payload.length}`, { length: payload.length })
  return payload
}

/** A parsed attribute set: values are views into the received buffer (copy to keep them). */
export class Attributes {
  readonly list: ReadonlyArray<{ type: number; nested: boolean; netByteOrder: boolean; value: Buffer }>

  constructor(buf: Buffer, offset = 0, end = buf.length) {
    if (end > buf.length || offset < 0) {
      throw new DecodeError(`attributes at ${offset}..${end} overrun a buffer of ${buf.length} bytes`, { offset, length: buf.length })
    }
    const list: Array<{ type: number; nested: boolean; netByteOrder: boolean; value: Buffer }> = []
    let at = offset
    while (at + NLA_HDRLEN <= end) {
      const len = buf.readUInt16LE(at)
      const rawType = buf.readUInt16LE(at + 2)
      if (len < NLA_HDRLEN || at + len > end) {
        const attribute = rawType & NLA_TYPE_MASK
        throw new DecodeError(`attribute ${attribute} at ${at}: length ${len} overruns ${end - at} bytes`, { attribute, length: len, offset: at })
      }
      list.push({
        type: rawType & NLA_TYPE_MASK,
        nested: (rawType & NLA_F_NESTED) !== 0,
        netByteOrder: (rawType & NLA_F_NET_BYTEORDER) !== 0,
        value: buf.subarray(at + NLA_HDRLEN, at + len),
      })
      at += align4(len)
    }
    this.list = list
  }

  has(type: number): boolean {
    return this.list.some((a) => a.type === type)
  }

  get(type: number): Buffer | undefined {
    for (const a of this.list) if (a.type === type) return a.value
    return undefined
  }

  all(type: number): Buffer[] {
    return this.list.filter((a) => a.type === type).map((a) => a.value)
  }

  /**
   * The value of an integer attribute, which must be exactly `size` bytes: a longer or shorter one
   * is a DecodeError, not a truncated or partial read (as mdlayher/netlink's AttributeDecoder).
   */
  #sized(type: number, size: number, what: string): Buffer | undefined {
    const v = this.get(type)
    if (v !== undefined && v.length !== size) {
      throw new DecodeError(`attribute ${type} is not a ${what}: length ${v.length}`, { attribute: type, length: v.length })
    }
    return v
  }

  u8(type: number): number | undefined {
    return this.#sized(type, 1, 'u8')?.readUInt8(0)
  }

  u16(type: number): number | undefined {
    return this.#sized(type, 2, 'u16')?.readUInt16LE(0)
  }

  u32(type: number): number | undefined {
    return this.#sized(type, 4, 'u32')?.readUInt32LE(0)
  }

  s32(type: number): number | undefined {
    return this.#sized(type, 4, 's32')?.readInt32LE(0)
  }

  u64(type: number): bigint | undefined {
    return this.#sized(type, 8, 'u64')?.readBigUInt64LE(0)
  }

  be16(type: number): number | undefined {
    return this.#sized(type, 2, 'be16')?.readUInt16BE(0)
  }

  be32(type: number): number | undefined {
    return this.#sized(type, 4, 'be32')?.readUInt32BE(0)
  }

  be64(type: number): bigint | undefined {
    return this.#sized(type, 8, 'be64')?.readBigUInt64BE(0)
  }

  /** A NUL-terminated string attribute. */
  str(type: number): string | undefined {
    const v = this.get(type)
    if (!v) return undefined
    const nul = v.indexOf(0)
    return v.toString('utf8', 0, nul < 0 ? v.length : nul)
  }

  nested(type: number): Attributes | undefined {
    const v = this.get(type)
    return v ? new Attributes(v) : undefined
  }
}

/**
 * Writes netlink messages and attributes into one growing buffer, so a batch of many messages is
 * built without intermediate allocations and sent with one sendmsg.
 */
export class AttributeWriter {
  buf: Buffer
  length = 0

  constructor(initialSize = 4096) {
    this.buf = Buffer.allocUnsafe(initialSize)
  }

  ensure(extra: number): void {
    if (this.length + extra <= this.buf.length) return
    // Past 1 MiB, four times: a batch of 100,000 rules is copied fewer times, and the pages of a
    // big buffer that are never written are never touched.
    const factor = this.buf.length >= 1 << 20 ? 4 : 2
    let size = Math.max(this.buf.length * factor, 64)
    while (size < this.length + extra) size *= factor
    const next = Buffer.allocUnsafe(size)
    this.buf.copy(next, 0, 0, this.length)
    this.buf = next
  }

  /** Appends raw bytes (a fixed header such as struct ifinfomsg), padded to 4 bytes. */
  bytes(data: Buffer | Uint8Array): this {
    const padded = align4(data.length)
    this.ensure(padded)
    this.buf.set(data, this.length)
    this.buf.fill(0, this.length + data.length, this.length + padded)
    this.length += padded
    return this
  }

  /**
   * Appends bytes written earlier by a writer (whole attributes, so already padded): the way to
   * repeat a constant's cached encoding without encoding it again.
   */
  raw(data: Buffer | Uint8Array): this {
    const n = data.length
    this.ensure(n)
    const b = this.buf
    const at = this.length
    // A typed-array copy costs more to set up than a short loop (cached expressions: ~50 bytes).
    if (n <= 128) for (let i = 0; i < n; i++) b[at + i] = data[i]!
    else b.set(data, at)
    this.length = at + n
    return this
  }

  /** Appends `size` zero bytes and returns their offset, for fixed headers filled in place. */
  reserve(size: number): number {
    const padded = align4(size)
    this.ensure(padded)
    const at = this.length
    this.buf.fill(0, at, at + padded)
    this.length += padded
    return at
  }

  attr(type: number, value: Buffer | Uint8Array): this {
    const n = value.length
    if (n > 32) {
      const len = NLA_HDRLEN + n
      const padded = align4(len)
      this.ensure(padded)
      this.buf.writeUInt16LE(len, this.length)
      this.buf.writeUInt16LE(type, this.length + 2)
      this.buf.set(value, this.length + NLA_HDRLEN)
      this.buf.fill(0, this.length + len, this.length + padded)
      this.length += padded
      return this
    }
    // Short values (addresses, ports, names): byte stores.
    const at = this.#header(type, n)
    const b = this.buf
    for (let i = 0; i < n; i++) b[at + i] = value[i]!
    return this
  }

  /**
   * Writes an attribute header for a value of `size` bytes (zero padded); returns the value offset.
   * It may grow (reallocate) the buffer: callers take the offset before touching `this.buf`.
   */
  #header(type: number, size: number): number {
    const padded = align4(size)
    this.ensure(NLA_HDRLEN + padded)
    const at = this.length
    const b = this.buf
    // Plain byte stores: this runs for every attribute of every message of a batch.
    const len = NLA_HDRLEN + size
    b[at] = len & 0xff
    b[at + 1] = len >>> 8
    b[at + 2] = type & 0xff
    b[at + 3] = type >>> 8
    for (let i = at + len; i < at + NLA_HDRLEN + padded; i++) b[i] = 0
    this.length = at + NLA_HDRLEN + padded
    return at + NLA_HDRLEN
  }

  flag(type: number): this {
    this.#header(type, 0)
    return this
  }

  u8(type: number, v: number): this {
    const at = this.#header(type, 1)
    this.buf.writeUInt8(v, at)
    return this
  }

  u16(type: number, v: number): this {
    const at = this.#header(type, 2)
    this.buf.writeUInt16LE(v, at)
    return this
  }

  u32(type: number, v: number): this {
    const at = this.#header(type, 4)
    this.buf.writeUInt32LE(v >>> 0, at)
    return this
  }

  s32(type: number, v: number): this {
    const at = this.#header(type, 4)
    this.buf.writeInt32LE(v, at)
    return this
  }

  u64(type: number, v: bigint): this {
    const at = this.#header(type, 8)
    this.buf.writeBigUInt64LE(v, at)
    return this
  }

  be16(type: number, v: number): this {
    const at = this.#header(type, 2)
    this.buf.writeUInt16BE(v, at)
    return this
  }

  be32(type: number, v: number): this {
    const at = this.#header(type, 4)
    this.buf.writeUInt32BE(v >>> 0, at)
    return this
  }

  be64(type: number, v: bigint): this {
    const at = this.#header(type, 8)
    this.buf.writeBigUInt64BE(v, at)
    return this
  }

  /** A NUL-terminated string. */
  str(type: number, v: string): this {
    // Short ASCII (table, chain, expression names): byte stores beat Buffer.write's setup.
    const n = v.length
    if (n < 32) {
      let ascii = true
      for (let i = 0; i < n; i++) {
        if (v.charCodeAt(i) > 0x7f) {
          ascii = false
          break
        }
      }
      if (ascii) {
        const at = this.#header(type, n + 1)
        const b = this.buf
        for (let i = 0; i < n; i++) b[at + i] = v.charCodeAt(i)
        b[at + n] = 0
        return this
      }
    }
    const bytes = Buffer.byteLength(v)
    const at = this.#header(type, bytes + 1)
    this.buf.write(v, at, 'utf8')
    this.buf.writeUInt8(0, at + bytes)
    return this
  }

  /** Opens a nested attribute; close it with `endNested(offset)`. */
  beginNested(type: number, nestedFlag = true): number {
    const at = this.length
    this.ensure(NLA_HDRLEN)
    this.buf.writeUInt16LE(0, at)
    this.buf.writeUInt16LE(nestedFlag ? type | NLA_F_NESTED : type, at + 2)
    this.length += NLA_HDRLEN
    return at
  }

  endNested(at: number): this {
    this.buf.writeUInt16LE(this.length - at, at)
    return this
  }

  nested(type: number, body: (w: this) => void, nestedFlag = true): this {
    const at = this.beginNested(type, nestedFlag)
    body(this)
    return this.endNested(at)
  }

  /** The bytes written so far (a view, valid until the next write). */
  view(): Buffer {
    return this.buf.subarray(0, this.length)
  }
}
