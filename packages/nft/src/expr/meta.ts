// meta: loads packet metadata (interface, mark, protocol, ...) into a register.
import type { AttributeWriter } from '@lab/netlink-native'
import { NFT_REG_1 } from '../constants.js'
import { registerDecoder, type Expression } from './expression.js'

const A = { DREG: 1, KEY: 2, SREG: 3 } as const

export const META_KEYS = {
  len: 0,
  protocol: 1,
  priority: 2,
  mark: 3,
  iif: 4,
  oif: 5,
  iifname: 6,
  oifname: 7,
  iiftype: 8,
  oiftype: 9,
  skuid: 10,
  skgid: 11,
  nftrace: 12,
  nfproto: 15,
  l4proto: 16,
  pkttype: 19,
  cpu: 20,
  iifgroup: 21,
  oifgroup: 22,
} as const
export type MetaKey = keyof typeof META_KEYS

export class Meta implements Expression {
  readonly kind = 'meta'
  constructor(
    readonly key: MetaKey,
    readonly register = NFT_REG_1,
    /** Set the key from this register instead of loading it (`meta mark set ...`). */
    readonly sourceRegister?: number,
  ) {}

  encode(w: AttributeWriter): void {
    w.be32(A.KEY, META_KEYS[this.key])
    if (this.sourceRegister !== undefined) w.be32(A.SREG, this.sourceRegister)
    else w.be32(A.DREG, this.register)
  }
}

registerDecoder('meta', (a) => {
  const value = a.be32(A.KEY) ?? 0
  const key = (Object.keys(META_KEYS) as MetaKey[]).find((k) => META_KEYS[k] === value) ?? ('len' as MetaKey)
  const sreg = a.be32(A.SREG)
  return new Meta(key, a.be32(A.DREG) ?? NFT_REG_1, sreg)
})
