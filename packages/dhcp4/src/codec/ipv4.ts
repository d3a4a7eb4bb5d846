// Dotted-quad IPv4 text to a number and back, without regexes or intermediate arrays: these run
// several times per packet.

/** The address as an unsigned 32-bit number, or -1 when `text` is not a dotted quad. */
export function parseIpv4(text: string): number {
  let value = 0
  let octet = 0
  let digits = 0
  let dots = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 46) {
      if (digits === 0 || ++dots > 3) return -1
      value = value * 256 + octet
      octet = 0
      digits = 0
    } else if (c >= 48 && c <= 57) {
      if (++digits > 3) return -1
      octet = octet * 10 + (c - 48)
      if (octet > 255) return -1
    } else {
      return -1
    }
  }
  if (dots !== 3 || digits === 0) return -1
  return value * 256 + octet
}

export function formatIpv4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`
}
