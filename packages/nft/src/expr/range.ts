// range: the register lies (or does not lie) between two constants (`tcp dport 1024-2048`).
import type { AttributeWriter } from '@lab/netlink-native'
import { NFT_REG_1 } from '../constants.js'
import { readData, writeValue } from './data.js'
import { registerDecoder, type Expression } from './expression.js'
import { hexWords, type RuleText } from './rule-text.js'

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

  /** `tcp dport 1024-2048`, `tcp dport != 1024-2048` */
  render(r: RuleText): void {
    const field = r.field(this.register)
    if (!field) return r.emit(this.toString())
    r.emit(`${field.name} ${this.invert ? '!= ' : ''}${field.value(this.from)}-${field.value(this.to)}`, field.needs)
  }

  toString(): string {
    return `[ range ${this.invert ? 'neq' : 'eq'} reg ${this.register} ${hexWords(this.from)} ${hexWords(this.to)} ]`
  }
}

registerDecoder('range', (a) => new Range(readData(a.nested(A.FROM)).value ?? Buffer.alloc(0), readData(a.nested(A.TO)).value ?? Buffer.alloc(0), a.be32(A.OP) === 1, a.be32(A.SREG) ?? NFT_REG_1))
