// DHCP options (RFC 2132 and later RFCs) as typed values. Each definition knows how to encode,
// decode and print its value; options without a definition are kept as raw bytes and re-encoded
// unchanged.
import { ipv4ToNumber } from '@lab/netlink-native'
import { DhcpDecodeError } from './errors.js'

export const MESSAGE_TYPES = { DISCOVER: 1, OFFER: 2, REQUEST: 3, DECLINE: 4, ACK: 5, NAK: 6, RELEASE: 7, INFORM: 8 } as const
export type MessageType = keyof typeof MESSAGE_TYPES

export interface ClasslessRoute {
  destination: string
  prefixLength: number
  router: string
}

export interface ClientFqdn {
  flags: number
  rcode1: number
  rcode2: number
  name: string
}

export interface OptionTypes {
  1: string // subnet mask
  2: number // time offset
  3: string[] // router
  6: string[] // DNS servers
  12: string // hostname
  15: string // domain name
  26: number // interface MTU
  28: string // broadcast address
  42: string[] // NTP servers
  50: string // requested IP
  51: number // lease time
  52: number // option overload
  53: MessageType
  54: string // server identifier
  55: number[] // parameter request list
  56: string // message
  57: number // max message size
  58: number // renewal (T1)
  59: number // rebinding (T2)
  60: string // vendor class identifier
  61: Buffer // client identifier
  66: string // TFTP server name
  67: string // bootfile name
  81: ClientFqdn
  82: Map<number, Buffer> // relay agent information (sub-options)
  119: string[] // domain search
  121: ClasslessRoute[] // classless static routes
}

export type KnownCode = keyof OptionTypes

interface Definition<T> {
  name: string
  encode(value: T): Buffer
  decode(data: Buffer, code: number): T
  /**
   * The same as `decode(b.subarray(at, at + length), code)`, read in place: the options every
   * request carries (message type, addresses, the parameter list) are decoded per packet, and a
   * view per option was one more object per option for the garbage collector.
   */
  decodeAt?(b: Buffer, at: number, length: number, code: number): T
  format(value: T): string
}

const fail = (code: number, detail: string): never => {
  throw new DhcpDecodeError('bad-option-length', detail, code)
}

function ipBytes(text: string): Buffer {
  const b = Buffer.allocUnsafe(4)
  b.writeUInt32BE(ipv4ToNumber(text), 0)
  return b
}

/** Where a dotted quad is put together (at most 15 characters). */
const ipScratch = Buffer.alloc(15)

/**
 * The dotted quad at `at`, as one flat string: a requested address becomes the address of a
 * lease the server keeps, and text joined piece by piece is a tree of strings for the garbage
 * collector to copy while the lease is young.
 */
function ipText(b: Buffer, at = 0): string {
  let n = 0
  for (let i = 0; i < 4; i++) {
    const octet = b[at + i]!
    if (i > 0) ipScratch[n++] = 46
    if (octet >= 100) ipScratch[n++] = 48 + Math.floor(octet / 100)
    if (octet >= 10) ipScratch[n++] = 48 + (Math.floor(octet / 10) % 10)
    ipScratch[n++] = 48 + (octet % 10)
  }
  return ipScratch.toString('latin1', 0, n)
}

/** decode() and decodeAt() from one reader: decode() reads the whole of its buffer in place. */
function readers<T>(decodeAt: (b: Buffer, at: number, length: number, code: number) => T): Pick<Definition<T>, 'decode' | 'decodeAt'> {
  return { decode: (d, c) => decodeAt(d, 0, d.length, c), decodeAt }
}

function ipAt(b: Buffer, at: number, length: number, c: number): string {
  return length === 4 ? ipText(b, at) : fail(c, `needs 4 bytes, has ${length}`)
}

const ip: Definition<string> = {
  name: 'ip',
  encode: (v) => ipBytes(v),
  ...readers(ipAt),
  format: (v) => v,
}

const ips: Definition<string[]> = {
  name: 'ips',
  encode: (v) => Buffer.concat(v.map((x) => ipBytes(x))),
  decode: (d, c) => {
    if (d.length === 0 || d.length % 4 !== 0) fail(c, `needs a multiple of 4 bytes, has ${d.length}`)
    const out: string[] = []
    for (let i = 0; i < d.length; i += 4) out.push(ipText(d, i))
    return out
  },
  format: (v) => v.join(', '),
}

