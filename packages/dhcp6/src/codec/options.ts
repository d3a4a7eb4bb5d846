// DHCPv6 options (RFC 8415 section 21 and later RFCs) as an ordered list of typed values. Options
// may repeat (several IA_NAs, several addresses in one IA), so the list keeps every occurrence in
// the order it was read or added. Codes with a definition (definitions.ts) decode to typed values;
// the rest stay raw bytes and are re-encoded unchanged.
import { ArgumentError } from '@lab/netlink-native'
import { DEFINITIONS, OPTION_NAMES, isKnown, type KnownCode, type OptionTypes } from './definitions.js'
import { Dhcp6DecodeError } from './errors.js'

export interface Dhcp6Option {
  code: number
  /** The typed value for a known code, the raw bytes otherwise. */
  value: unknown
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
    return this.encodeAfter(0)
  }

  /**
   * As encode(), after `room` bytes left for the caller to fill (the head of the message or
   * option that holds these): one buffer, no concatenation per level. Every byte of the room must
   * be written by the caller (the buffer is not zeroed).
   */
  encodeAfter(room: number): Buffer {
    const datas: Buffer[] = []
    let length = room
    for (const { code, value } of this.list) {
      let data: Buffer
      try {
        data = isKnown(code) ? DEFINITIONS[code].encode(value as never) : (value as Buffer)
      } catch (error) {
        // The value's own check names what is wrong; the option it was for is said here.
        if (error instanceof ArgumentError && !error.field.startsWith('option ')) throw new ArgumentError(`option ${code}`, error.message.slice(error.field.length + 2))
        throw error
      }
      if (!Buffer.isBuffer(data)) throw new ArgumentError(`option ${code}`, 'an option without a definition needs a Buffer value')
      if (data.length > 0xffff) throw new ArgumentError(`option ${code}`, `${data.length} bytes do not fit in an option (65535 at most)`)
      datas.push(data)
      length += 4 + data.length
    }
    const out = Buffer.allocUnsafe(length)
    let at = room
    for (let i = 0; i < datas.length; i++) {
      const data = datas[i]!
      out.writeUInt16BE(this.list[i]!.code, at)
      out.writeUInt16BE(data.length, at + 2)
      data.copy(out, at + 4)
      at += 4 + data.length
    }
    return out
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
      options.list.push({ code, value: isKnown(code) ? DEFINITIONS[code].decode(data, code, depth + 1) : Buffer.from(data) })
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
