// IPv6 text and bytes for the codec and the server, through a bounded memo (see memo.ts for why).
// Formatting remembers the bytes of the text it made, so that an address decoded from a message
// (a relay's peer-address, an IA's address) encodes again without being parsed.
import { ArgumentError, parseIp } from '@lab/netlink-native'
import { BoundedMemo } from './memo.js'

const bytesOf = new BoundedMemo(4096, (text: string, field: string): Buffer => {
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
