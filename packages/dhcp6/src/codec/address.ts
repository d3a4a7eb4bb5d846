// IPv6 text and bytes for the codec and the server, through a bounded memo (see memo.ts for why).
// Formatting remembers the bytes of the text it made, so that an address decoded from a message
// (a relay's peer-address, an IA's address) encodes again without being parsed.
import { ArgumentError, parseIp } from '@lab/netlink-native'
import { BoundedMemo } from './memo.js'

const bytesOf = new BoundedMemo(4096, (text: string, field: string): Buffer => {
  const fast = typeof text === 'string' ? parseIpv6Hex(text) : undefined
  if (fast) return fast
  const ip = parseIp(text, field)
  if (ip.family !== 6) throw new ArgumentError(field, `expected an IPv6 address, got ${text}`)
  return ip.bytes
})

/** An IPv6 address's 16 bytes (shared: copy them, never change them). Throws ArgumentError naming `field` for anything else. */
export function ipv6(text: string, field: string): Buffer {
  return bytesOf.get(text, field)
}

/** RFC 5952 text of 16 bytes (as netlink-native's formatIp makes it), remembered for `ipv6()`. */
export function formatIpv6(bytes: Buffer): string {
  const text = ipv6Text(bytes)
  if (!bytesOf.has(text)) bytesOf.set(text, Buffer.from(bytes))
  return text
}

const DIGIT: number[] = []
for (let i = 0; i < 16; i++) {
  DIGIT['0123456789abcdef'.charCodeAt(i)] = i
  DIGIT['0123456789ABCDEF'.charCodeAt(i)] = i
}
const groups = new Uint16Array(8)

/**
 * The 16 bytes of IPv6 text made of hex groups and at most one `::` (RFC 4291 2.2 forms 1 and 2),
 * without a regular expression; undefined for anything else (an embedded IPv4 address, a zone,
 * or no address at all), which parseIp then judges. With `into`, the bytes go there (its first 16).
 */
export function parseIpv6Hex(text: string, into?: Buffer): Buffer | undefined {
  const n = text.length
  if (n < 2 || n > 39) return undefined
  let count = 0
  let gap = -1
  let i = 0
  if (text.charCodeAt(0) === 58) {
    if (text.charCodeAt(1) !== 58) return undefined
    gap = 0
    i = 2
  }
  while (i < n) {
    let value = 0
    let digits = 0
    for (; i < n && digits < 5; i++, digits++) {
      const d = DIGIT[text.charCodeAt(i)]
      if (d === undefined) break
      value = (value << 4) | d
    }
    if (digits === 0 || digits > 4 || count === 8) return undefined
    groups[count++] = value
    if (i === n) break
    if (text.charCodeAt(i) !== 58) return undefined
    i++
    if (text.charCodeAt(i) === 58) {
      if (gap >= 0) return undefined
      gap = count
      i++
    } else if (i === n) return undefined
  }
  if (gap < 0 ? count !== 8 : count > 7) return undefined
  const out = into ?? Buffer.allocUnsafe(16)
  out.fill(0, 0, 16)
  const tail = gap < 0 ? 0 : count - gap
  const head = count - tail
  for (let g = 0; g < head; g++) out.writeUInt16BE(groups[g]!, 2 * g)
  for (let g = 0; g < tail; g++) out.writeUInt16BE(groups[head + g]!, 2 * (8 - tail + g))
  return out
}

/** 0..255 in hex without leading zeros, and with two digits. */
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16))
const HEX2 = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))

/**
 * RFC 5952 text of 16 bytes: lowercase groups without leading zeros, the longest run of two or
 * more zero groups (the first on a tie) as `::`. No arrays: this runs for several addresses of
 * every message a server reads.
 */
export function ipv6Text(b: Uint8Array): string {
  let bestStart = -1
  let bestLength = 1
  for (let i = 0; i < 8; ) {
    if (b[2 * i] !== 0 || b[2 * i + 1] !== 0) {
      i++
      continue
    }
    let j = i + 1
    while (j < 8 && b[2 * j] === 0 && b[2 * j + 1] === 0) j++
    if (j - i > bestLength) {
      bestStart = i
      bestLength = j - i
    }
    i = j
  }
  let text = ''
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      text += '::'
      i += bestLength - 1
      continue
    }
    if (i > 0 && i !== bestStart + bestLength) text += ':'
    const hi = b[2 * i]!
    text += hi === 0 ? HEX[b[2 * i + 1]!]! : HEX[hi]! + HEX2[b[2 * i + 1]!]!
  }
  return text
}
