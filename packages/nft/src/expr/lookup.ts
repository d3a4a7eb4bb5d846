// lookup: set membership of a register (`ip saddr @allowed`), or a map lookup into a register.
import type { AttributeWriter } from '@lab/netlink-native'
import { NFT_REG_1 } from '../constants.js'
import { registerDecoder, type Expression } from './expression.js'

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
    w.str(A.SET, this.set)
    if (this.setId !== undefined) w.be32(A.SET_ID, this.setId)
    w.be32(A.SREG, this.register)
    if (this.destRegister !== undefined) w.be32(A.DREG, this.destRegister)
    if (this.invert) w.be32(A.FLAGS, NFT_LOOKUP_F_INV)
  }
}

registerDecoder('lookup', (a) => new Lookup(a.str(A.SET) ?? '', a.be32(A.SREG) ?? NFT_REG_1, ((a.be32(A.FLAGS) ?? 0) & NFT_LOOKUP_F_INV) !== 0, undefined, a.be32(A.DREG)))
