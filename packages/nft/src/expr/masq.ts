// masq: source NAT to the address of the outgoing interface; optional port range in registers.
// redir: destination NAT to the local machine (`redirect to :port`).
import type { AttributeWriter } from '@lab/netlink-native'
import { registerDecoder, type Expression } from './expression.js'
import type { RuleText } from './rule-text.js'

const A = { FLAGS: 1, REG_PROTO_MIN: 2, REG_PROTO_MAX: 3 } as const

class PortNat implements Expression {
  constructor(
    readonly kind: 'masq' | 'redir',
    readonly protoMin?: number,
    readonly protoMax?: number,
    readonly flags = 0,
  ) {}

  encode(w: AttributeWriter): void {
    if (this.flags) w.be32(A.FLAGS, this.flags)
    if (this.protoMin !== undefined) w.be32(A.REG_PROTO_MIN, this.protoMin)
    if (this.protoMax !== undefined) w.be32(A.REG_PROTO_MAX, this.protoMax)
  }

  /** `masquerade`, `masquerade to :1024-65535`, `redirect to :80`: ports from the registers' constants. */
  render(r: RuleText): void {
    const word = this.kind === 'masq' ? 'masquerade' : 'redirect'
    const min = r.constant(this.protoMin)
    const max = r.constant(this.protoMax)
    if (this.protoMin !== undefined && !min) return r.emit(this.toString())
    if (!min) r.emit(word)
    else if (max && !max.equals(min)) r.emit(`${word} to :${min.readUInt16BE(0)}-${max.readUInt16BE(0)}`)
    else r.emit(`${word} to :${min.readUInt16BE(0)}`)
  }

  toString(): string {
    const parts: string[] = [this.kind]
    if (this.protoMin !== undefined) parts.push(`proto_min reg ${this.protoMin}`)
    if (this.protoMax !== undefined) parts.push(`proto_max reg ${this.protoMax}`)
    if (this.flags) parts.push(`flags 0x${this.flags.toString(16)}`)
    return `[ ${parts.join(' ')} ]`
  }
}

export class Masquerade extends PortNat {
  constructor(protoMin?: number, protoMax?: number, flags = 0) {
    super('masq', protoMin, protoMax, flags)
  }
}

export class Redirect extends PortNat {
  constructor(protoMin?: number, protoMax?: number, flags = 0) {
    super('redir', protoMin, protoMax, flags)
  }
}

registerDecoder('masq', (a) => new Masquerade(a.be32(A.REG_PROTO_MIN), a.be32(A.REG_PROTO_MAX), a.be32(A.FLAGS) ?? 0))
registerDecoder('redir', (a) => new Redirect(a.be32(A.REG_PROTO_MIN), a.be32(A.REG_PROTO_MAX), a.be32(A.FLAGS) ?? 0))
