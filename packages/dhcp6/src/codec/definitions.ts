// The option definitions: per code, how its value is encoded, decoded and printed. Codes and
// layouts are RFC 8415 section 21 unless another RFC is named.
import { ArgumentError } from '@lab/netlink-native'
import { decodeDuid, encodeDuid, formatDuid, colonHex, writeDuid, type Duid } from './duid.js'
import { Dhcp6DecodeError } from './errors.js'
import { formatIpv6, ipv6 } from './address.js'
import type { IaAddress, IaNa, IaPd, IaPrefix, IaTa } from './ia.js'
import { decodeMessage, type AnyDhcp6Message } from './message.js'
import { decodeNames, encodeName } from './names.js'
import { Dhcp6Options, type Writer } from './options.js'
import { statusName, type StatusCode } from './status.js'

/** RFC 6939: the client's link-layer address, as a relay saw it. */
export interface ClientLinkLayerAddress {
  hardwareType: number
  /** Colon-separated hex; a MAC for Ethernet (type 1). */
  address: string
}

export const OPTION = {
  CLIENTID: 1,
  SERVERID: 2,
  IA_NA: 3,
  IA_TA: 4,
  IAADDR: 5,
  ORO: 6,
  PREFERENCE: 7,
  ELAPSED_TIME: 8,
  RELAY_MSG: 9,
  UNICAST: 12,
  STATUS_CODE: 13,
  RAPID_COMMIT: 14,
  INTERFACE_ID: 18,
  RECONF_MSG: 19,
  RECONF_ACCEPT: 20,
  DNS_SERVERS: 23,
  DOMAIN_LIST: 24,
  IA_PD: 25,
  IAPREFIX: 26,
  INFORMATION_REFRESH_TIME: 32,
  CLIENT_LINKLAYER_ADDR: 79,
  SOL_MAX_RT: 82,
  INF_MAX_RT: 83,
} as const

export interface OptionTypes {
  1: Duid
  2: Duid
  3: IaNa
  4: IaTa
  5: IaAddress
  6: number[]
  7: number
  8: number
  9: AnyDhcp6Message
  12: string
  13: StatusCode
  14: true
  18: Buffer
  19: number
  20: true
  23: string[]
  24: string[]
  25: IaPd
  26: IaPrefix
  32: number
  79: ClientLinkLayerAddress
  82: number
  83: number
}
export type KnownCode = keyof OptionTypes

export interface Definition<T> {
  encode(value: T): Buffer
  /** Writes the encoded value at the writer's end, as encode() would make it, without a buffer of its own. */
  write?(value: T, w: Writer): void
  decode(data: Buffer, code: number, depth: number): T
  format(value: T): string
  /** Options inside the value, printed indented below it. */
  nested?(value: T): Dhcp6Options | undefined
}

const badLength = (code: number, detail: string): never => {
  throw new Dhcp6DecodeError('bad-option-length', detail, code)
}

function exactly(d: Buffer, n: number, code: number): void {
  if (d.length !== n) badLength(code, `needs ${n} bytes, has ${d.length}`)
}


const u32 = (v: number, field: string): number => {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new ArgumentError(field, `0..4294967295, got ${v}`)
  return v
}

const uint = (bytes: 1 | 2 | 4): Definition<number> => ({
  encode: (v) => {
    const b = Buffer.alloc(bytes)
    if (!Number.isInteger(v) || v < 0 || v >= 2 ** (8 * bytes)) throw new ArgumentError('value', `0..${2 ** (8 * bytes) - 1}, got ${v}`)
    b.writeUIntBE(v, 0, bytes)
    return b
  },
  write: (v, w) => {
    if (!Number.isInteger(v) || v < 0 || v >= 2 ** (8 * bytes)) throw new ArgumentError('value', `0..${2 ** (8 * bytes) - 1}, got ${v}`)
    w.room(bytes)
    w.b.writeUIntBE(v, w.at, bytes)
    w.at += bytes
  },
  decode: (d, c) => {
    exactly(d, bytes, c)
    return d.readUIntBE(0, bytes)
  },
  format: (v) => String(v),
})

