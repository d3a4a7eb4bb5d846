// The package's errors: one base class with a stable `code`, under @lab/netlink-native's LabError.
import { ArgumentError, LabError } from '@lab/netlink-native'

/**
 * Codes a caller can branch on:
 * - `LAB_ERR_SWITCH_CONFIG`: the switch cannot run as configured (a namespace that does not exist,
 *   a lease file whose directory cannot be made). Restarting does not help, so the switch stops.
 * - `LAB_ERR_SWITCH_CLIENT_MAC`: routed mode: a client link's MAC encodes no usable /31.
 * - `LAB_ERR_SOCKS_PROTOCOL`: a SOCKS5 client sent something the protocol does not allow.
 */
export type SwitchErrorCode = 'LAB_ERR_SWITCH_CONFIG' | 'LAB_ERR_SWITCH_CLIENT_MAC' | 'LAB_ERR_SOCKS_PROTOCOL'

/** The base of every error @lab/nanoswitch throws on purpose. */
export class SwitchError extends LabError {
  declare readonly code: SwitchErrorCode
  constructor(code: SwitchErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options)
    this.name = 'SwitchError'
  }
}

/**
 * A configuration error: an invalid option (ArgumentError) or something the switch cannot run
 * with (SwitchError LAB_ERR_SWITCH_CONFIG). The supervisor restarts faults; these stop the switch.
 */
export function isConfigError(error: unknown): boolean {
  return error instanceof ArgumentError || (error instanceof SwitchError && error.code === 'LAB_ERR_SWITCH_CONFIG')
}
