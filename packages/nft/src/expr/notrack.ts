// notrack: exempts the packet from connection tracking (raw priority chains).
import type { AttributeWriter } from '@lab/netlink-native'
import { registerDecoder, type Expression } from './expression.js'
import type { RuleText } from './rule-text.js'

export class Notrack implements Expression {
  readonly kind = 'notrack'
  encode(_w: AttributeWriter): void {}

  render(r: RuleText): void {
    r.emit('notrack')
  }

  toString(): string {
    return '[ notrack ]'
  }
}

registerDecoder('notrack', () => new Notrack())
