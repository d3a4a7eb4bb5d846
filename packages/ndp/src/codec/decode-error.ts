// Decoding untrusted packets fails only with this error, naming what was wrong and where.
import { NdpError } from '../errors.js'

export type NdpDecodeReason =
  /** Fewer bytes than the message or option needs. */
  | 'short-packet'
  /** An ICMPv6 type this codec does not decode as Neighbor Discovery. */
  | 'bad-type'
  /** ICMP Code is not 0 (RFC 4861 6.1.1, 6.1.2, 7.1.1, 7.1.2: such messages are discarded). */
  | 'bad-code'
  /** An option length of 0, or one that runs past the end of the packet. */
  | 'bad-option-length'
  /** An option whose value breaks its own rules (a prefix length over 128, a bad domain name). */
  | 'bad-option-value'
  /** A field of the message breaks RFC 4861's validity checks (a multicast target address). */
  | 'bad-field'
  /** The IPv6 header around the message is wrong: version, length, next header, checksum. */
  | 'bad-ip-header'
  /** The checksum over the pseudo-header and message does not add up. */
  | 'bad-checksum'
  /** The IPv6 hop limit is not 255: the packet may come from off-link (RFC 4861 6.1). */
  | 'bad-hop-limit'

export class NdpDecodeError extends NdpError {
  constructor(
    readonly reason: NdpDecodeReason,
    detail: string,
    /** Byte offset of the fault in the buffer given to the decoder, when known. */
    readonly offset?: number,
    /** The option type the fault is in, when it is in one. */
    readonly option?: number,
  ) {
    super('LAB_ERR_NDP_DECODE', `${reason}: ${detail}`)
    this.name = 'NdpDecodeError'
  }
}