const uint = (bytes: 1 | 2 | 4, signed = false): Definition<number> => ({
  name: `u${bytes * 8}`,
  encode: (v) => {
    const b = Buffer.alloc(bytes)
    if (bytes === 1) b.writeUInt8(v)
    else if (bytes === 2) b.writeUInt16BE(v)
    else if (signed) b.writeInt32BE(v)
    else b.writeUInt32BE(v >>> 0)
    return b
  },
  ...readers((b, at, length, c) => {
    if (length !== bytes) fail(c, `needs ${bytes} bytes, has ${length}`)
    return bytes === 1 ? b.readUInt8(at) : bytes === 2 ? b.readUInt16BE(at) : signed ? b.readInt32BE(at) : b.readUInt32BE(at)
  }),
  format: (v) => String(v),
})

const text: Definition<string> = {
  name: 'text',
  // An empty string is written as one NUL: options have at least one byte (RFC 2132), and a value
  // read from a lone NUL must write back to bytes that read again (found by the fuzz test).
  encode: (v) => Buffer.from(v === '' ? '\0' : v, 'utf8'),
  decode: (d, c) => {
    if (d.length === 0) fail(c, 'empty string')
    // Some clients NUL-terminate strings; the NUL is not part of the value.
    const end = d.indexOf(0)
    return d.toString('utf8', 0, end < 0 ? d.length : end)
  },
  format: (v) => JSON.stringify(v),
}

const seconds: Definition<number> = { ...uint(4), format: (v) => (v === 0xffffffff ? 'infinite' : `${v}s`) }

/** Message type names by number (undefined for numbers that name none). */
const TYPE_NAMES: Array<MessageType | undefined> = []
for (const [name, n] of Object.entries(MESSAGE_TYPES) as Array<[MessageType, number]>) TYPE_NAMES[n] = name

function messageTypeAt(b: Buffer, at: number, length: number, c: number): MessageType {
  if (length !== 1) fail(c, `needs 1 byte, has ${length}`)
  const name = TYPE_NAMES[b[at]!]
  if (!name) throw new DhcpDecodeError('bad-option-value', `unknown message type ${b[at]}`, c)
  return name
}

const messageType: Definition<MessageType> = {
  name: 'message type',
  encode: (v) => Buffer.from([MESSAGE_TYPES[v]]),
  ...readers(messageTypeAt),
  format: (v) => v,
}

const codes: Definition<number[]> = {
  name: 'codes',
  encode: (v) => Buffer.from(v),
  ...readers((b, at, length, c) => {
    if (length === 0) fail(c, 'empty list')
    const out = new Array<number>(length)
    for (let i = 0; i < length; i++) out[i] = b[at + i]!
    return out
  }),
  format: (v) => v.map((c) => OPTION_NAMES[c] ?? String(c)).join(', '),
}

const bytes: Definition<Buffer> = {
  name: 'bytes',
  encode: (v) => Buffer.from(v),
  decode: (d, c) => (d.length === 0 ? fail(c, 'empty') : Buffer.from(d)),
  format: (v) => v.toString('hex').replace(/(..)(?!$)/g, '$1:'),
}

/** RFC 3442: each route is a prefix length, the significant octets of the destination, a router. */
const classlessRoutes: Definition<ClasslessRoute[]> = {
  name: 'classless routes',
  encode: (routes) =>
    Buffer.concat(
      routes.map((r) => {
        const significant = Math.ceil(r.prefixLength / 8)
        return Buffer.concat([Buffer.from([r.prefixLength]), ipBytes(r.destination).subarray(0, significant), ipBytes(r.router)])
      }),
    ),
  decode: (d, c) => {
    const routes: ClasslessRoute[] = []
    let at = 0
    while (at < d.length) {
      const prefixLength = d[at]!
      if (prefixLength > 32) throw new DhcpDecodeError('bad-option-value', `prefix length ${prefixLength}`, c)
      const significant = Math.ceil(prefixLength / 8)
      if (at + 1 + significant + 4 > d.length) fail(c, 'route overruns the option')
      const dest = Buffer.alloc(4)
      d.copy(dest, 0, at + 1, at + 1 + significant)
      routes.push({ destination: ipText(dest), prefixLength, router: ipText(d, at + 1 + significant) })
      at += 1 + significant + 4
    }
    if (routes.length === 0) fail(c, 'no routes')
    return routes
  },
  format: (v) => v.map((r) => `${r.destination}/${r.prefixLength} via ${r.router}`).join(', '),
}

/** RFC 1035 names with RFC 3397's compression pointers (within the option). */
function readName(d: Buffer, start: number, code: number): { name: string; next: number } {
  const labels: string[] = []
  let at = start
  let next = -1
  for (let jumps = 0; ; ) {
    if (at >= d.length) fail(code, 'name overruns the option')
    const len = d[at]!
    if (len === 0) {
      if (next < 0) next = at + 1
      break
    }
    if ((len & 0xc0) === 0xc0) {
      if (at + 1 >= d.length) fail(code, 'truncated compression pointer')
      const target = ((len & 0x3f) << 8) | d[at + 1]!
      if (next < 0) next = at + 2
      if (++jumps > 32 || target >= d.length) throw new DhcpDecodeError('bad-option-value', 'bad compression pointer', code)
      at = target
      continue
    }
    if (len > 63 || at + 1 + len > d.length) fail(code, 'label overruns the option')
    labels.push(d.toString('latin1', at + 1, at + 1 + len))
    at += 1 + len
  }
  return { name: labels.join('.'), next }
}

