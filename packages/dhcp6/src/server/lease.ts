// A binding as the server keeps it (and as the lease journal stores it, one JSON line each).
// Clients are identified per IA, as RFC 8415 section 12 says bindings are: the client's DUID,
// the IA's type and its IAID.
import type { BindingRecord } from './journal.js'

export type Lease6State = 'offered' | 'bound' | 'released' | 'declined' | 'expired'
/** `na`: an address of an IA_NA; `pd`: a prefix of an IA_PD. */
export type Lease6Kind = 'na' | 'pd'

export interface Lease6 extends BindingRecord {
  /** The address (`na`) or the prefix with its length (`pd`, `fd00:100:0:100::/56`). */
  address: string
  /** `<duid hex>/<kind>/<iaid>`: one binding per IA. */
  client: string
  kind: Lease6Kind
  /** The client's DUID, hex. */
  duid: string
  iaid: number
  /** The client's MAC when its DUID or its relay tells it. */
  mac?: string
  state: Lease6State
  /** ms since the epoch: the valid lifetime's end (an offer's hold for `offered`). */
  expiresAt: number
  /** ms since the epoch: the preferred lifetime's end. */
  preferredUntil: number
  updatedAt: number
}

export function bindingKey(duid: string, kind: Lease6Kind, iaid: number): string {
  return `${duid}/${kind}/${iaid}`
}
