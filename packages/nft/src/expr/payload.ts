// payload: loads bytes at an offset of a protocol header into a register.
import { formatIp, formatMac, type AttributeWriter } from '@lab/netlink-native'
import { NFT_REG_1 } from '../constants.js'
import { registerDecoder, type Expression } from './expression.js'
import { l4Name } from './protocols.js'
import { maskedField, type Field, type RuleText } from './rule-text.js'

const A = { DREG: 1, BASE: 2, OFFSET: 3, LEN: 4 } as const
export const PAYLOAD_BASES = { ll: 0, network: 1, transport: 2 } as const
export type PayloadBase = keyof typeof PAYLOAD_BASES
const BASE_NAMES: Record<PayloadBase, string> = { ll: 'link layer', network: 'network header', transport: 'transport header' }
const RAW_BASES: Record<PayloadBase, string> = { ll: 'll', network: 'nh', transport: 'th' }

/** Header fields by the names nft uses. */
export const FIELDS = {
  'ip saddr': { base: 'network', offset: 12, len: 4 },
  'ip daddr': { base: 'network', offset: 16, len: 4 },
  'ip protocol': { base: 'network', offset: 9, len: 1 },
  'ip6 saddr': { base: 'network', offset: 8, len: 16 },
  'ip6 daddr': { base: 'network', offset: 24, len: 16 },
  'ip6 nexthdr': { base: 'network', offset: 6, len: 1 },
  'tcp sport': { base: 'transport', offset: 0, len: 2 },
  'tcp dport': { base: 'transport', offset: 2, len: 2 },
  'udp sport': { base: 'transport', offset: 0, len: 2 },
  'udp dport': { base: 'transport', offset: 2, len: 2 },
  'th sport': { base: 'transport', offset: 0, len: 2 },
  'th dport': { base: 'transport', offset: 2, len: 2 },
  'ether saddr': { base: 'll', offset: 6, len: 6 },
  'ether daddr': { base: 'll', offset: 0, len: 6 },
  'ether type': { base: 'll', offset: 12, len: 2 },
} as const satisfies Record<string, { base: PayloadBase; offset: number; len: number }>
export type FieldName = keyof typeof FIELDS

/** A header field's value as nft prints it. */
export function fieldValue(name: string, data: Buffer): string {
  if (name.endsWith('saddr') || name.endsWith('daddr')) return name.startsWith('ether') ? formatMac(data) : formatIp(data)
  if (name.endsWith('sport') || name.endsWith('dport') || name === 'ether type') return String(data.readUInt16BE(0))
  if (name === 'ip protocol' || name === 'ip6 nexthdr') return l4Name(data[0]!)
  return `0x${data.toString('hex')}`
}

/** The length of a contiguous prefix mask, or undefined when the mask is not one. */
function prefixLength(mask: Buffer): number | undefined {
  let bits = 0
  let ended = false
  for (const byte of mask) {
    for (let b = 7; b >= 0; b--) {
      const set = (byte >> b) & 1
      if (set && ended) return undefined
      if (set) bits++
      else ended = true
    }
  }
  return bits
}

function namedField(name: string): Field {
  const proto = name.split(' ')[0]!
  const needs = proto === 'tcp' || proto === 'udp' || proto === 'ip' || proto === 'ip6' ? proto : undefined
  const field: Field = {
    name,
    value: (data) => fieldValue(name, data),
    ...(needs ? { needs } : {}),
    masked: (mask, xor) => {
      const length = prefixLength(mask)
      const address = (proto === 'ip' || proto === 'ip6') && (name.endsWith('saddr') || name.endsWith('daddr'))
      // An address under a prefix mask is nft's `ip saddr 10.0.0.0/8`.
      if (address && length !== undefined && xor.every((b) => b === 0)) return { ...field, value: (data) => `${formatIp(data)}/${length}`, masked: undefined }
      return maskedField(field, mask, xor)
    },
  }
  return field
}

export class Payload implements Expression {
  readonly kind = 'payload'
  constructor(
    readonly base: PayloadBase,
    readonly offset: number,
    readonly len: number,
    readonly register = NFT_REG_1,
  ) {}

  static field(name: FieldName, register = NFT_REG_1): Payload {
    const f = FIELDS[name]
    return new Payload(f.base, f.offset, f.len, register)
  }

  encode(w: AttributeWriter): void {
    w.be32(A.DREG, this.register)
    w.be32(A.BASE, PAYLOAD_BASES[this.base])
    w.be32(A.OFFSET, this.offset)
    w.be32(A.LEN, this.len)
  }

  /** The field nft names it by; tcp and udp ports share offsets, so the protocol matched before decides. */
  fieldName(l4: string | undefined): string | undefined {
    for (const [name, f] of Object.entries(FIELDS)) {
      if (f.base !== this.base || f.offset !== this.offset || f.len !== this.len) continue
      if (this.base === 'transport') return `${l4 === 'tcp' || l4 === 'udp' ? l4 : 'th'} ${name.split(' ')[1]}`
      return name
    }
    return undefined
  }

  /**
   * The address field this load is the first bytes of (nft loads only the prefix's bytes for a
   * byte-aligned prefix: `ip saddr 10.0.0.0/8` is 1 byte at network header + 12).
   */
  prefixOf(): 'ip saddr' | 'ip daddr' | 'ip6 saddr' | 'ip6 daddr' | undefined {
    if (this.base !== 'network') return undefined
    for (const name of ['ip saddr', 'ip daddr', 'ip6 saddr', 'ip6 daddr'] as const) {
      const f = FIELDS[name]
      if (f.offset === this.offset && this.len > 0 && this.len < f.len) return name
    }
    return undefined
  }

  render(r: RuleText): void {
    const name = this.fieldName(r.l4)
    if (name === undefined) {
      const address = this.prefixOf()
      if (address !== undefined) {
        const full = FIELDS[address].len
        const bits = this.len * 8
        // Compared with the prefix's bytes: printed as the address with the rest zero, `/bits`.
        const field = namedField(address)
        r.load(this.register, { ...field, value: (data) => `${formatIp(Buffer.concat([data, Buffer.alloc(full - data.length)]))}/${bits}`, masked: undefined })
        return
      }
    }
    // A field nft has no name for: its raw form, `@nh,96,32`.
    r.load(this.register, namedField(name ?? `@${RAW_BASES[this.base]},${this.offset * 8},${this.len * 8}`))
  }

  toString(): string {
    return `[ payload load ${this.len}b @ ${BASE_NAMES[this.base]} + ${this.offset} => reg ${this.register} ]`
  }
}

registerDecoder('payload', (a) => {
  const baseValue = a.be32(A.BASE) ?? 0
  const base = (Object.keys(PAYLOAD_BASES) as PayloadBase[]).find((k) => PAYLOAD_BASES[k] === baseValue) ?? 'network'
  return new Payload(base, a.be32(A.OFFSET) ?? 0, a.be32(A.LEN) ?? 0, a.be32(A.DREG) ?? NFT_REG_1)
})
