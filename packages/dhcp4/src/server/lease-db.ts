// Which client holds which address. Choosing follows RFC 2131 4.3.1: the client's reservation, its
// current or previous address, the address it asks for, then a never-used address, then the one
// expired longest ago. Bindings, releases and declines are journaled before they are answered.
// Beside the current state the database keeps what the journal has made durable, so that while
// writing fails a server can still answer for leases that a restart would find again.
import { ArgumentError, ipv4ToNumber, numberToIpv4 } from '@lab/netlink-native'
import { DhcpError } from '../errors.js'
import { LeaseJournal, type LeaseJournalOptions } from './journal.js'
import type { Lease, LeaseState } from './lease.js'
import type { AddressPool } from './pool.js'

/**
 * A lease record, its keys in the journal's order, without spreading an optional part: made for
 * every offer and binding, and an object literal per shape is cheaper than a spread.
 */
function makeLease(address: string, client: string, mac: string, hostname: string | undefined, state: LeaseState, expiresAt: number, updatedAt: number): Lease {
  return hostname ? { address, client, mac, hostname, state, expiresAt, updatedAt } : { address, client, mac, state, expiresAt, updatedAt }
}

export interface LeaseDatabaseOptions {
  /** The pools of all subnets served (or `pool` for one). */
  pools?: AddressPool[]
  pool?: AddressPool
  /** Where leases persist; in memory only when omitted. */
  journalPath?: string
  /** How long an offered address is held for the client, ms. */
  offerHoldMs?: number
  /** How long a declined address stays out of use (RFC 2131 4.3.3), ms. */
  declineQuarantineMs?: number
  now?: () => number
  /** Retry timing and failure reports of the journal (see LeaseJournalOptions). */
  journal?: Omit<LeaseJournalOptions, 'onCommit'>
}

export interface SweepResult {
  /** Bindings whose time ran out: their addresses are free again. */
  expired: Lease[]
  /** Offers nobody took up. */
  lapsedOffers: number
}

export class LeaseDatabase {
  readonly pools: AddressPool[]
  readonly #journal: LeaseJournal | undefined
  readonly #byAddress = new Map<string, Lease>()
  readonly #byClient = new Map<string, Lease>()
  /** The newest durable record per address and per client (the current state when there is no journal). */
  readonly #durable = new Map<string, Lease>()
  readonly #durableByClient = new Map<string, Lease>()
  /** Per pool, where the search for a never-used address goes on: choosing stays O(1) while the pool fills. */
  readonly #cursor = new Map<AddressPool, number>()
  readonly #now: () => number
  readonly #offerHoldMs: number
  readonly #quarantineMs: number
  /** Journal lines that could not be read at open (a torn last write). */
  readonly damagedRecords: number

  private constructor(options: LeaseDatabaseOptions, journal: LeaseJournal | undefined, leases: Lease[], damaged: number) {
    this.pools = options.pools ?? (options.pool ? [options.pool] : [])
    if (this.pools.length === 0) throw new ArgumentError('pools', 'at least one address pool')
    this.#journal = journal
    this.#now = options.now ?? Date.now
    this.#offerHoldMs = options.offerHoldMs ?? 60_000
    this.#quarantineMs = options.declineQuarantineMs ?? 10 * 60_000
    this.damagedRecords = damaged
    for (const lease of leases) this.#index(lease)
    this.#madeDurable(leases, false)
  }

  /**
   * Opens the database: empty and in memory without `journalPath`, else with the journal's leases
   * (the journal and its directory are created if needed). Throws DhcpError
   * LAB_ERR_DHCP_LEASE_FILE naming the path when the journal cannot be created or opened.
   */
  static async open(options: LeaseDatabaseOptions): Promise<LeaseDatabase> {
    if (!options.journalPath) return new LeaseDatabase(options, undefined, [], 0)
    let db: LeaseDatabase | undefined
    const { journal, leases, damaged } = await LeaseJournal.open(options.journalPath, {
      ...options.journal,
      // Nothing commits before open() returns: the journal writes only what is recorded later.
      onCommit: (committed, compacted) => db!.#madeDurable(committed, compacted),
      // A file that can no longer be written (its filesystem went read-only) is rewritten by path.
      snapshot: () => db!.#snapshot(),
    })
    db = new LeaseDatabase(options, journal, leases, damaged)
    return db
  }

