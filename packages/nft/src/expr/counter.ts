// counter: counts packets and bytes that reach it.
import type { AttributeWriter } from '@lab/netlink-native'
import { registerDecoder, type Expression } from './expression.js'
import type { RuleText } from './rule-text.js'

const A = { BYTES: 1, PACKETS: 2 } as const

export class Counter implements Expression {
  readonly kind = 'counter'
  constructor(
    readonly packets = 0n,
    readonly bytes = 0n,
  ) {}

  encode(w: AttributeWriter): void {
    w.be64(A.BYTES, this.bytes)
    w.be64(A.PACKETS, this.packets)
  }

  render(r: RuleText): void {
    r.emit(`counter packets ${this.packets} bytes ${this.bytes}`)
  }

  toString(): string {
    return `[ counter pkts ${this.packets} bytes ${this.bytes} ]`
  }
}

registerDecoder('counter', (a) => new Counter(a.be64(A.PACKETS) ?? 0n, a.be64(A.BYTES) ?? 0n))
