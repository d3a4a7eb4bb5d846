// The package's errors: one base class with a stable `code`, under @lab/netlink-native's LabError.
// Subclasses exist where a caller branches on them. Invalid arguments are netlink-native's
// ArgumentError (code LAB_ERR_ARGUMENT, with `field`), thrown before anything is sent or opened.
import { LabError } from '@lab/netlink-native'

export type DhcpErrorCode =
  /** A packet did not decode (DhcpDecodeError). */
  | 'LAB_ERR_DHCP_DECODE'
  /** A configuration file is wrong (ConfigError). */
  | 'LAB_ERR_DHCP_CONFIG'
  /** No lease came in time (LeaseTimeoutError). */
  | 'LAB_ERR_DHCP_LEASE_TIMEOUT'
  /** Another DHCP server already serves the interface in that namespace. */
  | 'LAB_ERR_DHCP_INTERFACE_BUSY'
  /** The lease file (or its directory) cannot be created, opened or written. */
  | 'LAB_ERR_DHCP_LEASE_FILE'
  /** An address was bound that is not available to the client (a caller's bug: check `available()`). */
  | 'LAB_ERR_DHCP_NOT_AVAILABLE'
  /** The object was used after close or stop. */
  | 'LAB_ERR_DHCP_CLOSED'
  /** The CLI's --metrics address cannot be listened on. */
  | 'LAB_ERR_DHCP_METRICS'

export class DhcpError extends LabError {
  declare readonly code: DhcpErrorCode
  constructor(code: DhcpErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options)
    this.name = 'DhcpError'
  }
}