const seconds: Definition<number> = { ...uint(4), format: (v) => (v === 0xffffffff ? 'infinity' : `${v}s`) }

const duid: Definition<Duid> = {
  encode: encodeDuid,
  write: writeDuid,
  decode: (d, c) => decodeDuid(d, c),
  format: formatDuid,
}

const flag: Definition<true> = {
  encode: () => Buffer.alloc(0),
  write: () => undefined,
  decode: (d, c) => {
    exactly(d, 0, c)
    return true
  },
  format: () => 'yes',
}

const address: Definition<string> = {
  encode: (v) => Buffer.from(ipv6(v, 'address')),
  write: (v, w) => w.bytes(ipv6(v, 'address')),
  decode: (d, c) => {
    exactly(d, 16, c)
    return formatIpv6(d)
  },
  format: (v) => v,
}

const addresses: Definition<string[]> = {
  encode: (v) => Buffer.concat(v.map((a) => ipv6(a, 'address'))),
  write: (v, w) => {
    for (let i = 0; i < v.length; i++) w.bytes(ipv6(v[i]!, 'address'))
  },
  decode: (d, c) => {
    if (d.length % 16 !== 0) badLength(c, `needs a multiple of 16 bytes, has ${d.length}`)
    const out: string[] = []
    for (let i = 0; i < d.length; i += 16) out.push(formatIpv6(d.subarray(i, i + 16)))
    return out
  },
  format: (v) => v.join(', '),
}

const bytes: Definition<Buffer> = {
  encode: (v) => Buffer.from(v),
  write: (v, w) => w.bytes(v),
  decode: (d) => Buffer.from(d),
  format: (v) => v.toString('hex'),
}

/** ORO: a list of 2-byte option codes. */
const codes: Definition<number[]> = {
  encode: (v) => {
    const b = Buffer.alloc(v.length * 2)
    v.forEach((c, i) => b.writeUInt16BE(c, i * 2))
    return b
  },
  write: (v, w) => {
    w.room(v.length * 2)
    for (let i = 0; i < v.length; i++) w.b.writeUInt16BE(v[i]!, w.at + i * 2)
    w.at += v.length * 2
  },
  decode: (d, c) => {
    if (d.length % 2 !== 0) badLength(c, `needs an even number of bytes, has ${d.length}`)
    const out: number[] = []
    for (let i = 0; i < d.length; i += 2) out.push(d.readUInt16BE(i))
    return out
  },
  format: (v) => v.map((c) => OPTION_NAMES[c] ?? String(c)).join(', '),
}

const status: Definition<StatusCode> = {
  encode: (v) => Buffer.concat([Buffer.from([v.code >> 8, v.code & 0xff]), Buffer.from(v.message, 'utf8')]),
  write: (v, w) => {
    w.u8((v.code >> 8) & 0xff)
    w.u8(v.code & 0xff)
    const n = Buffer.byteLength(v.message, 'utf8')
    w.room(n)
    w.at += w.b.write(v.message, w.at, n, 'utf8')
  },
  decode: (d, c) => {
    if (d.length < 2) badLength(c, `needs at least 2 bytes, has ${d.length}`)
    return { code: d.readUInt16BE(0), message: d.toString('utf8', 2) }
  },
  format: (v) => `${statusName(v.code)}${v.message ? ` ${JSON.stringify(v.message)}` : ''}`,
}

function iaWithTimes(name: string): Definition<IaNa> {
  return {
    encode: (v) => {
      const iaid = u32(v.iaid, 'iaid')
      const t1 = u32(v.t1, 't1')
      const t2 = u32(v.t2, 't2')
      const b = v.options ? v.options.encodeAfter(12) : Buffer.allocUnsafe(12)
      b.writeUInt32BE(iaid, 0)
      b.writeUInt32BE(t1, 4)
      b.writeUInt32BE(t2, 8)
      return b
    },
    write: (v, w) => {
      const iaid = u32(v.iaid, 'iaid')
      const t1 = u32(v.t1, 't1')
      const t2 = u32(v.t2, 't2')
      w.u32(iaid)
      w.u32(t1)
      w.u32(t2)
      v.options?.writeTo(w)
    },
    decode: (d, c, depth) => {
      if (d.length < 12) badLength(c, `${name} needs at least 12 bytes, has ${d.length}`)
      return { iaid: d.readUInt32BE(0), t1: d.readUInt32BE(4), t2: d.readUInt32BE(8), options: Dhcp6Options.decode(d.subarray(12), depth) }
    },
    format: (v) => `iaid ${v.iaid} t1 ${v.t1} t2 ${v.t2}`,
    nested: (v) => v.options,
  }
}

