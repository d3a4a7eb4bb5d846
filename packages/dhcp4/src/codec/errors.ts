// Decoding untrusted packets fails only with this error, naming what was wrong.
export type DecodeReason = 'short-packet' | 'bad-op' | 'bad-cookie' | 'option-overrun' | 'bad-option-length' | 'bad-option-value'

export class DhcpDecodeError extends Error {
  constructor(
    readonly reason: DecodeReason,
    detail: string,
    /** The option the problem is in, when it is in one. */
    readonly option?: number,
  ) {
    super(`${reason}: ${detail}`)
    this.name = 'DhcpDecodeError'
  }
}
