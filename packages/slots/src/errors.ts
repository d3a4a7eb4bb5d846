// The package's errors: one base class with stable codes (CONTRIBUTING.md). Kernel refusals stay
// SystemErrors (code = errno name); invalid ranges are ArgumentErrors naming the field.
import { LabError } from '@lab/netlink-native'

/** Stable codes of the errors this package throws itself. */
export const SLOTS_ERROR_CODES = {
  /** Every slot index up to `maxSlots` is in use. */
  full: 'LAB_ERR_SLOTS_FULL',
  /** No uplink given and the host namespace has no IPv4 default route to find one from. */
  noUplink: 'LAB_ERR_SLOTS_NO_UPLINK',
  /** `del(index)` of a slot that does not exist: errno's name, so `isNotFound(err)` is true. */
  notFound: 'ENOENT',
  /** `settled()` timed out: removed slots' veths are still there (a process keeps their namespace). */
  busy: 'LAB_ERR_SLOTS_BUSY',
  /** The Slots was closed. */
  closed: 'LAB_ERR_SLOTS_CLOSED',
  /** A CNI invocation failed; `CniError.cniCode` holds the CNI spec's code. */
  cni: 'LAB_ERR_SLOTS_CNI',
} as const

/** The base of every error @lab/slots throws itself. */
export class SlotsError extends LabError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options)
    this.name = 'SlotsError'
  }
}
