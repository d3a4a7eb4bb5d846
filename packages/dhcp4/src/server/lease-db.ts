// Which client holds which address. Choosing follows RFC 2131 4.3.1: the client's reservation, its
// current or previous address, the address it asks for, then a never-used address, then the one
// expired longest ago. Bindings, releases and declines are journaled before they are answered.
import { LeaseJournal } from './journal.js'
import type { Lease } from './lease.js'
import { AddressPool, ipToNumber, numberToIp } from './pool.js'

export interface LeaseDatabaseOptions {
  pool: AddressPool
  /** Where leases persist; in memory only when omitted. */
  journalPath?: string
  /** How long an offered address is held for the client, ms. */
  offerHoldMs?: number
  /** How long a declined address stays out of use (RFC 2131 4.3.3), ms. */
  declineQuarantineMs?: number
  now?: () => number
}

export class LeaseDatabase {
  readonly pool: AddressPool
  readonly #journal: LeaseJournal | undefined
  readonly #byAddress = new Map<string, Lease>()
  readonly #byClient = new Map<string, Lease>()
  readonly #now: () => number
  readonly #offerHoldMs: number
  readonly #quarantineMs: number
  /** Journal lines that could not be read at open (a torn last write). */
  readonly damagedRecords: number

  private constructor(options: LeaseDatabaseOptions, journal: LeaseJournal | undefined, leases: Lease[], damaged: number) {
    this.pool = options.pool
    this.#journal = journal
    this.#now = options.now ?? Date.now
    this.#offerHoldMs = options.offerHoldMs ?? 60_000
    this.#quarantineMs = options.declineQuarantineMs ?? 10 * 60_000
    this.damagedRecords = damaged
    for (const lease of leases) this.#index(lease)
  }

  static open(options: LeaseDatabaseOptions): LeaseDatabase {
    if (!options.journalPath) return new LeaseDatabase(options, undefined, [], 0)
    const { journal, leases, damaged } = LeaseJournal.open(options.journalPath)
    return new LeaseDatabase(options, journal, leases, damaged)
  }

  #index(lease: Lease): void {
    const previous = this.#byAddress.get(lease.address)
    if (previous && this.#byClient.get(previous.client) === previous && previous.client !== lease.client) this.#byClient.delete(previous.client)
    this.#byAddress.set(lease.address, lease)
    if (lease.client) {
      const old = this.#byClient.get(lease.client)
      if (old && old.address !== lease.address && this.#byAddress.get(old.address) === old) {
        // A client holds one address: the one it had before is free again.
        this.#byAddress.delete(old.address)
      }
      this.#byClient.set(lease.client, lease)
    }
  }

  #held(lease: Lease | undefined, now: number): boolean {
    return !!lease && lease.expiresAt > now && lease.state !== 'released'
  }

  /** Whether `address` may go to `client` now. */
  available(address: string, client: string): boolean {
    const now = this.#now()
    const n = ipToNumber(address)
    if (!this.pool.contains(n)) return false
    const reservedTo = [...this.pool.reservations].find(([, a]) => a === address)?.[0]
    if (reservedTo !== undefined && reservedTo !== client) return false
    if (reservedTo === undefined && !this.pool.dynamic(n)) return false
    const lease = this.#byAddress.get(address)
    if (lease?.state === 'declined' && lease.expiresAt > now) return false
    return !this.#held(lease, now) || lease!.client === client
  }

  /** The address to offer `client`, or undefined when the pool is exhausted. */
  choose(client: string, requested?: string): string | undefined {
    const reserved = this.pool.reservedFor(client)
    if (reserved && this.available(reserved, client)) return reserved
    const previous = this.#byClient.get(client)
    if (previous && previous.state !== 'declined' && this.available(previous.address, client)) return previous.address
    if (requested && this.available(requested, client)) return requested
    const now = this.#now()
    let oldest: { address: string; expiresAt: number } | undefined
    for (let n = this.pool.first; n <= this.pool.last; n++) {
      const address = numberToIp(n)
      if (!this.available(address, client)) continue
      const lease = this.#byAddress.get(address)
      if (!lease) return address
      if (lease.expiresAt <= now && (!oldest || lease.expiresAt < oldest.expiresAt)) oldest = { address, expiresAt: lease.expiresAt }
    }
    return oldest?.address
  }

  /** Holds `address` for `client` while it decides (not journaled: an offer binds nothing). */
  offer(client: string, mac: string, address: string, hostname?: string): Lease {
    const now = this.#now()
    const lease: Lease = { address, client, mac, ...(hostname ? { hostname } : {}), state: 'offered', expiresAt: now + this.#offerHoldMs, updatedAt: now }
    this.#index(lease)
    return lease
  }

  /** Binds `address` to `client` for `leaseMs`; on stable storage when this returns. */
  bind(client: string, mac: string, address: string, leaseMs: number, hostname?: string): Lease {
    if (!this.available(address, client)) throw new Error(`${address} is not available to ${client}`)
    const now = this.#now()
    const lease: Lease = { address, client, mac, ...(hostname ? { hostname } : {}), state: 'bound', expiresAt: now + leaseMs, updatedAt: now }
    this.#persist(lease)
    return lease
  }

  /** The client gave the address back (DHCPRELEASE). Keeps the record, for stickiness. */
  release(client: string, address: string): boolean {
    const lease = this.#byAddress.get(address)
    if (!lease || lease.client !== client) return false
    const now = this.#now()
    this.#persist({ ...lease, state: 'released', expiresAt: now, updatedAt: now })
    return true
  }

  /** The client found the address in use (DHCPDECLINE): out of use for the quarantine time. */
  decline(client: string, address: string): boolean {
    const lease = this.#byAddress.get(address)
    if (!lease || lease.client !== client) return false
    const now = this.#now()
    this.#byClient.delete(client)
    this.#persist({ address, client: '', mac: lease.mac, state: 'declined', expiresAt: now + this.#quarantineMs, updatedAt: now })
    return true
  }

  #persist(lease: Lease): void {
    this.#journal?.record(lease)
    this.#index(lease)
    // Rewrite the journal once it holds many superseded records.
    if (this.#journal && this.#journal.records > 1000 && this.#journal.records > 4 * this.#byAddress.size) this.compact()
  }

  compact(): void {
    this.#journal?.compact([...this.#byAddress.values()].filter((l) => l.state !== 'offered'))
  }

  leaseOf(client: string): Lease | undefined {
    return this.#byClient.get(client)
  }

  at(address: string): Lease | undefined {
    return this.#byAddress.get(address)
  }

  list(): Lease[] {
    return [...this.#byAddress.values()]
  }

  close(): void {
    this.#journal?.close()
  }
}
