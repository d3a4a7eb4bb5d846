// IP addresses, prefixes and MAC addresses as bytes, validated before anything reaches the kernel.
import { isIPv4, isIPv6 } from 'node:net'
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

/** Dotted-quad IPv4 without intermediate arrays: rule builders parse thousands per batch. */
function fastIpv4(text: string): Buffer | undefined {
  const out = Buffer.allocUnsafe(4)
  let octet = 0
  let digits = 0
  let part = 0
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 46
    if (c === 46) {
      if (digits === 0 || part > 3) return undefined
      out[part++] = octet
      octet = 0
      digits = 0
    } else if (c >= 48 && c <= 57) {
      // No leading zeros (net.isIPv4 rejects "01"), at most 255.
      if (digits > 0 && octet === 0) return undefined
      octet = octet * 10 + (c - 48)
      if (++digits > 3 || octet > 255) return undefined
    } else {
      return undefined
    }
  }
  return part === 4 ? out : undefined
}

export function parseIp(text: string, field = 'address'): IpAddress {
  if (typeof text !== 'string') throw new ArgumentError(field, `expected an IP address, got ${String(text)}`)
  const v4 = fastIpv4(text)
  if (v4) return { family: 4, bytes: v4, text }
  if (isIPv4(text)) {
    return { family: 4, bytes: Buffer.from(text.split('.').map(Number)), text }
  }
  if (isIPv6(text)) {
    return { family: 6, bytes: ipv6Bytes(text), text: formatIp(ipv6Bytes(text)) }
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
