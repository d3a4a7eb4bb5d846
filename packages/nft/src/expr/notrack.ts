// notrack: exempts the packet from connection tracking (raw priority chains).
import type { AttributeWriter } from '@lab/netlink-native'
import { registerDecoder, type Expression } from './expression.js'

export class Notrack implements Expression {
  readonly kind = 'notrack'
  encode(_w: AttributeWriter): void {}
}

registerDecoder('notrack', () => new Notrack())
