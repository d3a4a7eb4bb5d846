// immediate: puts a constant into a register, or a verdict into the verdict register
// (accept, drop, jump CHAIN, ...).
import type { AttributeWriter } from '@lab/netlink-native'
import { NFT_REG_VERDICT, type VerdictName } from '../constants.js'
import { readData, writeValue, writeVerdict, type Verdict } from './data.js'
import { registerDecoder, type Expression } from './expression.js'
import { hexWords, type RuleText } from './rule-text.js'

const A = { DREG: 1, DATA: 2 } as const

export class Immediate implements Expression {
  readonly kind = 'immediate'
  constructor(
    readonly register: number,
    readonly value?: Buffer,
    readonly verdict?: Verdict,
  ) {}

  static verdict(verdict: VerdictName, chain?: string): Immediate {
    return new Immediate(NFT_REG_VERDICT, undefined, chain !== undefined ? { verdict, chain } : { verdict })
  }

  static value(register: number, value: Buffer): Immediate {
    return new Immediate(register, value)
  }

  encode(w: AttributeWriter): void {
    w.be32(A.DREG, this.register)
    if (this.verdict) writeVerdict(w, A.DATA, this.verdict)
    else writeValue(w, A.DATA, this.value ?? Buffer.alloc(0))
  }

  /** A verdict prints (`accept`, `jump sub`); a constant waits in its register for the NAT that uses it. */
  render(r: RuleText): void {
    if (this.verdict) return r.emit(this.verdict.chain !== undefined ? `${this.verdict.verdict} ${this.verdict.chain}` : this.verdict.verdict)
    r.set(this.register, { kind: 'constant', data: this.value ?? Buffer.alloc(0) })
  }

  toString(): string {
    if (this.verdict) return `[ immediate reg ${this.register} ${this.verdict.verdict}${this.verdict.chain !== undefined ? ` -> ${this.verdict.chain}` : ''} ]`
    return `[ immediate reg ${this.register} ${hexWords(this.value ?? Buffer.alloc(0))} ]`
  }
}

registerDecoder('immediate', (a) => {
  const data = readData(a.nested(A.DATA))
  return new Immediate(a.be32(A.DREG) ?? 0, data.value, data.verdict)
})
