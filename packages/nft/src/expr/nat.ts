// nat: source or destination NAT to the address (and port) range held in registers; the registers
// are loaded by immediates placed before it, as `nft` does.
import type { AttributeWriter } from '@lab/netlink-native'
import { FAMILIES } from '../constants.js'
import { registerDecoder, type Expression } from './expression.js'

const A = { TYPE: 1, FAMILY: 2, REG_ADDR_MIN: 3, REG_ADDR_MAX: 4, REG_PROTO_MIN: 5, REG_PROTO_MAX: 6, FLAGS: 7 } as const
export const NAT_TYPES = { snat: 0, dnat: 1 } as const
export const NAT_FLAGS = { random: 0x4, persistent: 0x8, fullyRandom: 0x10 } as const

export interface NatRegisters {
  addrMin?: number
  addrMax?: number
  protoMin?: number
  protoMax?: number
}

export class Nat implements Expression {
  readonly kind = 'nat'
  constructor(
    readonly type: keyof typeof NAT_TYPES,
    readonly family: 'ip' | 'ip6',
    readonly registers: NatRegisters,
    readonly flags = 0,
  ) {}

  encode(w: AttributeWriter): void {
    w.be32(A.TYPE, NAT_TYPES[this.type])
    w.be32(A.FAMILY, FAMILIES[this.family])
    const r = this.registers
    if (r.addrMin !== undefined) w.be32(A.REG_ADDR_MIN, r.addrMin)
    if (r.addrMax !== undefined) w.be32(A.REG_ADDR_MAX, r.addrMax)
    if (r.protoMin !== undefined) w.be32(A.REG_PROTO_MIN, r.protoMin)
    if (r.protoMax !== undefined) w.be32(A.REG_PROTO_MAX, r.protoMax)
    if (this.flags) w.be32(A.FLAGS, this.flags)
  }
}

registerDecoder('nat', (a) => {
  const registers: NatRegisters = {}
  const set = (key: keyof NatRegisters, t: number) => {
    const v = a.be32(t)
    if (v !== undefined) registers[key] = v
  }
  set('addrMin', A.REG_ADDR_MIN)
  set('addrMax', A.REG_ADDR_MAX)
  set('protoMin', A.REG_PROTO_MIN)
  set('protoMax', A.REG_PROTO_MAX)
  return new Nat(a.be32(A.TYPE) === 1 ? 'dnat' : 'snat', a.be32(A.FAMILY) === FAMILIES.ip6 ? 'ip6' : 'ip', registers, a.be32(A.FLAGS) ?? 0)
})
