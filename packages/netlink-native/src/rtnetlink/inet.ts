// IP addresses, prefixes and MAC addresses as bytes, validated before anything reaches the kernel.
import { isIPv6 } from 'node:net'
import { ArgumentError } from '../errors.js'

export const AF_UNSPEC = 0
export const AF_INET = 2
export const AF_INET6 = 10
export const AF_BRIDGE = 7

export type Family = 4 | 6

export interface IpAddress {
  family: Family
  bytes: Buffer
  text: string
}

export interface Prefix extends IpAddress {
  length: number
}

export function afOf(family: Family): number {
  return family === 4 ? AF_INET : AF_INET6
}

export function familyOf(af: number): Family | undefined {
  return af === AF_INET ? 4 : af === AF_INET6 ? 6 : undefined
}

/**
 * The one rule for dotted quads, shared by every package: four decimal numbers 0..255 without
 * leading zeros, as `ip` and node:net's isIPv4 read them (`010.0.0.1` is an error, not 8.0.0.1
 * as inet_aton would have it, nor 10.0.0.1). Returns the address as an unsigned 32-bit number, or
 * -1. No regexes or intermediate arrays: rule builders and DHCP servers parse thousands per second.
 */
function parseIpv4Number(text: string): number {
  let value = 0
  let octet = 0
  let digits = 0
  let dots = 0
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 46
    if (c === 46) {
      if (digits === 0 || dots > 3) return -1
      value = value * 256 + octet
      dots++
      octet = 0
      digits = 0
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && octet === 0) return -1
      octet = octet * 10 + (c - 48)
      if (++digits > 3 || octet > 255) return -1
    } else {
      return -1
    }
  }
  return dots === 4 ? value : -1
}

function fastIpv4(text: string): Buffer | undefined {
  const n = parseIpv4Number(text)
  if (n < 0) return undefined
  const out = Buffer.allocUnsafe(4)
  out.writeUInt32BE(n, 0)
  return out
}

/** `"10.0.0.1"` → 0x0a000001. Throws ArgumentError (naming `field`) for anything but a dotted quad. */
export function ipv4ToNumber(text: string, field = 'address'): number {
  const n = typeof text === 'string' ? parseIpv4Number(text) : -1
  if (n < 0) throw new ArgumentError(field, `invalid IPv4 address ${JSON.stringify(text)}`)
  return n
}

