// The package's errors: one base class with a stable `code`, under @lab/netlink-native's LabError.
// Invalid arguments are netlink-native's ArgumentError (code LAB_ERR_ARGUMENT, with `field`),
// thrown before anything is opened or sent.
import { LabError } from '@lab/netlink-native'

export type NdpErrorCode =
  /** A packet did not decode (NdpDecodeError). */
  | 'LAB_ERR_NDP_DECODE'
  /** The interface has no hardware address or no IPv6 link-local address to advertise from. */
  | 'LAB_ERR_NDP_INTERFACE'

export class NdpError extends LabError {
  declare readonly code: NdpErrorCode
  constructor(code: NdpErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options)
    this.name = 'NdpError'
  }
}
