// ct: loads connection tracking state (state, mark, status, ...) into a register.
import { ArgumentError, type AttributeWriter } from '@lab/netlink-native'
import { NFT_REG_1 } from '../constants.js'
import { registerDecoder, type Expression } from './expression.js'
import { maskedField, type Field, type RuleText } from './rule-text.js'

const A = { DREG: 1, KEY: 2, DIRECTION: 3, SREG: 4 } as const
/** enum nft_ct_keys (linux/netfilter/nf_tables.h). */
export const CT_KEYS = { state: 0, direction: 1, status: 2, mark: 3, expiration: 5, 'proto-src': 11, 'proto-dst': 12 } as const
export type CtKey = keyof typeof CT_KEYS
/** IP_CT_DIR_ORIGINAL / IP_CT_DIR_REPLY: which of the connection's two tuples a per-direction key reads. */
export const CT_DIRECTIONS = { original: 0, reply: 1 } as const
export type CtDirection = keyof typeof CT_DIRECTIONS
/** Keys that belong to one direction's tuple: nft needs `ct original|reply KEY`. */
const PER_DIRECTION: ReadonlySet<CtKey> = new Set(['proto-src', 'proto-dst'])
/** ct state bits (NF_CT_STATE_BIT / IP_CT_*). */
export const CT_STATES = { invalid: 1, established: 2, related: 4, new: 8, untracked: 64 } as const

function stateNames(bits: number): string {
  return Object.entries(CT_STATES)
    .filter(([, bit]) => bits & bit)
    .map(([n]) => n)
    .join(',')
}

function ctField(key: CtKey, direction: CtDirection | undefined, l4: string | undefined): Field {
  const field: Field = {
    name: direction ? `ct ${direction} ${key}` : `ct ${key}`,
    value: (data) => {
      if (key === 'state' && data.length === 4) return stateNames(data.readUInt32LE(0))
      // A port of the tuple, in network order: nft prints it as a number once the rule has
      // matched a transport protocol, and as raw bytes it cannot type before that.
      if ((key === 'proto-src' || key === 'proto-dst') && data.length === 2) return l4 ? String(data.readUInt16BE(0)) : `0x${data.toString('hex')} [invalid type]`
      return `0x${data.toString('hex')}`
    },
    masked: (mask, xor) => {
      // nft writes `ct state established,related` as (state & bits) != 0.
      if (key !== 'state' || mask.length !== 4 || xor.some((b) => b !== 0)) return maskedField(field, mask, xor)
      const names = stateNames(mask.readUInt32LE(0))
      return {
        name: field.name,
        value: field.value,
        compare: (op, data) => (op === '!=' && data.every((b) => b === 0) ? `ct state ${names}` : `ct state & ${names} ${op} ${field.value(data)}`),
      }
    },
  }
  return field
}

/**
 * Loads a conntrack key. Keys of one direction's tuple (`proto-src`, `proto-dst`) name the
 * direction: `new Ct('proto-dst', NFT_REG_1, 'original')` is nft's `ct original proto-dst`, the
 * destination port before any DNAT, which tells apart connections a NAT sent to the same place.
 * As in nft, match the transport protocol first (`meta l4proto tcp`, or a `tcp` field).
 * Throws ArgumentError for a per-direction key without a direction.
 */
export class Ct implements Expression {
  readonly kind = 'ct'
  constructor(
    readonly key: CtKey,
    readonly register = NFT_REG_1,
    readonly direction?: CtDirection,
  ) {
    if (PER_DIRECTION.has(key) && direction === undefined) throw new ArgumentError('direction', `ct ${key} is read from one direction's tuple: 'original' or 'reply'`)
  }

  encode(w: AttributeWriter): void {
    w.be32(A.KEY, CT_KEYS[this.key])
    w.be32(A.DREG, this.register)
    if (this.direction !== undefined) w.u8(A.DIRECTION, CT_DIRECTIONS[this.direction])
  }

  render(r: RuleText): void {
    r.load(this.register, ctField(this.key, this.direction, r.l4))
  }

  toString(): string {
    return `[ ct load ${this.direction ? `${this.key} ${this.direction}` : this.key} => reg ${this.register} ]`
  }
}

registerDecoder('ct', (a) => {
  const v = a.be32(A.KEY) ?? 0
  const key = (Object.keys(CT_KEYS) as CtKey[]).find((k) => CT_KEYS[k] === v) ?? 'state'
  const d = a.u8(A.DIRECTION)
  const direction = d === undefined ? undefined : (Object.keys(CT_DIRECTIONS) as CtDirection[]).find((k) => CT_DIRECTIONS[k] === d)
  return new Ct(key, a.be32(A.DREG) ?? NFT_REG_1, direction ?? (PER_DIRECTION.has(key) ? 'original' : undefined))
})
