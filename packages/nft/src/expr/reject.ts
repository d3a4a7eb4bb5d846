// reject: drops the packet and answers it (TCP reset or ICMP unreachable).
import type { AttributeWriter } from '@lab/netlink-native'
import { registerDecoder, type Expression } from './expression.js'
import type { RuleText } from './rule-text.js'

const A = { TYPE: 1, ICMP_CODE: 2 } as const
export const REJECT_TYPES = { 'icmp-unreachable': 0, 'tcp-reset': 1, 'icmpx-unreachable': 2 } as const
export type RejectType = keyof typeof REJECT_TYPES

const ICMP_CODES: Record<number, string> = { 0: 'net-unreachable', 1: 'host-unreachable', 2: 'prot-unreachable', 3: 'port-unreachable', 9: 'net-prohibited', 10: 'host-prohibited', 13: 'admin-prohibited' }
const ICMPX_CODES: Record<number, string> = { 0: 'no-route', 1: 'port-unreachable', 2: 'host-unreachable', 3: 'admin-prohibited' }

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

  /** nft leaves out the family's default: icmp port-unreachable in ip tables, icmpx in inet ones. */
  render(r: RuleText): void {
    if (this.type === 'tcp-reset') return r.emit('reject with tcp reset')
    const icmpx = this.type === 'icmpx-unreachable'
    const isDefault = this.code === (icmpx ? 1 : 3) && (icmpx ? r.family === 'inet' : r.family !== 'inet')
    if (isDefault) return r.emit('reject')
    const name = (icmpx ? ICMPX_CODES : ICMP_CODES)[this.code] ?? String(this.code)
    r.emit(`reject with ${icmpx ? 'icmpx' : 'icmp'} ${name}`)
  }

  toString(): string {
    return `[ reject type ${REJECT_TYPES[this.type]} code ${this.code} ]`
  }
}

registerDecoder('reject', (a) => {
  const t = a.be32(A.TYPE) ?? 0
  return new Reject((Object.keys(REJECT_TYPES) as RejectType[]).find((k) => REJECT_TYPES[k] === t) ?? 'icmp-unreachable', a.u8(A.ICMP_CODE) ?? 0)
})
