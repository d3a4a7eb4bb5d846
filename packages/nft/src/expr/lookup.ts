// lookup: set membership of a register (`ip saddr @allowed`), or a map lookup into a register.
import type { AttributeWriter } from '@lab/netlink-native'
import { NFT_REG_1 } from '../constants.js'
import { NFT_REG_VERDICT } from '../constants.js'
import { registerDecoder, type Expression } from './expression.js'
import type { RuleText } from './rule-text.js'

const A = { SET: 1, SREG: 2, DREG: 3, SET_ID: 4, FLAGS: 5 } as const
const NFT_LOOKUP_F_INV = 0x1

export class Lookup implements Expression {
  readonly kind = 'lookup'
  constructor(
    readonly set: string,
    readonly register = NFT_REG_1,
    readonly invert = false,
    /** For a set created in the same transaction, the id it was given there. */
    readonly setId?: number,
    readonly destRegister?: number,
  ) {}

  encode(w: AttributeWriter): void {
    this.encodeWith(w, this.setId)
  }

  /** As encode(), naming the set by another id: the one a transaction gave an inline set. */
  encodeWith(w: AttributeWriter, setId: number | undefined): void {
    w.str(A.SET, this.set)
    if (setId !== undefined) w.be32(A.SET_ID, setId)
    w.be32(A.SREG, this.register)
    if (this.destRegister !== undefined) w.be32(A.DREG, this.destRegister)
    if (this.invert) w.be32(A.FLAGS, NFT_LOOKUP_F_INV)
  }

  /** `ip saddr @set`, `tcp dport vmap @map`, or a data map whose value feeds the next expression. */
  render(r: RuleText): void {
    const field = r.field(this.register)
    if (!field) return r.emit(this.toString())
    const set = r.setText(this.set, this.setId)
    if (this.destRegister === NFT_REG_VERDICT) return r.emit(`${field.name} vmap ${set}`, field.needs)
    // A data map: the value lands in a register, for the NAT (or other user) that follows.
    if (this.destRegister !== undefined) return r.set(this.destRegister, { kind: 'mapped', text: `${field.name} map ${set}`, ...(field.needs ? { needs: field.needs } : {}) })
    r.emit(`${field.name} ${this.invert ? '!= ' : ''}${set}`, field.needs)
  }

  toString(): string {
    const dreg = this.destRegister !== undefined ? ` dreg ${this.destRegister}` : ''
    return `[ lookup reg ${this.register} set ${this.set}${dreg}${this.invert ? ' 0x1' : ''} ]`
  }
}

registerDecoder('lookup', (a) => new Lookup(a.str(A.SET) ?? '', a.be32(A.SREG) ?? NFT_REG_1, ((a.be32(A.FLAGS) ?? 0) & NFT_LOOKUP_F_INV) !== 0, undefined, a.be32(A.DREG)))