const iaTa: Definition<IaTa> = {
  encode: (v) => {
    const iaid = u32(v.iaid, 'iaid')
    const b = v.options ? v.options.encodeAfter(4) : Buffer.allocUnsafe(4)
    b.writeUInt32BE(iaid, 0)
    return b
  },
  write: (v, w) => {
    w.u32(u32(v.iaid, 'iaid'))
    v.options?.writeTo(w)
  },
  decode: (d, c, depth) => {
    if (d.length < 4) badLength(c, `IA_TA needs at least 4 bytes, has ${d.length}`)
    return { iaid: d.readUInt32BE(0), options: Dhcp6Options.decode(d.subarray(4), depth) }
  },
  format: (v) => `iaid ${v.iaid}`,
  nested: (v) => v.options,
}

const iaAddress: Definition<IaAddress> = {
  encode: (v) => {
    const address = ipv6(v.address, 'address')
    const preferred = u32(v.preferredLifetime, 'preferredLifetime')
    const valid = u32(v.validLifetime, 'validLifetime')
    const b = v.options ? v.options.encodeAfter(24) : Buffer.allocUnsafe(24)
    address.copy(b, 0)
    b.writeUInt32BE(preferred, 16)
    b.writeUInt32BE(valid, 20)
    return b
  },
  write: (v, w) => {
    const address = ipv6(v.address, 'address')
    const preferred = u32(v.preferredLifetime, 'preferredLifetime')
    const valid = u32(v.validLifetime, 'validLifetime')
    w.bytes(address)
    w.u32(preferred)
    w.u32(valid)
    v.options?.writeTo(w)
  },
  decode: (d, c, depth) => {
    if (d.length < 24) badLength(c, `IA Address needs at least 24 bytes, has ${d.length}`)
    return {
      address: formatIpv6(d.subarray(0, 16)),
      preferredLifetime: d.readUInt32BE(16),
      validLifetime: d.readUInt32BE(20),
      options: Dhcp6Options.decode(d.subarray(24), depth),
    }
  },
  format: (v) => `${v.address} preferred ${seconds.format(v.preferredLifetime)} valid ${seconds.format(v.validLifetime)}`,
  nested: (v) => v.options,
}

const iaPrefix: Definition<IaPrefix> = {
  encode: (v) => {
    if (!Number.isInteger(v.prefixLength) || v.prefixLength < 0 || v.prefixLength > 128) throw new ArgumentError('prefixLength', `0..128, got ${v.prefixLength}`)
    const preferred = u32(v.preferredLifetime, 'preferredLifetime')
    const valid = u32(v.validLifetime, 'validLifetime')
    const prefix = ipv6(v.prefix, 'prefix')
    const b = v.options ? v.options.encodeAfter(25) : Buffer.allocUnsafe(25)
    b.writeUInt32BE(preferred, 0)
    b.writeUInt32BE(valid, 4)
    b[8] = v.prefixLength
    prefix.copy(b, 9)
    return b
  },
  write: (v, w) => {
    if (!Number.isInteger(v.prefixLength) || v.prefixLength < 0 || v.prefixLength > 128) throw new ArgumentError('prefixLength', `0..128, got ${v.prefixLength}`)
    const preferred = u32(v.preferredLifetime, 'preferredLifetime')
    const valid = u32(v.validLifetime, 'validLifetime')
    const prefix = ipv6(v.prefix, 'prefix')
    w.u32(preferred)
    w.u32(valid)
    w.u8(v.prefixLength)
    w.bytes(prefix)
    v.options?.writeTo(w)
  },
  decode: (d, c, depth) => {
    if (d.length < 25) badLength(c, `IA Prefix needs at least 25 bytes, has ${d.length}`)
    const prefixLength = d[8]!
    if (prefixLength > 128) throw new Dhcp6DecodeError('bad-option-value', `prefix length ${prefixLength}`, c)
    return {
      preferredLifetime: d.readUInt32BE(0),
      validLifetime: d.readUInt32BE(4),
      prefixLength,
      prefix: formatIpv6(d.subarray(9, 25)),
      options: Dhcp6Options.decode(d.subarray(25), depth),
    }
  },
  format: (v) => `${v.prefix}/${v.prefixLength} preferred ${seconds.format(v.preferredLifetime)} valid ${seconds.format(v.validLifetime)}`,
  nested: (v) => v.options,
}