function writeName(name: string): Buffer {
  const parts = name.split('.').filter(Boolean)
  return Buffer.concat([...parts.map((p) => Buffer.concat([Buffer.from([p.length]), Buffer.from(p, 'latin1')])), Buffer.from([0])])
}

const domainSearch: Definition<string[]> = {
  name: 'domain search',
  encode: (v) => Buffer.concat(v.map(writeName)),
  decode: (d, c) => {
    const out: string[] = []
    for (let at = 0; at < d.length; ) {
      const { name, next } = readName(d, at, c)
      out.push(name)
      at = next
    }
    return out
  },
  format: (v) => v.join(', '),
}

/** RFC 4702: flags, two deprecated rcodes, then the name (wire format when the E flag is set). */
const clientFqdn: Definition<ClientFqdn> = {
  name: 'client fqdn',
  encode: (v) => Buffer.concat([Buffer.from([v.flags, v.rcode1, v.rcode2]), v.flags & 0x04 ? writeName(v.name) : Buffer.from(v.name, 'ascii')]),
  decode: (d, c) => {
    if (d.length < 3) fail(c, `needs at least 3 bytes, has ${d.length}`)
    const flags = d[0]!
    const name = flags & 0x04 ? (d.length > 3 ? readName(d, 3, c).name : '') : d.toString('ascii', 3)
    return { flags, rcode1: d[1]!, rcode2: d[2]!, name }
  },
  format: (v) => `${v.name} (flags 0x${v.flags.toString(16)})`,
}

/** RFC 3046: sub-options (circuit id 1, remote id 2, ...) in TLV form. */
const relayAgent: Definition<Map<number, Buffer>> = {
  name: 'relay agent information',
  encode: (v) => Buffer.concat([...v].map(([code, data]) => Buffer.concat([Buffer.from([code, data.length]), data]))),
  decode: (d, c) => {
    const out = new Map<number, Buffer>()
    for (let at = 0; at < d.length; ) {
      if (at + 2 > d.length || at + 2 + d[at + 1]! > d.length) fail(c, 'sub-option overruns the option')
      out.set(d[at]!, Buffer.from(d.subarray(at + 2, at + 2 + d[at + 1]!)))
      at += 2 + d[at + 1]!
    }
    return out
  },
  format: (v) => [...v].map(([k, b]) => `${k === 1 ? 'circuit-id' : k === 2 ? 'remote-id' : `sub-${k}`}=${b.toString('hex')}`).join(' '),
}

export const DEFINITIONS: { [C in KnownCode]: Definition<OptionTypes[C]> & { label: string } } = {
  1: { ...ip, label: 'subnet-mask' },
  2: { ...uint(4, true), label: 'time-offset' },
  3: { ...ips, label: 'router' },
  6: { ...ips, label: 'dns' },
  12: { ...text, label: 'hostname' },
  15: { ...text, label: 'domain-name' },
  26: { ...uint(2), label: 'mtu' },
  28: { ...ip, label: 'broadcast' },
  42: { ...ips, label: 'ntp' },
  50: { ...ip, label: 'requested-ip' },
  51: { ...seconds, label: 'lease-time' },
  52: { ...uint(1), label: 'overload' },
  53: { ...messageType, label: 'message-type' },
  54: { ...ip, label: 'server-id' },
  55: { ...codes, label: 'parameter-request-list' },
  56: { ...text, label: 'message' },
  57: { ...uint(2), label: 'max-message-size' },
  58: { ...seconds, label: 'renewal-time' },
  59: { ...seconds, label: 'rebinding-time' },
  60: { ...text, label: 'vendor-class' },
  61: { ...bytes, label: 'client-id' },
  66: { ...text, label: 'tftp-server' },
  67: { ...text, label: 'bootfile' },
  81: { ...clientFqdn, label: 'client-fqdn' },
  82: { ...relayAgent, label: 'relay-agent-info' },
  119: { ...domainSearch, label: 'domain-search' },
  121: { ...classlessRoutes, label: 'classless-routes' },
}

export const OPTION_NAMES: Record<number, string> = Object.fromEntries(Object.entries(DEFINITIONS).map(([c, d]) => [Number(c), d.label]))

export function isKnown(code: number): code is KnownCode {
  return Object.prototype.hasOwnProperty.call(DEFINITIONS, code)
}
