// The package's errors: one base class with stable codes (CONTRIBUTING.md), and TransactionError,
// the one callers branch on. Kernel refusals stay NetlinkErrors (code = errno name) inside it.
import { LabError, type NetlinkError } from '@lab/netlink-native'

/** Stable codes of the errors this package throws itself. */
export const NFT_ERROR_CODES = {
  /** A transaction the kernel refused: nothing of it was applied. */
  transaction: 'LAB_ERR_NFT_TRANSACTION',
  /** A transaction used again after commit(). */
  committed: 'LAB_ERR_NFT_COMMITTED',
  /** The Nft handle was closed. */
  closed: 'LAB_ERR_NFT_CLOSED',
  /** A request this kernel does not know (destroy* before Linux 6.3). */
  unsupported: 'LAB_ERR_NFT_UNSUPPORTED',
  /** The kernel sent something this library cannot read (an unknown family). */
  decode: 'LAB_ERR_NFT_DECODE',
  /** An internal misuse: a value that must have been expanded before sending. */
  internal: 'LAB_ERR_NFT_INTERNAL',
} as const

/** The base of every error @lab/nft throws itself (invalid arguments are ArgumentErrors). */
export class NftError extends LabError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options)
    this.name = 'NftError'
  }
}

export interface FailedMessage {
  /** The message's position in the transaction (0 = the first queued). */
  index: number
  /** What it did, as nft would say it: `add rule inet t input`. */
  description: string
  error: NetlinkError
}

/**
 * The kernel refused a transaction and applied none of it. `failed` names each refused message;
 * `errors` holds their NetlinkErrors, so `isNotFound(err)` from @lab/netlink-native is true when
 * every refusal was ENOENT (the objects were gone already).
 */
export class TransactionError extends NftError {
  readonly failed: FailedMessage[]
  readonly errors: NetlinkError[]

  constructor(failed: FailedMessage[]) {
    const first = failed[0]!
    const more = failed.length > 1 ? ` (and ${failed.length - 1} more)` : ''
    super(
      NFT_ERROR_CODES.transaction,
      `nftables transaction rolled back: ${first.error.code}: ${first.description}${first.error.extack.message ? ` (${first.error.extack.message})` : ''}${more}`,
      { cause: first.error },
    )
    this.name = 'TransactionError'
    this.failed = failed
    this.errors = failed.map((f) => f.error)
  }
}
