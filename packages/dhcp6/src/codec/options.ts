// DHCPv6 options (RFC 8415 section 21 and later RFCs) as an ordered list of typed values. Options
// may repeat (several IA_NAs, several addresses in one IA), so the list keeps every occurrence in
// the order it was read or added. Codes with a definition (definitions.ts) decode to typed values;
// the rest stay raw bytes and are re-encoded unchanged.
import { ArgumentError } from '@lab/netlink-native'
import { DEFINITION_OF, DEFINITIONS, OPTION_NAMES, isKnown, type KnownCode, type OptionTypes } from './definitions.js'
import { Dhcp6DecodeError } from './errors.js'

export interface Dhcp6Option {
  code: number
  /** The typed value for a known code, the raw bytes otherwise. */
  value: unknown
}

/**
 * Where a message is encoded: one growing buffer that every level (message, relay, option, IA)
 * writes into in turn. encode() takes a shared one (an encode inside an encode gets its own)
 * and copies the result out, so an encoded message costs one allocation of its own size.
 */
export class Writer {
  b: Buffer
  at = 0
  static #shared: Writer | undefined = new Writer(4096)

  constructor(size = 512) {
    this.b = Buffer.allocUnsafe(size)
  }

  static acquire(): Writer {
    const w = Writer.#shared
    if (w === undefined) return new Writer()
    Writer.#shared = undefined
    w.at = 0
    return w
  }

  static release(w: Writer): void {
    // Buffers grown past 64 KiB for an odd message are let go.
    if (w.b.length <= 65536) Writer.#shared = w
  }

  /** Makes room for `n` more bytes. */
  room(n: number): void {
    if (this.at + n <= this.b.length) return
    const grown = Buffer.allocUnsafe(Math.max(2 * this.b.length, this.at + n))
    this.b.copy(grown, 0, 0, this.at)
    this.b = grown
  }

  /** Reserves `n` bytes the caller fills later (headers whose length is known at the end). */
  skip(n: number): number {
    this.room(n)
    const at = this.at
    this.at += n
    return at
  }

  u8(v: number): void {
    this.room(1)
    this.b[this.at++] = v
  }

  u16(v: number): void {
    this.room(2)
    this.b.writeUInt16BE(v, this.at)
    this.at += 2
  }

  u32(v: number): void {
    this.room(4)
    this.b.writeUInt32BE(v, this.at)
    this.at += 4
  }

  bytes(data: Uint8Array): void {
    this.room(data.length)
    this.b.set(data, this.at)
    this.at += data.length
  }

  /** What was written, as a buffer of its own. */
  take(): Buffer {
    const out = Buffer.allocUnsafe(this.at)
    this.b.copy(out, 0, 0, this.at)
    return out
  }
}

/** How deep relay messages and IA options may nest before decoding gives up. */
export const MAX_DEPTH = 40

export class Dhcp6Options implements Iterable<Dhcp6Option> {
  readonly list: Dhcp6Option[] = []

  constructor(entries: Iterable<Dhcp6Option> = []) {
    for (const e of entries) this.list.push({ code: e.code, value: e.value })
  }

  /** The first value of `code`, or undefined. */
  get<C extends KnownCode>(code: C): OptionTypes[C] | undefined
  get(code: number): unknown
  get(code: number): unknown {
    for (const o of this.list) if (o.code === code) return o.value
    return undefined
  }

  /** Every value of `code`, in order. */
  all<C extends KnownCode>(code: C): OptionTypes[C][]
  all(code: number): unknown[]
  all(code: number): unknown[] {
    const out: unknown[] = []
    for (const o of this.list) if (o.code === code) out.push(o.value)
    return out
  }

  has(code: number): boolean {
    return this.list.some((o) => o.code === code)
  }

  /** Appends one more occurrence. */
  add<C extends KnownCode>(code: C, value: OptionTypes[C]): this {
    this.list.push({ code, value })
    return this
  }

  /** Replaces every occurrence of `code` by this one value (in the place of the first). */
  set<C extends KnownCode>(code: C, value: OptionTypes[C]): this {
    const at = this.list.findIndex((o) => o.code === code)
    this.delete(code)
    if (at < 0) this.list.push({ code, value })
    else this.list.splice(at, 0, { code, value })
    return this
  }

