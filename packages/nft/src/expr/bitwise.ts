// bitwise: reg = (reg & mask) ^ xor; with xor 0 this is the prefix match `ip saddr 10.0.0.0/8`.
import type { AttributeWriter } from '@lab/netlink-native'
import { NFT_REG_1 } from '../constants.js'
import { readData, writeValue } from './data.js'
import { registerDecoder, type Expression } from './expression.js'
import { hexWords, maskedField, type RuleText } from './rule-text.js'

const A = { SREG: 1, DREG: 2, LEN: 3, MASK: 4, XOR: 5 } as const

export class Bitwise implements Expression {
  readonly kind = 'bitwise'
  constructor(
    readonly mask: Buffer,
    readonly xor: Buffer = Buffer.alloc(mask.length),
    readonly sourceRegister = NFT_REG_1,
    readonly destRegister = NFT_REG_1,
  ) {}

  /** The mask of a prefix length over `bytes` bytes. */
  static prefix(length: number, bytes: number): Bitwise {
    const mask = Buffer.alloc(bytes)
    for (let bit = 0; bit < length; bit++) mask[bit >> 3]! |= 0x80 >> (bit & 7)
    return new Bitwise(mask)
  }

  encode(w: AttributeWriter): void {
    w.be32(A.SREG, this.sourceRegister)
    w.be32(A.DREG, this.destRegister)
    w.be32(A.LEN, this.mask.length)
    writeValue(w, A.MASK, this.mask)
    writeValue(w, A.XOR, this.xor)
  }

  /** Masks the field in the register: the comparison that follows prints it (as a prefix, ct state bits, or `& mask`). */
  render(r: RuleText): void {
    const field = r.field(this.sourceRegister)
    if (!field) return r.emit(this.toString())
    r.load(this.destRegister, field.masked?.(this.mask, this.xor) ?? maskedField(field, this.mask, this.xor))
  }

  toString(): string {
    return `[ bitwise reg ${this.destRegister} = ( reg ${this.sourceRegister} & ${hexWords(this.mask)} ) ^ ${hexWords(this.xor)} ]`
  }
}

registerDecoder('bitwise', (a) => {
  const mask = readData(a.nested(A.MASK)).value ?? Buffer.alloc(0)
  return new Bitwise(mask, readData(a.nested(A.XOR)).value ?? Buffer.alloc(mask.length), a.be32(A.SREG) ?? NFT_REG_1, a.be32(A.DREG) ?? NFT_REG_1)
})
