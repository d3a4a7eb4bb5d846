// What every ND option module provides: its type code, a typed value, and pure functions to read
// it from and write it to the wire. Each option sits in its own file (RFC section in its header).
import { NdpDecodeError } from '../decode-error.js'

export interface OptionCodec<T extends { type: string }> {
  /** The option's Type octet. */
  code: number
  name: T['type']
  /**
   * Reads the option's value from `body` (the bytes after Type and Length, `length * 8 - 2` of
   * them). `at` is where the option starts in the packet, for error offsets.
   */
  decode(body: Buffer, at: number, length: number): T
  /** The option's bytes after Type and Length, unpadded: the caller pads to 8 octets. */
  encode(value: T): Buffer
  /** One line, as tcpdump -v prints the option. */
  format(value: T): string
}

export function optionError(reason: 'bad-option-length' | 'bad-option-value', code: number, at: number, detail: string): NdpDecodeError {
  return new NdpDecodeError(reason, `option ${code} at ${at}: ${detail}`, at, code)
}

/** Options written with more 8-octet units than they need keep that count, so they re-encode unchanged. */
export interface Padded {
  /** The option's Length field (units of 8 octets), kept only when larger than the value needs. */
  length?: number
}

/** Seconds as tcpdump prints lifetimes: "infinity" for 0xffffffff. */
export function lifetimeText(seconds: number): string {
  return seconds === 0xffffffff ? 'infinity' : `${seconds}s`
}