  /** An option this library has no type for, as bytes (appended). */
  addRaw(code: number, data: Buffer): this {
    if (!Number.isInteger(code) || code < 1 || code > 0xffff) throw new ArgumentError('code', `option code 1..65535, got ${code}`)
    if (isKnown(code)) throw new ArgumentError('code', `option ${code} (${OPTION_NAMES[code]}) has a type: use add()`)
    this.list.push({ code, value: Buffer.from(data) })
    return this
  }

  delete(code: number): this {
    for (let i = this.list.length - 1; i >= 0; i--) if (this.list[i]!.code === code) this.list.splice(i, 1)
    return this
  }

  get size(): number {
    return this.list.length
  }

  [Symbol.iterator](): Iterator<Dhcp6Option> {
    return this.list[Symbol.iterator]()
  }

  /** Each option: 2 bytes code, 2 bytes length, data. */
  encode(): Buffer {
    const w = Writer.acquire()
    try {
      this.writeTo(w)
      return w.take()
    } finally {
      Writer.release(w)
    }
  }

  /**
   * Writes each option (header, then its data) at the writer's end, each value's data in place by
   * its definition (no buffer per option); an option without a definition carries a Buffer. Throws
   * ArgumentError naming the option for a value that cannot be encoded.
   */
  writeTo(w: Writer): void {
    const list = this.list
    for (let i = 0; i < list.length; i++) {
      const { code, value } = list[i]!
      const head = w.at
      w.skip(4)
      try {
        const def = DEFINITION_OF[code]
        if (def) def.write(value, w)
        else if (Buffer.isBuffer(value)) w.bytes(value)
        else throw new ArgumentError(`option ${code}`, 'an option without a definition needs a Buffer value')
      } catch (error) {
        // The value's own check names what is wrong; the option it was for is said here.
        if (error instanceof ArgumentError && !error.field.startsWith('option ')) throw new ArgumentError(`option ${code}`, error.message.slice(error.field.length + 2))
        throw error
      }
      const length = w.at - head - 4
      if (length > 0xffff) throw new ArgumentError(`option ${code}`, `${length} bytes do not fit in an option (65535 at most)`)
      w.b.writeUInt16BE(code, head)
      w.b.writeUInt16BE(length, head + 2)
    }
  }

  /** Decodes options filling `b` exactly; `depth` counts enclosing options and relay messages. */
  static decode(b: Buffer, depth = 0): Dhcp6Options {
    if (depth > MAX_DEPTH) throw new Dhcp6DecodeError('too-deep', `options nest deeper than ${MAX_DEPTH}`)
    const options = new Dhcp6Options()
    for (let at = 0; at < b.length; ) {
      if (at + 4 > b.length) throw new Dhcp6DecodeError('option-overrun', `${b.length - at} bytes left where an option header needs 4`)
      const code = b.readUInt16BE(at)
      const len = b.readUInt16BE(at + 2)
      if (at + 4 + len > b.length) throw new Dhcp6DecodeError('option-overrun', `option ${code} claims ${len} bytes, ${b.length - at - 4} remain`, code)
      const data = b.subarray(at + 4, at + 4 + len)
      const def = DEFINITION_OF[code]
      options.list.push({ code, value: def ? def.decode(data, code, depth + 1) : Buffer.from(data) })
      at += 4 + len
    }
    return options
  }

  /** One line per option, nested ones indented, as `name (code): value`. */
  format(indent = '  '): string[] {
    const lines: string[] = []
    for (const { code, value } of this.list) {
      const name = OPTION_NAMES[code] ?? `option-${code}`
      if (isKnown(code)) {
        const def = DEFINITIONS[code]
        lines.push(`${indent}${name} (${code}): ${def.format(value as never)}`)
        const nested = def.nested?.(value as never)
        if (nested) lines.push(...nested.format(indent + '  '))
      } else {
        lines.push(`${indent}${name} (${code}): ${(value as Buffer).toString('hex')}`)
      }
    }
    return lines
  }
}
