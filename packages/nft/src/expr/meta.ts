// meta: loads packet metadata (interface, mark, protocol, ...) into a register, or sets it
// from one (`meta mark set 0x10`).
import type { AttributeWriter } from '@lab/netlink-native'
import { NFT_REG_1 } from '../constants.js'
import { registerDecoder, type Expression } from './expression.js'
import { l4Name } from './protocols.js'
import { maskedField, type Field, type RuleText } from './rule-text.js'

const A = { DREG: 1, KEY: 2, SREG: 3 } as const

export const META_KEYS = {
  len: 0,
  protocol: 1,
  priority: 2,
  mark: 3,
  iif: 4,
  oif: 5,
  iifname: 6,
  oifname: 7,
  iiftype: 8,
  oiftype: 9,
  skuid: 10,
  skgid: 11,
  nftrace: 12,
  nfproto: 15,
  l4proto: 16,
  pkttype: 19,
  cpu: 20,
  iifgroup: 21,
  oifgroup: 22,
} as const
export type MetaKey = keyof typeof META_KEYS

const ETHERTYPES: Record<number, string> = { 0x0800: 'ip', 0x86dd: 'ip6', 0x0806: 'arp', 0x8100: 'vlan' }

/** A meta value as nft prints it: names in quotes, protocols by name, marks in hex. */
function metaValue(key: MetaKey, data: Buffer): string {
  if (key === 'iifname' || key === 'oifname') return JSON.stringify(data.toString('utf8').replace(/\0.*$/s, ''))
  if (key === 'l4proto') return l4Name(data[0]!)
  if (key === 'mark') return `0x${data.readUInt32LE(0).toString(16).padStart(8, '0')}`
  if (key === 'nfproto') return data[0] === 2 ? 'ipv4' : data[0] === 10 ? 'ipv6' : String(data[0])
  if (key === 'protocol' && data.length === 2) return ETHERTYPES[data.readUInt16BE(0)] ?? `0x${data.toString('hex')}`
  if (data.length === 4) return String(data.readUInt32LE(0))
  return `0x${data.toString('hex')}`
}

/** The protocol a `meta l4proto|nfproto|protocol` match stands for, when nft adds it itself. */
function provides(key: MetaKey, data: Buffer): string | undefined {
  if (key === 'l4proto' && (data[0] === 6 || data[0] === 17)) return l4Name(data[0])
  if (key === 'nfproto' && (data[0] === 2 || data[0] === 10)) return data[0] === 2 ? 'ip' : 'ip6'
  if (key === 'protocol' && data.length === 2) {
    const type = data.readUInt16BE(0)
    if (type === 0x0800 || type === 0x86dd) return ETHERTYPES[type]
  }
  return undefined
}

/** The field a meta load puts in its register; nft writes the interface keys bare. */
export function metaField(key: MetaKey): Field {
  const bare = key === 'iifname' || key === 'oifname' || key === 'iif' || key === 'oif'
  const field: Field = {
    name: bare ? key : `meta ${key}`,
    value: (data) => metaValue(key, data),
    provides: (data) => provides(key, data),
    masked: (mask, xor) => maskedField(field, mask, xor),
  }
  return field
}

export class Meta implements Expression {
  readonly kind = 'meta'
  constructor(
    readonly key: MetaKey,
    readonly register = NFT_REG_1,
    /** Set the key from this register instead of loading it (`meta mark set ...`). */
    readonly sourceRegister?: number,
  ) {}

  encode(w: AttributeWriter): void {
    w.be32(A.KEY, META_KEYS[this.key])
    if (this.sourceRegister !== undefined) w.be32(A.SREG, this.sourceRegister)
    else w.be32(A.DREG, this.register)
  }

  render(r: RuleText): void {
    if (this.sourceRegister === undefined) return r.load(this.register, metaField(this.key))
    const value = r.constant(this.sourceRegister)
    r.emit(value ? `meta ${this.key} set ${metaValue(this.key, value)}` : this.toString())
  }

  toString(): string {
    if (this.sourceRegister !== undefined) return `[ meta set ${this.key} with reg ${this.sourceRegister} ]`
    return `[ meta load ${this.key} => reg ${this.register} ]`
  }
}

registerDecoder('meta', (a) => {
  const value = a.be32(A.KEY) ?? 0
  const key = (Object.keys(META_KEYS) as MetaKey[]).find((k) => META_KEYS[k] === value) ?? ('len' as MetaKey)
  const sreg = a.be32(A.SREG)
  return new Meta(key, a.be32(A.DREG) ?? NFT_REG_1, sreg)
})
