// IPv6 text and bytes for the codec and the server, through a bounded memo (see memo.ts for why).
// Formatting remembers the bytes of the text it made, so that an address decoded from a message
// (a relay's peer-address, an IA's address) encodes again without being parsed.
import { ArgumentError, formatIp, parseIp } from '@lab/netlink-native'
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

/** RFC 5952 text of 16 bytes (netlink-native's formatIp), remembered for `ipv6()`. */
export function formatIpv6(bytes: Buffer): string {
  const text = formatIp(bytes)
  bytesOf.set(text, Buffer.from(bytes))
  return text
}
