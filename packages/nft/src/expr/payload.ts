// payload: loads bytes at an offset of a protocol header into a register.
import type { AttributeWriter } from '@lab/netlink-native'
import { NFT_REG_1 } from '../constants.js'
import { registerDecoder, type Expression } from './expression.js'

const A = { DREG: 1, BASE: 2, OFFSET: 3, LEN: 4 } as const
export const PAYLOAD_BASES = { ll: 0, network: 1, transport: 2 } as const
export type PayloadBase = keyof typeof PAYLOAD_BASES

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
}

registerDecoder('payload', (a) => {
  const baseValue = a.be32(A.BASE) ?? 0
  const base = (Object.keys(PAYLOAD_BASES) as PayloadBase[]).find((k) => PAYLOAD_BASES[k] === baseValue) ?? 'network'
  return new Payload(base, a.be32(A.OFFSET) ?? 0, a.be32(A.LEN) ?? 0, a.be32(A.DREG) ?? NFT_REG_1)
})
