// range: the register lies (or does not lie) between two constants (`tcp dport 1024-2048`).
import type { AttributeWriter } from '@lab/netlink-native'
import { NFT_REG_1 } from '../constants.js'
import { readData, writeValue } from './data.js'
import { registerDecoder, type Expression } from './expression.js'

const A = { SREG: 1, OP: 2, FROM: 3, TO: 4 } as const

export class Range implements Expression {
  readonly kind = 'range'
  constructor(
    readonly from: Buffer,
    readonly to: Buffer,
    readonly invert = false,
    readonly register = NFT_REG_1,
  ) {}

  encode(w: AttributeWriter): void {
    w.be32(A.SREG, this.register)
    w.be32(A.OP, this.invert ? 1 : 0)
    writeValue(w, A.FROM, this.from)
    writeValue(w, A.TO, this.to)
  }
}

registerDecoder('range', (a) => new Range(readData(a.nested(A.FROM)).value ?? Buffer.alloc(0), readData(a.nested(A.TO)).value ?? Buffer.alloc(0), a.be32(A.OP) === 1, a.be32(A.SREG) ?? NFT_REG_1))