  #madeDurable(leases: Lease[], compacted: boolean): void {
    if (compacted) {
      this.#durable.clear()
      this.#durableByClient.clear()
    }
    for (const lease of leases) {
      this.#durable.set(lease.address, lease)
      if (lease.client) this.#durableByClient.set(lease.client, lease)
    }
  }

  /** Why the journal cannot be written now (it retries by itself); undefined while it works. */
  get journalFailure(): Error | undefined {
    return this.#journal?.failure
  }

  /**
   * The binding of `client` that is on stable storage and still running: at `address` when given,
   * else its newest. Without a journal, the current binding.
   */
  durableBinding(client: string, address?: string): Lease | undefined {
    const byAddress = this.#journal ? this.#durable : this.#byAddress
    const lease = address !== undefined ? byAddress.get(address) : (this.#journal ? this.#durableByClient : this.#byClient).get(client)
    if (!lease || lease.client !== client || lease.state !== 'bound' || lease.expiresAt <= this.#now()) return undefined
    // The client's newest durable record may be superseded at its address (a decline, another client).
    return byAddress.get(lease.address) === lease ? lease : undefined
  }

  /** The first pool: the one a single-subnet server hands out from. */
  get pool(): AddressPool {
    return this.pools[0]!
  }

  poolOf(address: string | number): AddressPool | undefined {
    const n = typeof address === 'number' ? address : ipv4ToNumber(address)
    // A loop, not find() with a closure: this runs for every REQUEST (twice: available() and bind()).
    for (const pool of this.pools) if (pool.contains(n)) return pool
    return undefined
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
    return !!lease && lease.expiresAt > now && lease.state !== 'released' && lease.state !== 'expired'
  }

  /** Whether `address` may go to `client` now. */
  available(address: string, client: string): boolean {
    const n = ipv4ToNumber(address)
    const pool = this.poolOf(n)
    if (!pool) return false
    return this.#available(pool, n, address, client, this.#now())
  }

  #available(pool: AddressPool, n: number, address: string, client: string, now: number): boolean {
    const reservedTo = pool.reservedTo(address)
    if (reservedTo !== undefined && reservedTo !== client) return false
    if (reservedTo === undefined && !pool.dynamic(n)) return false
    const lease = this.#byAddress.get(address)
    if (lease?.state === 'declined' && lease.expiresAt > now) return false
    return !this.#held(lease, now) || lease!.client === client
  }

  /** Whether `address` is in `pool` and may go to `client` (a method, not a closure per choose()). */
  #mine(pool: AddressPool, address: string | undefined, client: string, now: number): boolean {
    if (!address) return false
    const n = ipv4ToNumber(address)
    return pool.contains(n) && this.#available(pool, n, address, client, now)
  }

  /** The address to offer `client` from `pool` (default: the first), or undefined when it is exhausted. */
  choose(client: string, requested?: string, pool: AddressPool = this.pool): string | undefined {
    const now = this.#now()
    const reserved = pool.reservedFor(client)
    if (this.#mine(pool, reserved, client, now)) return reserved
    const previous = this.#byClient.get(client)
    if (previous && previous.state !== 'declined' && this.#mine(pool, previous.address, client, now)) return previous.address
    if (this.#mine(pool, requested, client, now)) return requested
    // A never-used address, searching on from where the last search stopped.
    const start = this.#cursor.get(pool) ?? pool.first
    for (let i = 0, n = start; i < pool.size; i++, n = n === pool.last ? pool.first : n + 1) {
      const address = numberToIpv4(n)
      if (this.#byAddress.has(address) || !this.#available(pool, n, address, client, now)) continue
      this.#cursor.set(pool, n)
      return address
    }
    // Then the one that expired longest ago.
    let oldest: { address: string; expiresAt: number } | undefined
    for (let n = pool.first; n <= pool.last; n++) {
      const address = numberToIpv4(n)
      if (!this.#available(pool, n, address, client, now)) continue
      const lease = this.#byAddress.get(address)!
      if (!oldest || lease.expiresAt < oldest.expiresAt) oldest = { address, expiresAt: lease.expiresAt }
    }
    return oldest?.address
  }

  /** The database's time, ms since the epoch. */
  now(): number {
    return this.#now()
  }

  /**
   * Holds `address` for `client` while it decides (not journaled: an offer binds nothing). A
   * client's running binding of that address stays as it is: it is not cut down to an offer's hold.
   */
  offer(client: string, mac: string, address: string, hostname?: string): Lease {
    const now = this.#now()
    const current = this.#byAddress.get(address)
    if (current?.state === 'bound' && current.client === client && current.expiresAt > now) return current
    const lease = makeLease(address, client, mac, hostname, 'offered', now + this.#offerHoldMs, now)
    this.#index(lease)
    return lease
  }

  /**
   * Binds `address` to `client` for `leaseMs`: in effect at once, and queued for the journal;
   * `durable()` resolves once it is on stable storage. Throws DhcpError LAB_ERR_DHCP_NOT_AVAILABLE
   * when `available(address, client)` is false.
   */
  bind(client: string, mac: string, address: string, leaseMs: number, hostname?: string): Lease {
    if (!this.available(address, client)) throw new DhcpError('LAB_ERR_DHCP_NOT_AVAILABLE', `${address} is not available to ${client}`)
    const now = this.#now()
    const lease = makeLease(address, client, mac, hostname, 'bound', now + leaseMs, now)
    this.#persist(lease)
    return lease
  }

  /**
   * The client gave the address back (DHCPRELEASE). Keeps the record, for stickiness. Returns the
   * released record, or undefined when the address was not the client's.
   */
  release(client: string, address: string): Lease | undefined {
    const lease = this.#byAddress.get(address)
    if (!lease || lease.client !== client) return undefined
    const now = this.#now()
    const released: Lease = { ...lease, state: 'released', expiresAt: now, updatedAt: now }
    this.#persist(released)
    return released
  }

  /**
   * The client found the address in use (DHCPDECLINE): out of use for the quarantine time. Returns
   * the quarantine record, or undefined when the address was not the client's.
   */
  decline(client: string, address: string): Lease | undefined {
    const lease = this.#byAddress.get(address)
    if (!lease || lease.client !== client) return undefined
    const now = this.#now()
    this.#byClient.delete(client)
    const declined: Lease = { address, client: '', mac: lease.mac, state: 'declined', expiresAt: now + this.#quarantineMs, updatedAt: now }
    this.#persist(declined)
    return declined
  }

  #persist(lease: Lease): void {
    this.#journal?.record(lease)
    this.#index(lease)
    // Rewrite the journal once it holds many superseded records.
    if (this.#journal && this.#journal.records > 1000 && this.#journal.records > 4 * this.#byAddress.size) this.#journal.compact(this.#snapshot)
  }

  readonly #snapshot = () => [...this.#byAddress.values()].filter((l) => l.state !== 'offered')

  /**
   * Resolves when every binding, release and decline made so far is on stable storage; rejects
   * when the write holding them failed, and at once while writing fails.
   */
  durable(): Promise<void> {
    return this.#journal?.durable() ?? Promise.resolve()
  }

  /**
   * Writes every queued record to the journal now (see LeaseJournal.writeNow); true when they are
   * all in the file (always true without a journal).
   */
  writeNow(): boolean {
    return this.#journal?.writeNow() ?? true
  }

  /** Starts the journal's write of what is queued now rather than at the next turn of the event loop. */
  commitSoon(): void {
    this.#journal?.commitSoon()
  }

  /** Rewrites the journal with the current leases; resolves (or rejects) as durable() does after it. */
  compact(): Promise<void> {
    this.#journal?.compact(this.#snapshot)
    return this.durable()
  }

  /** Frees what has run out: lapsed offers are forgotten, expired bindings marked (kept for stickiness). */
  sweep(): SweepResult {
    const now = this.#now()
    const result: SweepResult = { expired: [], lapsedOffers: 0 }
    for (const lease of [...this.#byAddress.values()]) {
      if (lease.expiresAt > now) continue
      if (lease.state === 'offered') {
        this.#byAddress.delete(lease.address)
        if (this.#byClient.get(lease.client) === lease) this.#byClient.delete(lease.client)
        result.lapsedOffers++
        const pool = this.poolOf(lease.address)
        const n = ipv4ToNumber(lease.address)
        if (pool && n < (this.#cursor.get(pool) ?? pool.first)) this.#cursor.set(pool, n)
      } else if (lease.state === 'bound') {
        const expired: Lease = { ...lease, state: 'expired' }
        this.#byAddress.set(lease.address, expired)
        if (this.#byClient.get(lease.client) === lease) this.#byClient.set(lease.client, expired)
        result.expired.push(expired)
      }
    }
    return result
  }

  /** Addresses of `pool` that a new client could get now. */
  free(pool: AddressPool = this.pool): number {
    const now = this.#now()
    let taken = pool.excludedInRange
    for (const lease of this.#byAddress.values()) {
      const n = ipv4ToNumber(lease.address)
      if (!pool.dynamic(n)) continue
      if (this.#held(lease, now) || (lease.state === 'declined' && lease.expiresAt > now)) taken++
    }
    return pool.size - taken
  }

  /** Leases of `pool` bound and running now. */
  active(pool: AddressPool = this.pool): number {
    const now = this.#now()
    let n = 0
    for (const lease of this.#byAddress.values()) {
      if (lease.state === 'bound' && lease.expiresAt > now && pool.contains(ipv4ToNumber(lease.address))) n++
    }
    return n
  }

  /** The journal's counters; undefined when leases are kept in memory only. */
  journalCounters(): { records: number; commits: number; failures: number } | undefined {
    return this.#journal?.counters()
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

  /** Writes what is queued and closes the journal; idempotent. Throws as LeaseJournal.close does. */
  async close(): Promise<void> {
    await this.#journal?.close()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}
