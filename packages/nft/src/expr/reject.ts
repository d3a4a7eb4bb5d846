// reject: drops the packet and answers it (TCP reset or ICMP unreachable).
import type { AttributeWriter } from '@lab/netlink-native'
import { registerDecoder, type Expression } from './expression.js'

const A = { TYPE: 1, ICMP_CODE: 2 } as const
export const REJECT_TYPES = { 'icmp-unreachable': 0, 'tcp-reset': 1, 'icmpx-unreachable': 2 } as const
export type RejectType = keyof typeof REJECT_TYPES

export class Reject implements Expression {
  readonly kind = 'reject'
  constructor(
    readonly type: RejectType = 'icmp-unreachable',
    /** ICMP code; 3 = port unreachable, the kernel's default for `reject`. */
    readonly code = 3,
  ) {}

  encode(w: AttributeWriter): void {
    w.be32(A.TYPE, REJECT_TYPES[this.type])
    w.u8(A.ICMP_CODE, this.code)
  }
}

registerDecoder('reject', (a) => {
  const t = a.be32(A.TYPE) ?? 0
  return new Reject((Object.keys(REJECT_TYPES) as RejectType[]).find((k) => REJECT_TYPES[k] === t) ?? 'icmp-unreachable', a.u8(A.ICMP_CODE) ?? 0)
})
