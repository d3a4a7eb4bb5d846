// Decoding untrusted packets fails only with this error, naming what was wrong and where.
import { Dhcp6Error } from '../errors.js'

export type Dhcp6DecodeReason =
  | 'short-packet'
  | 'bad-message-type'
  | 'option-overrun'
  | 'bad-option-length'
  | 'bad-option-value'
  | 'too-deep'

export class Dhcp6DecodeError extends Dhcp6Error {
  constructor(
    readonly reason: Dhcp6DecodeReason,
    detail: string,
    /** The option the problem is in, when it is in one (the innermost). */
    readonly option?: number,
  ) {
    super('LAB_ERR_DHCP6_DECODE', `${reason}: ${detail}`)
    this.name = 'Dhcp6DecodeError'
  }
}
