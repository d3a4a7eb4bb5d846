// A lease as the server keeps it. Clients are identified by their client id (option 61) when they
// send one, else by their hardware address (RFC 2131 4.2, RFC 6842).
export type LeaseState = 'offered' | 'bound' | 'released' | 'declined' | 'expired'

export interface Lease {
  address: string
  /** `id:<hex>` for a client id, `mac:<aa:bb:..>` otherwise. */
  client: string
  mac: string
  hostname?: string
  state: LeaseState
  /** ms since the epoch; an offer's expiry is short, a binding's is the lease time. */
  expiresAt: number
  updatedAt: number
}

export function clientKey(mac: string, clientId?: Buffer): string {
  return clientId && clientId.length > 0 ? `id:${clientId.toString('hex')}` : `mac:${mac.toLowerCase()}`
}
