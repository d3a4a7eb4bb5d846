// The package's errors: one base class with a stable `code`, under @lab/netlink-native's LabError.
// Invalid arguments are netlink-native's ArgumentError (code LAB_ERR_ARGUMENT, with `field`).
import { LabError } from '@lab/netlink-native'

export type Dhcp6ErrorCode =
  /** A packet did not decode (Dhcp6DecodeError). */
  | 'LAB_ERR_DHCP6_DECODE'
  /** Another DHCPv6 server already serves the interface in that namespace. */
  | 'LAB_ERR_DHCP6_INTERFACE_BUSY'
  /** The lease file (or its directory) cannot be created, opened or written. */
  | 'LAB_ERR_DHCP6_LEASE_FILE'
  /** The client's interface has no usable link-local address (none, or DAD failed). */
  | 'LAB_ERR_DHCP6_NO_LINK_LOCAL'
  /** No lease came in time (the client's LeaseTimeoutError). */
  | 'LAB_ERR_DHCP6_LEASE_TIMEOUT'
  /** The object was used after close or stop. */
  | 'LAB_ERR_DHCP6_CLOSED'
  /** The CLI's --metrics address cannot be listened on. */
  | 'LAB_ERR_DHCP6_METRICS'

export class Dhcp6Error extends LabError {
  declare readonly code: Dhcp6ErrorCode
  constructor(code: Dhcp6ErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options)
    this.name = 'Dhcp6Error'
  }
}
