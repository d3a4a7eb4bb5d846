// The option definitions: per code, how its value is encoded, decoded and printed. Codes and
// layouts are RFC 8415 section 21 unless another RFC is named.
import { ArgumentError } from '@lab/netlink-native'
import { decodeDuid, formatDuid, colonHex, writeDuid, type Duid } from './duid.js'
import { Dhcp6DecodeError } from './errors.js'
import { formatIpv6, ipv6 } from './address.js'
import type { IaAddress, IaNa, IaPd, IaPrefix, IaTa } from './ia.js'
import { decodeMessage, type AnyDhcp6Message } from './message.js'
import { decodeNames, encodeName } from './names.js'
import { Dhcp6Options, Writer } from './options.js'
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

/** How one option's value is written, read and printed; `define()` adds encode(). */
interface Layout<T> {
  /** Writes the encoded value at the writer's end (throws ArgumentError for a value it cannot carry). */
  write(value: T, w: Writer): void
  decode(data: Buffer, code: number, depth: number): T
  format(value: T): string
  /** Options inside the value, printed indented below it. */
  nested?(value: T): Dhcp6Options | undefined
}

export interface Definition<T> extends Layout<T> {
  /** The value's encoded bytes on their own: what write() writes, in a buffer of its own. */
  encode(value: T): Buffer
}

/** A definition from its layout: encode() is write() into a writer of its own (one writer, one rule). */
function define<T>(layout: Layout<T>): Definition<T> {
  return {
    ...layout,
    encode: (value) => {
      const w = Writer.acquire()
      try {
        layout.write(value, w)
        return w.take()
      } finally {
        Writer.release(w)
      }
    },
  }
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

const uint = (bytes: 1 | 2 | 4): Layout<number> => ({
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

const seconds: Layout<number> = { ...uint(4), format: (v) => (v === 0xffffffff ? 'infinity' : `${v}s`) }

const duid: Layout<Duid> = {
  write: writeDuid,
  decode: (d, c) => decodeDuid(d, c),
  format: formatDuid,
}

const flag: Layout<true> = {
  write: () => undefined,
  decode: (d, c) => {
    exactly(d, 0, c)
    return true
  },
  format: () => 'yes',
}

const address: Layout<string> = {
  write: (v, w) => w.bytes(ipv6(v, 'address')),
  decode: (d, c) => {
    exactly(d, 16, c)
    return formatIpv6(d)
  },
  format: (v) => v,
}

const addresses: Layout<string[]> = {
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

const bytes: Layout<Buffer> = {
  write: (v, w) => w.bytes(v),
  decode: (d) => Buffer.from(d),
  format: (v) => v.toString('hex'),
}

/** ORO: a list of 2-byte option codes. */
const codes: Layout<number[]> = {
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

const status: Layout<StatusCode> = {
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

function iaWithTimes(name: string): Layout<IaNa> {
  return {
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

const iaTa: Layout<IaTa> = {
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

const iaAddress: Layout<IaAddress> = {
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

const iaPrefix: Layout<IaPrefix> = {
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

const relayMessage: Layout<AnyDhcp6Message> = {
  write: (v, w) => v.writeTo(w),
  decode: (d, _c, depth) => decodeMessage(d, depth),
  format: (v) => v.summary(),
  nested: (v) => v.options,
}

const domains: Layout<string[]> = {
  write: (v, w) => {
    for (let i = 0; i < v.length; i++) w.bytes(encodeName(v[i]!))
  },
  decode: (d, c) => decodeNames(d, c),
  format: (v) => v.join(', '),
}

const linkLayer: Layout<ClientLinkLayerAddress> = {
  write: (v, w) => {
    if (v.address !== '' && !/^[0-9a-fA-F]{1,2}(:[0-9a-fA-F]{1,2})*$/.test(v.address)) throw new ArgumentError('address', `expected colon-separated hex, got ${v.address}`)
    w.u8((v.hardwareType >> 8) & 0xff)
    w.u8(v.hardwareType & 0xff)
    if (v.address !== '') for (const x of v.address.split(':')) w.u8(parseInt(x, 16))
  },
  decode: (d, c) => {
    if (d.length < 2) badLength(c, `needs at least 2 bytes, has ${d.length}`)
    return { hardwareType: d.readUInt16BE(0), address: colonHex(d.subarray(2)) }
  },
  format: (v) => `hw ${v.hardwareType} ${v.address}`,
}

export const DEFINITIONS: { [C in KnownCode]: Definition<OptionTypes[C]> & { label: string } } = {
  1: { ...define(duid), label: 'client-id' },
  2: { ...define(duid), label: 'server-id' },
  3: { ...define(iaWithTimes('IA_NA')), label: 'ia-na' },
  4: { ...define(iaTa), label: 'ia-ta' },
  5: { ...define(iaAddress), label: 'ia-addr' },
  6: { ...define(codes), label: 'oro' },
  7: { ...define(uint(1)), label: 'preference' },
  8: { ...define(uint(2)), format: (v) => `${v / 100}s`, label: 'elapsed-time' },
  9: { ...define(relayMessage), label: 'relay-msg' },
  12: { ...define(address), label: 'unicast' },
  13: { ...define(status), label: 'status-code' },
  14: { ...define(flag), label: 'rapid-commit' },
  18: { ...define(bytes), label: 'interface-id' },
  19: { ...define(uint(1)), label: 'reconf-msg' },
  20: { ...define(flag), label: 'reconf-accept' },
  23: { ...define(addresses), label: 'dns-servers' },
  24: { ...define(domains), label: 'domain-list' },
  25: { ...define(iaWithTimes('IA_PD')), label: 'ia-pd' },
  26: { ...define(iaPrefix), label: 'ia-prefix' },
  32: { ...define(seconds), label: 'information-refresh-time' },
  79: { ...define(linkLayer), label: 'client-linklayer-addr' },
  82: { ...define(seconds), label: 'sol-max-rt' },
  83: { ...define(seconds), label: 'inf-max-rt' },
}

export const OPTION_NAMES: Record<number, string> = Object.fromEntries(Object.entries(DEFINITIONS).map(([c, d]) => [Number(c), d.label]))

/** The definitions by code, for the codec's loops (undefined for a code without one). */
export const DEFINITION_OF: Array<Definition<unknown> | undefined> = []
for (const [code, def] of Object.entries(DEFINITIONS)) DEFINITION_OF[Number(code)] = def as Definition<unknown>

export function isKnown(code: number): code is KnownCode {
  return Object.prototype.hasOwnProperty.call(DEFINITIONS, code)
}