/** 0x0a000001 → `"10.0.0.1"`. Throws ArgumentError unless `n` is an integer 0..2^32-1. */
export function numberToIpv4(n: number, field = 'address'): string {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new ArgumentError(field, `not an IPv4 address as a number: ${String(n)}`)
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`
}

/** Prefix length → netmask as a number: 24 → 0xffffff00, 0 → 0. Throws ArgumentError outside 0..32. */
export function prefixToMask(length: number, field = 'prefixLength'): number {
  if (!Number.isInteger(length) || length < 0 || length > 32) throw new ArgumentError(field, `IPv4 prefix length 0..32, got ${String(length)}`)
  // A shift by 32 is a shift by 0 in JavaScript: /0 needs its own case.
  return length === 0 ? 0 : (0xffffffff << (32 - length)) >>> 0
}

/**
 * Netmask (a dotted quad or a number) → prefix length: `"255.255.255.0"` → 24. Throws
 * ArgumentError for a mask whose one bits are not contiguous from the top (`255.0.255.0`).
 */
export function maskToPrefix(mask: string | number, field = 'mask'): number {
  const n = typeof mask === 'number' ? mask : ipv4ToNumber(mask, field)
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new ArgumentError(field, `not a netmask: ${String(mask)}`)
  const inverted = ~n >>> 0
  // Contiguous ones from the top: the zero bits below them are 2^k - 1.
  if ((inverted & (inverted + 1)) !== 0) throw new ArgumentError(field, `not a contiguous netmask: ${typeof mask === 'number' ? numberToIpv4(n) : mask}`)
  return 32 - Math.log2(inverted + 1)
}

/** An IPv4 prefix as numbers, for range arithmetic (pools, subnets, /31 pairs). */
export interface Ipv4Cidr {
  /** The address as written (host bits kept). */
  address: number
  prefixLength: number
  mask: number
  /** The address with the host bits cleared. */
  network: number
  /** The address with the host bits set (on a /31 or /32 simply the last address). */
  broadcast: number
}

/** `"10.1.0.7/24"` → its numbers; a bare address is a /32. Throws ArgumentError naming `field`. */
export function parseIpv4Cidr(text: string, field = 'address'): Ipv4Cidr {
  if (typeof text !== 'string') throw new ArgumentError(field, `expected an IPv4 address/prefix, got ${String(text)}`)
  const slash = text.indexOf('/')
  const address = ipv4ToNumber(slash < 0 ? text : text.slice(0, slash), field)
  const lengthText = slash < 0 ? '32' : text.slice(slash + 1)
  if (!/^(\d|[12]\d|3[0-2])$/.test(lengthText)) throw new ArgumentError(field, `invalid prefix length in ${JSON.stringify(text)} (0..32)`)
  const prefixLength = Number(lengthText)
  const mask = prefixToMask(prefixLength, field)
  const network = (address & mask) >>> 0
  return { address, prefixLength, mask, network, broadcast: (network | ~mask) >>> 0 }
}

export function parseIp(text: string, field = 'address'): IpAddress {
  if (typeof text !== 'string') throw new ArgumentError(field, `expected an IP address, got ${String(text)}`)
  const v4 = fastIpv4(text)
  if (v4) return { family: 4, bytes: v4, text }
  if (isIPv6(text)) {
    const bytes = ipv6Bytes(text)
    return { family: 6, bytes, text: formatIp(bytes) }
  }
  throw new ArgumentError(field, `invalid IP address ${JSON.stringify(text)}`)
}

function ipv6Bytes(text: string): Buffer {
  let head = text
  let v4Tail: number[] = []
  const lastColon = text.lastIndexOf(':')
  if (text.includes('.', lastColon)) {
    v4Tail = text.slice(lastColon + 1).split('.').map(Number)
    head = text.slice(0, lastColon + 1) + '0:0'
  }
  const [left, right] = head.split('::') as [string, string | undefined]
  const l = left ? left.split(':') : []
  const r = right !== undefined && right !== '' ? right.split(':') : []
  const groups = right === undefined ? l : [...l, ...Array(8 - l.length - r.length).fill('0'), ...r]
  const out = Buffer.alloc(16)
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2))
  if (v4Tail.length === 4) out.set(v4Tail, 12)
  return out
}

/**
 * An IPv6 address's 16 bytes, or undefined when the text is not one (RFC 4291 text forms: `::`
 * once at most, 1-4 hex digits a group, an IPv4 tail). One pass over the characters, for callers
 * that parse many (rule builders); parseIp() gives the same bytes.
 */
export function ipv6BytesOf(text: string): Buffer | undefined {
  const n = text.length
  if (n < 2 || n > 45) return undefined
  const groups = new Uint16Array(8)
  let count = 0
  let gap = -1
  let i = 0
  if (text.charCodeAt(0) === 58 /* : */) {
    if (text.charCodeAt(1) !== 58) return undefined
    gap = 0
    i = 2
    if (i === n) return Buffer.alloc(16)
  }
  while (i < n) {
    const start = i
    let value = 0
    while (i < n && i - start < 5) {
      const c = text.charCodeAt(i)
      const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1
      if (d < 0) break
      value = value * 16 + d
      i++
    }
    const digits = i - start
    if (i < n && text.charCodeAt(i) === 46 /* . */) {
      // An IPv4 tail takes the last two groups.
      const v4 = parseIpv4Number(text.slice(start))
      if (v4 < 0 || count > 6) return undefined
      groups[count++] = v4 >>> 16
      groups[count++] = v4 & 0xffff
      i = n
      break
    }
    if (digits === 0 || digits > 4 || count === 8) return undefined
    groups[count++] = value
    if (i === n) break
    if (text.charCodeAt(i) !== 58) return undefined
    i++
    if (i < n && text.charCodeAt(i) === 58) {
      if (gap >= 0) return undefined
      gap = count
      i++
      if (i === n) break
    } else if (i === n) return undefined
  }
  if (gap < 0 ? count !== 8 : count > 7) return undefined
  const out = Buffer.alloc(16)
  const tail = gap < 0 ? 0 : count - gap
  for (let g = 0; g < count; g++) {
    const slot = gap >= 0 && g >= gap ? 8 - tail + (g - gap) : g
    out[slot * 2] = groups[g]! >>> 8
    out[slot * 2 + 1] = groups[g]! & 0xff
  }
  return out
}

/**
 * An address or prefix as bytes: `10.0.0.0/8`, `fd00::/64`, or a bare address (its full length).
 * As parseCidr() without the canonical text, for callers that parse many.
 */
export function parsePrefixBytes(text: string, field = 'address'): { family: Family; bytes: Buffer; length: number } {
  if (typeof text !== 'string') throw new ArgumentError(field, `expected an address/prefix, got ${String(text)}`)
  const slash = text.indexOf('/')
  const address = slash < 0 ? text : text.slice(0, slash)
  let bytes: Buffer | undefined = fastIpv4(address)
  const family: Family = bytes ? 4 : 6
  if (!bytes && fastIpv4Like(address)) throw new ArgumentError(field, `invalid IP address ${JSON.stringify(address)}`)
  // Forms the one-pass parser leaves out (a zone, `fe80::1%eth0`) go the way parseIp() takes them.
  if (!bytes) bytes = ipv6BytesOf(address) ?? parseIp(address, field).bytes
  const max = family === 4 ? 32 : 128
  if (slash < 0) return { family, bytes, length: max }
  let length = 0
  const digits = text.length - slash - 1
  if (digits < 1 || digits > 3) length = -1
  for (let i = slash + 1; i < text.length && length >= 0; i++) {
    const c = text.charCodeAt(i) - 48
    length = c >= 0 && c <= 9 ? length * 10 + c : -1
  }
  if (length < 0 || length > max) throw new ArgumentError(field, `invalid prefix length in ${JSON.stringify(text)} (0..${max})`)
  return { family, bytes, length }
}

/** A dotted quad gone wrong (`10.0.0.300`) is not for the IPv6 parser to judge. */
function fastIpv4Like(text: string): boolean {
  return text.indexOf(':') < 0
}

/** "10.0.0.1/24" → prefix; a bare address gets the full length. */
export function parseCidr(text: string, field = 'address'): Prefix {
  if (typeof text !== 'string') throw new ArgumentError(field, `expected an address/prefix, got ${String(text)}`)
  const slash = text.indexOf('/')
  const ip = parseIp(slash < 0 ? text : text.slice(0, slash), field)
  const max = ip.family === 4 ? 32 : 128
  const lengthText = slash < 0 ? String(max) : text.slice(slash + 1)
  const length = Number(lengthText)
  if (!/^\d+$/.test(lengthText) || length > max) {
    throw new ArgumentError(field, `invalid prefix length in ${JSON.stringify(text)} (0..${max})`)
  }
  return { ...ip, length }
}

export function formatIp(bytes: Buffer | Uint8Array): string {
  if (bytes.length === 4) return Array.from(bytes).join('.')
  if (bytes.length !== 16) return Buffer.from(bytes).toString('hex')
  const groups: number[] = []
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!)
  // RFC 5952: compress the longest run of two or more zero groups, the first one on a tie.
  let bestStart = -1
  let bestLen = 0
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i
      bestLen = j - i
    }
    i = j
  }
  const hex = groups.map((g) => g.toString(16))
  if (bestStart < 0) return hex.join(':')
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`
}

/** Network address of a prefix (host bits cleared), as routes want it. */
export function networkOf(prefix: Prefix): Buffer {
  const out = Buffer.from(prefix.bytes)
  for (let bit = prefix.length; bit < out.length * 8; bit++) out[bit >> 3]! &= ~(0x80 >> (bit & 7))
  return out
}

export function parseMac(text: string, field = 'address'): Buffer {
  if (typeof text !== 'string' || !/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(text)) {
    throw new ArgumentError(field, `invalid MAC address ${JSON.stringify(text)} (expected aa:bb:cc:dd:ee:ff)`)
  }
  return Buffer.from(text.split(':').map((h) => parseInt(h, 16)))
}

export function formatMac(bytes: Buffer | Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(':')
}

const IFNAMSIZ = 16

export function checkIfname(name: unknown, field = 'name'): string {
  if (typeof name !== 'string' || name.length === 0 || Buffer.byteLength(name) >= IFNAMSIZ || /[\s/:]/.test(name)) {
    throw new ArgumentError(field, `invalid interface name ${JSON.stringify(name)} (1-15 bytes, no spaces, '/' or ':')`)
  }
  return name
}
