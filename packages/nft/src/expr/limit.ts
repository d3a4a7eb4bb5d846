// limit: matches while under a rate (`limit rate 10/second burst 5 packets`).
import type { AttributeWriter } from '@lab/netlink-native'
import { registerDecoder, type Expression } from './expression.js'
import type { RuleText } from './rule-text.js'

const A = { RATE: 1, UNIT: 2, BURST: 3, TYPE: 4, FLAGS: 5 } as const
export const LIMIT_UNITS = { second: 1, minute: 60, hour: 3600, day: 86400, week: 604800 } as const
export type LimitUnit = keyof typeof LIMIT_UNITS
const NFT_LIMIT_PKTS = 0
const NFT_LIMIT_PKT_BYTES = 1
const NFT_LIMIT_F_INV = 1

export class Limit implements Expression {
  readonly kind = 'limit'
  constructor(
    readonly rate: number,
    readonly per: LimitUnit = 'second',
    readonly burst = 5,
    readonly bytes = false,
    readonly over = false,
  ) {}

  encode(w: AttributeWriter): void {
    w.be64(A.RATE, BigInt(this.rate))
    w.be64(A.UNIT, BigInt(LIMIT_UNITS[this.per]))
    w.be32(A.BURST, this.burst)
    w.be32(A.TYPE, this.bytes ? NFT_LIMIT_PKT_BYTES : NFT_LIMIT_PKTS)
    w.be32(A.FLAGS, this.over ? NFT_LIMIT_F_INV : 0)
  }

  /** nft leaves out the default burst of 5 packets. */
  render(r: RuleText): void {
    const unit = this.bytes ? 'bytes' : 'packets'
    r.emit(`limit rate ${this.over ? 'over ' : ''}${this.rate}/${this.per}${this.burst !== 5 || this.bytes ? ` burst ${this.burst} ${unit}` : ''}`)
  }

  toString(): string {
    return `[ limit rate ${this.rate}/${this.per} burst ${this.burst} type ${this.bytes ? 'bytes' : 'packets'} flags 0x${(this.over ? NFT_LIMIT_F_INV : 0).toString(16)} ]`
  }
}

registerDecoder('limit', (a) => {
  const unit = Number(a.be64(A.UNIT) ?? 1n)
  const per = (Object.keys(LIMIT_UNITS) as LimitUnit[]).find((k) => LIMIT_UNITS[k] === unit) ?? 'second'
  return new Limit(Number(a.be64(A.RATE) ?? 0n), per, a.be32(A.BURST) ?? 0, a.be32(A.TYPE) === NFT_LIMIT_PKT_BYTES, ((a.be32(A.FLAGS) ?? 0) & NFT_LIMIT_F_INV) !== 0)
})
