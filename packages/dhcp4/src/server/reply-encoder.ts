// The server's replies, encoded with less work per packet than DhcpMessage.encode(): the bytes of
// the option values a subnet repeats in every reply (server id, lease times, mask, router, DNS...)
// are kept from the last reply that had them and copied, not encoded again; the message is built
// in one buffer from Node's small-buffer pool, with no list of parts and no closure per message.
// The bytes are exactly those of DhcpMessage.encode() (a property test compares them); a message
// this path does not handle (sname or file set, a hardware address that is not 6 bytes of text,
// any value the encoder refuses) goes through DhcpMessage.encode(), which names what is wrong.
import { ipv4ToNumber } from '@lab/netlink-native'
import { encodedOptionLength, writeOptions, type DhcpMessage, type OptionValue } from '../codec/message.js'
import { DEFINITIONS, isKnown, type KnownCode } from '../codec/options.js'

const FIXED = 236
const COOKIE = 0x63825363
const END = 255
/** Replies are padded to the BOOTP minimum, as DhcpMessage.encode() does. */
const MIN_LENGTH = 300
/** Options per reply that this path keeps room for; more go through DhcpMessage.encode(). */
const MAX_OPTIONS = 32

/** Hex digit values by character code; -1 for anything else. */
const HEX_DIGIT = new Int8Array(128).fill(-1)
for (let i = 0; i < 10; i++) HEX_DIGIT[48 + i] = i
for (let i = 0; i < 6; i++) {
  HEX_DIGIT[65 + i] = 10 + i
  HEX_DIGIT[97 + i] = 10 + i
}

function hexByte(text: string, at: number): number {
  const hi = text.charCodeAt(at)
  const lo = text.charCodeAt(at + 1)
  if (hi > 127 || lo > 127) return -1
  const h = HEX_DIGIT[hi]!
  const l = HEX_DIGIT[lo]!
  return h < 0 || l < 0 ? -1 : (h << 4) | l
}

/** Whether two option values encode alike: the same primitive, or arrays of the same primitives. */
function same(a: unknown, b: unknown): boolean {
  if (a === b) return typeof a !== 'object' || a === null
  if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) {
    const x: unknown = a[i]
    if (x !== b[i] || (typeof x === 'object' && x !== null)) return false
  }
  return true
}

/** Whether a value is one this encoder may remember (compared by `same`, not by identity). */
function cacheable(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return true
  return Array.isArray(value) && value.every((x) => typeof x !== 'object' || x === null)
}

export class ReplyEncoder {
  /** Per option code, the last value encoded and its bytes. */
  readonly #last: Array<{ value: unknown; data: Buffer } | undefined> = []
  readonly #codes = new Uint8Array(MAX_OPTIONS)
  readonly #datas: Buffer[] = new Array<Buffer>(MAX_OPTIONS)

  /** The bytes of `m`, equal to `m.encode()`. Throws as `m.encode()` does. */
  encode(m: DhcpMessage): Buffer {
    if (m.sname !== '' || m.file !== '' || m.chaddr.length !== 17 || m.options.size > MAX_OPTIONS) return m.encode()
    const codes = this.#codes
    const datas = this.#datas
    let count = 0
    let optionBytes = 0
    try {
      const type = m.options.get(53)
      if (type !== undefined) {
        datas[count] = this.#value(53, type)
        codes[count++] = 53
      }
      for (const [code, value] of m.options) {
        if (code === 53) continue
        datas[count] = this.#value(code, value)
        codes[count++] = code
      }
    } catch {
      // DhcpMessage.encode() throws the error that names the option.
      return m.encode()
    }
    for (let i = 0; i < count; i++) {
      optionBytes += encodedOptionLength(datas[i]!.length)
    }
    const size = Math.max(MIN_LENGTH, FIXED + 4 + optionBytes + 1)
    const buf = Buffer.allocUnsafe(size)
    buf.fill(0, 0, FIXED)
    buf[0] = m.op
    buf[1] = m.htype
    buf[2] = m.hlen
    buf[3] = m.hops
    buf.writeUInt32BE(m.xid >>> 0, 4)
    buf.writeUInt16BE(m.secs, 8)
    buf.writeUInt16BE(m.broadcast ? 0x8000 : 0, 10)
    try {
      if (m.ciaddr !== '0.0.0.0') buf.writeUInt32BE(ipv4ToNumber(m.ciaddr, 'ciaddr'), 12)
      if (m.yiaddr !== '0.0.0.0') buf.writeUInt32BE(ipv4ToNumber(m.yiaddr, 'yiaddr'), 16)
      if (m.siaddr !== '0.0.0.0') buf.writeUInt32BE(ipv4ToNumber(m.siaddr, 'siaddr'), 20)
      if (m.giaddr !== '0.0.0.0') buf.writeUInt32BE(ipv4ToNumber(m.giaddr, 'giaddr'), 24)
    } catch {
      return m.encode()
    }
    const mac = m.chaddr
    for (let i = 0; i < 6; i++) {
      const byte = hexByte(mac, i * 3)
      if (byte < 0 || (i < 5 && mac.charCodeAt(i * 3 + 2) !== 58)) return m.encode()
      buf[28 + i] = byte
    }
    buf.writeUInt32BE(COOKIE, FIXED)
    let at = writeOptions(buf, FIXED + 4, codes, datas, count)
    // The values are referenced elsewhere (the cache); the scratch list holds none between replies.
    datas.fill(undefined as unknown as Buffer, 0, count)
    buf[at++] = END
    if (at < size) buf.fill(0, at, size)
    return buf
  }

  #value(code: number, value: OptionValue): Buffer {
    if (Buffer.isBuffer(value) && !isKnown(code)) return value
    const last = this.#last[code]
    if (last !== undefined && same(last.value, value)) return last.data
    const data = DEFINITIONS[code as KnownCode].encode(value as never)
    // Arrays are copied: the caller may change the one it gave after this reply.
    if (cacheable(value)) this.#last[code] = { value: Array.isArray(value) ? [...(value as unknown[])] : value, data }
    return data
  }
}
