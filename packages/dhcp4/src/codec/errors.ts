// Decoding untrusted packets fails only with this error, naming what was wrong.
import { DhcpError } from '../errors.js'

export type DecodeReason = 'short-packet' | 'bad-op' | 'bad-cookie' | 'option-overrun' | 'bad-option-length' | 'bad-option-value'

export class DhcpDecodeError extends DhcpError {
  constructor(
    readonly reason: DecodeReason,
    detail: string,
    /** The option the problem is in, when it is in one. */
    readonly option?: number,
  ) {
    super('LAB_ERR_DHCP_DECODE', `${reason}: ${detail}`)
    this.name = 'DhcpDecodeError'
  }
}
