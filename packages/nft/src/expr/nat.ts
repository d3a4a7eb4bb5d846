// nat: source or destination NAT to the address (and port) range held in registers; the registers
// are loaded by immediates placed before it, as `nft` does.
import { formatIp, type AttributeWriter } from '@lab/netlink-native'
import { FAMILIES } from '../constants.js'
import { registerDecoder, type Expression } from './expression.js'
import type { RuleText } from './rule-text.js'

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

  /** `snat to 10.0.0.1-10.0.0.9:1024-2048`, `dnat to tcp dport map @backends`, from the registers' constants or map. */
  render(r: RuleText): void {
    const reg = this.registers
    const min = reg.addrMin !== undefined ? r.register(reg.addrMin) : undefined
    // The kernel reports the max register as the min one when no range was given.
    const addrMax = reg.addrMax !== reg.addrMin ? r.constant(reg.addrMax) : undefined
    const port = r.constant(reg.protoMin)
    const portMax = reg.protoMax !== reg.protoMin ? r.constant(reg.protoMax) : undefined
    let address = ''
    if (min?.kind === 'mapped') address = min.text
    else if (min?.kind === 'constant') address = formatIp(min.data) + (addrMax ? `-${formatIp(addrMax)}` : '')
    else if (min !== undefined || (reg.protoMin !== undefined && !port)) return r.emit(this.toString())
    const ports = port ? `:${port.readUInt16BE(0)}${portMax && !portMax.equals(port) ? `-${portMax.readUInt16BE(0)}` : ''}` : ''
    // Outside ip and ip6 tables nft names the address family: `snat ip to ...`.
    const spelled = r.family === 'inet' || r.family === 'bridge' || r.family === 'netdev' ? ` ${this.family}` : ''
    r.emit(`${this.type}${spelled} to ${address}${ports}`, min?.kind === 'mapped' ? min.needs : undefined)
  }

  toString(): string {
    const reg = this.registers
    const parts = [`nat ${this.type} ${this.family}`]
    if (reg.addrMin !== undefined) parts.push(`addr_min reg ${reg.addrMin}`)
    if (reg.addrMax !== undefined) parts.push(`addr_max reg ${reg.addrMax}`)
    if (reg.protoMin !== undefined) parts.push(`proto_min reg ${reg.protoMin}`)
    if (reg.protoMax !== undefined) parts.push(`proto_max reg ${reg.protoMax}`)
    if (this.flags) parts.push(`flags 0x${this.flags.toString(16)}`)
    return `[ ${parts.join(' ')} ]`
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
