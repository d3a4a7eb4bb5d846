// cmp: compares a register with a constant; the rule stops here when it does not hold.
import type { AttributeWriter } from '@lab/netlink-native'
import { NFT_REG_1 } from '../constants.js'
import { readData, writeValue } from './data.js'
import { registerDecoder, type Expression } from './expression.js'
import { hexWords, opText, type RuleText } from './rule-text.js'

const A = { SREG: 1, OP: 2, DATA: 3 } as const
export const CMP_OPS = { '==': 0, '!=': 1, '<': 2, '<=': 3, '>': 4, '>=': 5 } as const
export type CmpOp = keyof typeof CMP_OPS
const DEBUG_OPS: Record<CmpOp, string> = { '==': 'eq', '!=': 'neq', '<': 'lt', '<=': 'lte', '>': 'gt', '>=': 'gte' }

export class Cmp implements Expression {
  readonly kind = 'cmp'
  constructor(
    readonly op: CmpOp,
    readonly data: Buffer,
    readonly register = NFT_REG_1,
  ) {}

  encode(w: AttributeWriter): void {
    w.be32(A.SREG, this.register)
    w.be32(A.OP, CMP_OPS[this.op])
    writeValue(w, A.DATA, this.data)
  }

  /** The statement: the register's field, the operator, the constant (`ip saddr != 10.0.0.1`). */
  render(r: RuleText): void {
    const field = r.field(this.register)
    if (!field) return r.emit(this.toString())
    if (field.compare) return r.emit(field.compare(this.op, this.data), field.needs)
    const text = `${field.name} ${field.explicitOp ? `${this.op} ` : opText(this.op)}${field.value(this.data)}`
    const provided = this.op === '==' ? field.provides?.(this.data) : undefined
    if (provided !== undefined) r.emitDependency(text, provided)
    else r.emit(text, field.needs)
  }

  toString(): string {
    return `[ cmp ${DEBUG_OPS[this.op]} reg ${this.register} ${hexWords(this.data)} ]`
  }
}

registerDecoder('cmp', (a) => {
  const opValue = a.be32(A.OP) ?? 0
  const op = (Object.keys(CMP_OPS) as CmpOp[]).find((k) => CMP_OPS[k] === opValue) ?? '=='
  return new Cmp(op, readData(a.nested(A.DATA)).value ?? Buffer.alloc(0), a.be32(A.SREG) ?? NFT_REG_1)
})
