// ct: loads connection tracking state (state, mark, status, ...) into a register.
import type { AttributeWriter } from '@lab/netlink-native'
import { NFT_REG_1 } from '../constants.js'
import { registerDecoder, type Expression } from './expression.js'
import { maskedField, type Field, type RuleText } from './rule-text.js'

const A = { DREG: 1, KEY: 2, DIRECTION: 3, SREG: 4 } as const
export const CT_KEYS = { state: 0, direction: 1, status: 2, mark: 3, expiration: 5 } as const
export type CtKey = keyof typeof CT_KEYS
/** ct state bits (NF_CT_STATE_BIT / IP_CT_*). */
export const CT_STATES = { invalid: 1, established: 2, related: 4, new: 8, untracked: 64 } as const

function stateNames(bits: number): string {
  return Object.entries(CT_STATES)
    .filter(([, bit]) => bits & bit)
    .map(([n]) => n)
    .join(',')
}

function ctField(key: CtKey): Field {
  const field: Field = {
    name: `ct ${key}`,
    value: (data) => (key === 'state' && data.length === 4 ? stateNames(data.readUInt32LE(0)) : `0x${data.toString('hex')}`),
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

export class Ct implements Expression {
  readonly kind = 'ct'
  constructor(
    readonly key: CtKey,
    readonly register = NFT_REG_1,
  ) {}

  encode(w: AttributeWriter): void {
    w.be32(A.KEY, CT_KEYS[this.key])
    w.be32(A.DREG, this.register)
  }

  render(r: RuleText): void {
    r.load(this.register, ctField(this.key))
  }

  toString(): string {
    return `[ ct load ${this.key} => reg ${this.register} ]`
  }
}

registerDecoder('ct', (a) => {
  const v = a.be32(A.KEY) ?? 0
  return new Ct((Object.keys(CT_KEYS) as CtKey[]).find((k) => CT_KEYS[k] === v) ?? 'state', a.be32(A.DREG) ?? NFT_REG_1)
})