const relayMessage: Definition<AnyDhcp6Message> = {
  encode: (v) => v.encode(),
  write: (v, w) => v.writeTo(w),
  decode: (d, _c, depth) => decodeMessage(d, depth),
  format: (v) => v.summary(),
  nested: (v) => v.options,
}

const domains: Definition<string[]> = {
  encode: (v) => Buffer.concat(v.map(encodeName)),
  decode: (d, c) => decodeNames(d, c),
  format: (v) => v.join(', '),
}

const linkLayer: Definition<ClientLinkLayerAddress> = {
  encode: (v) => {
    const ll = v.address === '' ? Buffer.alloc(0) : Buffer.from(v.address.split(':').map((x) => parseInt(x, 16)))
    if (ll.some((x) => Number.isNaN(x)) || (v.address !== '' && !/^[0-9a-fA-F]{1,2}(:[0-9a-fA-F]{1,2})*$/.test(v.address))) throw new ArgumentError('address', `expected colon-separated hex, got ${v.address}`)
    return Buffer.concat([Buffer.from([v.hardwareType >> 8, v.hardwareType & 0xff]), ll])
  },
  decode: (d, c) => {
    if (d.length < 2) badLength(c, `needs at least 2 bytes, has ${d.length}`)
    return { hardwareType: d.readUInt16BE(0), address: colonHex(d.subarray(2)) }
  },
  format: (v) => `hw ${v.hardwareType} ${v.address}`,
}

export const DEFINITIONS: { [C in KnownCode]: Definition<OptionTypes[C]> & { label: string } } = {
  1: { ...duid, label: 'client-id' },
  2: { ...duid, label: 'server-id' },
  3: { ...iaWithTimes('IA_NA'), label: 'ia-na' },
  4: { ...iaTa, label: 'ia-ta' },
  5: { ...iaAddress, label: 'ia-addr' },
  6: { ...codes, label: 'oro' },
  7: { ...uint(1), label: 'preference' },
  8: { ...uint(2), format: (v) => `${v / 100}s`, label: 'elapsed-time' },
  9: { ...relayMessage, label: 'relay-msg' },
  12: { ...address, label: 'unicast' },
  13: { ...status, label: 'status-code' },
  14: { ...flag, label: 'rapid-commit' },
  18: { ...bytes, label: 'interface-id' },
  19: { ...uint(1), label: 'reconf-msg' },
  20: { ...flag, label: 'reconf-accept' },
  23: { ...addresses, label: 'dns-servers' },
  24: { ...domains, label: 'domain-list' },
  25: { ...iaWithTimes('IA_PD'), label: 'ia-pd' },
  26: { ...iaPrefix, label: 'ia-prefix' },
  32: { ...seconds, label: 'information-refresh-time' },
  79: { ...linkLayer, label: 'client-linklayer-addr' },
  82: { ...seconds, label: 'sol-max-rt' },
  83: { ...seconds, label: 'inf-max-rt' },
}

export const OPTION_NAMES: Record<number, string> = Object.fromEntries(Object.entries(DEFINITIONS).map(([c, d]) => [Number(c), d.label]))

/** The definitions by code, for the codec's loops (undefined for a code without one). */
export const DEFINITION_OF: Array<Definition<unknown> | undefined> = []
for (const [code, def] of Object.entries(DEFINITIONS)) DEFINITION_OF[Number(code)] = def as Definition<unknown>

export function isKnown(code: number): code is KnownCode {
  return Object.prototype.hasOwnProperty.call(DEFINITIONS, code)
}
