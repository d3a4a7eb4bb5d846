// Which IA holds which address or prefix. Choosing follows the client's reservation, its current
// binding, the address it hints at, then a never-used one, then the one expired longest ago.
// Bindings, releases and declines go to the binding journal (journal.ts: JSON lines as @lab/dhcp4's
// lease journal writes them, group-committed, O_DSYNC, into zero-filled room) before the server
// answers them; beside the current state the database keeps what the journal
// has made durable, so that while writing fails the server still answers for bindings a restart
// would find again.
import { ArgumentError } from '@lab/netlink-native'
import { Dhcp6Error } from '../errors.js'
import { BindingJournal, type BindingJournalOptions } from './journal.js'
import type { Lease6, Lease6Kind } from './lease.js'
import type { Pool6 } from './subnet.js'

export interface BindingDatabaseOptions {
  /** Where bindings persist; in memory only when omitted. */
  journalPath?: string
  /** How long an advertised address is held for the client, ms (default 60 s). */
  offerHoldMs?: number
  /** How long a declined address stays out of use, ms (default 10 min). */
  declineQuarantineMs?: number
  now?: () => number
  journal?: Omit<BindingJournalOptions<Lease6>, 'onCommit'>
}

/** Who is asking: the binding key and what reservations match on. */
export interface Requester {
  client: string
  kind: Lease6Kind
  duid: string
  iaid: number
  mac?: string
}

export class BindingDatabase {
  readonly #journal: BindingJournal<Lease6> | undefined
  readonly #byKey = new Map<string, Lease6>()
  readonly #byClient = new Map<string, Lease6>()
  readonly #durable = new Map<string, Lease6>()
  readonly #durableByClient = new Map<string, Lease6>()
  readonly #cursor = new Map<Pool6, bigint>()
  readonly #now: () => number
  readonly #offerHoldMs: number
  readonly #quarantineMs: number
  readonly damagedRecords: number

  private constructor(options: BindingDatabaseOptions, journal: BindingJournal<Lease6> | undefined, leases: Lease6[], damaged: number) {
    this.#journal = journal
    this.#now = options.now ?? Date.now
    this.#offerHoldMs = options.offerHoldMs ?? 60_000
    this.#quarantineMs = options.declineQuarantineMs ?? 10 * 60_000
    this.damagedRecords = damaged
    for (const lease of leases) this.#index(lease)
    this.#madeDurable(leases, false)
  }

  /**
   * Opens the database, with the journal's bindings when `journalPath` is given (created with its
   * directory if needed). Throws Dhcp6Error LAB_ERR_DHCP6_LEASE_FILE naming the path when the
   * journal cannot be created or opened.
   */
  static async open(options: BindingDatabaseOptions = {}): Promise<BindingDatabase> {
    if (!options.journalPath) return new BindingDatabase(options, undefined, [], 0)
    let db: BindingDatabase | undefined
    let opened
    try {
      opened = BindingJournal.open<Lease6>(options.journalPath, {
        ...options.journal,
        onCommit: (committed, compacted) => db!.#madeDurable(committed, compacted),
      })
    } catch (error) {
      throw new Dhcp6Error('LAB_ERR_DHCP6_LEASE_FILE', (error as Error).message, { cause: error })
    }
    db = new BindingDatabase(options, opened.journal, opened.leases, opened.damaged)
    return db
  }

  #madeDurable(leases: Lease6[], compacted: boolean): void {
    if (compacted) {
      this.#durable.clear()
      this.#durableByClient.clear()
    }
    for (const lease of leases) {
      this.#durable.set(lease.address, lease)
      if (lease.client) this.#durableByClient.set(lease.client, lease)
    }
  }

  get journalFailure(): Error | undefined {
    return this.#journal?.failure
  }

  /** The journal's counters; undefined when bindings are kept in memory only. */
  journalCounters(): { records: number; commits: number; failures: number } | undefined {
    return this.#journal?.counters()
  }

  now(): number {
    return this.#now()
  }

  /** The running binding of `client` that is on stable storage (at `key` when given). */
  durableBinding(client: string, key?: string): Lease6 | undefined {
    const byKey = this.#journal ? this.#durable : this.#byKey
    const lease = key !== undefined ? byKey.get(key) : (this.#journal ? this.#durableByClient : this.#byClient).get(client)
    if (!lease || lease.client !== client || lease.state !== 'bound' || lease.expiresAt <= this.#now()) return undefined
    return byKey.get(lease.address) === lease ? lease : undefined
  }

  #index(lease: Lease6): void {
    const previous = this.#byKey.get(lease.address)
    if (previous && previous.client !== lease.client && this.#byClient.get(previous.client) === previous) this.#byClient.delete(previous.client)
    this.#byKey.set(lease.address, lease)
    if (lease.client) {
      const old = this.#byClient.get(lease.client)
      // An IA holds one address (one prefix) here: the one it had before is free again.
      if (old && old.address !== lease.address && this.#byKey.get(old.address) === old) this.#byKey.delete(old.address)
      this.#byClient.set(lease.client, lease)
    }
  }

  #held(lease: Lease6 | undefined, now: number): boolean {
    return !!lease && lease.expiresAt > now && lease.state !== 'released' && lease.state !== 'expired'
  }

  /** Whether `key` (an address or prefix of `pool`) may go to the requester now. */
  available(pool: Pool6, key: string, who: Requester): boolean {
    if (pool.indexOf(key) === undefined) return false
    const reservedTo = pool.reservedTo(key)
    if (reservedTo !== undefined && reservedTo !== who.duid && reservedTo !== `mac:${who.mac ?? ''}`) return false
    const lease = this.#byKey.get(key)
    const now = this.#now()
    if (lease?.state === 'declined' && lease.expiresAt > now) return false
    return !this.#held(lease, now) || lease!.client === who.client
  }

  /** The address or prefix to give the requester from `pool`, or undefined when it is exhausted. */
  choose(pool: Pool6, who: Requester, hint?: string): string | undefined {
    const mine = (key: string | undefined) => key !== undefined && this.available(pool, key, who)
    const reserved = pool.reservedFor(who.duid, who.mac)
    if (mine(reserved)) return reserved
    const previous = this.#byClient.get(who.client)
    if (previous && previous.state !== 'declined' && mine(previous.address)) return previous.address
    if (mine(hint)) return hint
    const start = this.#cursor.get(pool) ?? 0n
    for (let i = 0n, n = start; i < pool.size; i++, n = n + 1n === pool.size ? 0n : n + 1n) {
      const key = pool.at(n)
      if (this.#byKey.has(key) || !this.available(pool, key, who)) continue
      // The next search starts past this one: it is about to be offered or bound.
      this.#cursor.set(pool, n + 1n === pool.size ? 0n : n + 1n)
      return key
    }
    // Every one has been used: the one that expired longest ago.
    let oldest: Lease6 | undefined
    for (const lease of this.#byKey.values()) {
      if (pool.indexOf(lease.address) === undefined || !this.available(pool, lease.address, who)) continue
      if (!oldest || lease.expiresAt < oldest.expiresAt) oldest = lease
    }
    return oldest?.address
  }

  /** Holds `key` for the requester while it decides (not journaled: an Advertise binds nothing). */
  offer(who: Requester, key: string): Lease6 {
    const now = this.#now()
    const current = this.#byKey.get(key)
    if (current?.state === 'bound' && current.client === who.client && current.expiresAt > now) return current
    const lease = this.#lease(who, key, 'offered', now + this.#offerHoldMs, now + this.#offerHoldMs)
    this.#index(lease)
    return lease
  }

  /**
   * Binds `key` to the requester for the lifetimes (seconds): in effect at once and queued for
   * the journal; `durable()` resolves once it is on stable storage. Throws ArgumentError when
   * `available()` is false (a caller's bug).
   */
  bind(pool: Pool6, who: Requester, key: string, preferred: number, valid: number): Lease6 {
    if (!this.available(pool, key, who)) throw new ArgumentError('key', `${key} is not available to ${who.client}`)
    const now = this.#now()
    const lease = this.#lease(who, key, 'bound', now + valid * 1000, now + preferred * 1000)
    this.#persist(lease)
    return lease
  }

  #lease(who: Requester, key: string, state: Lease6['state'], expiresAt: number, preferredUntil: number): Lease6 {
    const updatedAt = this.#now()
    return who.mac
      ? { address: key, client: who.client, kind: who.kind, duid: who.duid, iaid: who.iaid, mac: who.mac, state, expiresAt, preferredUntil, updatedAt }
      : { address: key, client: who.client, kind: who.kind, duid: who.duid, iaid: who.iaid, state, expiresAt, preferredUntil, updatedAt }
  }

  /** The client gave `key` back (Release); the record stays, for stickiness. */
  release(client: string, key: string): Lease6 | undefined {
    const lease = this.#byKey.get(key)
    if (!lease || lease.client !== client || lease.state === 'released') return undefined
    const now = this.#now()
    const released: Lease6 = { ...lease, state: 'released', expiresAt: now, preferredUntil: now, updatedAt: now }
    this.#persist(released)
    return released
  }

  /** The client found `key` in use (Decline): out of use for the quarantine time. */
  decline(client: string, key: string): Lease6 | undefined {
    const lease = this.#byKey.get(key)
    if (!lease || lease.client !== client) return undefined
    const now = this.#now()
    this.#byClient.delete(client)
    const declined: Lease6 = { ...lease, client: '', state: 'declined', expiresAt: now + this.#quarantineMs, preferredUntil: now, updatedAt: now }
    this.#persist(declined)
    return declined
  }

  #persist(lease: Lease6): void {
    this.#journal?.record(lease)
    this.#index(lease)
    if (this.#journal && this.#journal.records > 1000 && this.#journal.records > 4 * this.#byKey.size) this.#journal.compact(this.#snapshot)
  }

  readonly #snapshot = () => [...this.#byKey.values()].filter((l) => l.state !== 'offered')

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

  /** Resolves when everything recorded so far is on stable storage; rejects while writing fails. */
  durable(): Promise<void> {
    return this.#journal?.durable() ?? Promise.resolve()
  }

  /** Frees what ran out: lapsed offers are forgotten, expired bindings marked (kept for stickiness). */
  sweep(): { expired: Lease6[]; lapsedOffers: number } {
    const now = this.#now()
    const result = { expired: [] as Lease6[], lapsedOffers: 0 }
    for (const lease of [...this.#byKey.values()]) {
      if (lease.expiresAt > now) continue
      if (lease.state === 'offered') {
        this.#byKey.delete(lease.address)
        if (this.#byClient.get(lease.client) === lease) this.#byClient.delete(lease.client)
        result.lapsedOffers++
      } else if (lease.state === 'bound') {
        const expired: Lease6 = { ...lease, state: 'expired' }
        this.#byKey.set(lease.address, expired)
        if (this.#byClient.get(lease.client) === lease) this.#byClient.set(lease.client, expired)
        result.expired.push(expired)
      }
    }
    return result
  }

  /** How many of `pool`'s addresses or prefixes a new client could get now. */
  free(pool: Pool6): number {
    const now = this.#now()
    const inPool = this.#membership(pool)
    let taken = 0n
    for (const lease of this.#byKey.values()) {
      if (!inPool(lease.address)) continue
      if (this.#held(lease, now) || (lease.state === 'declined' && lease.expiresAt > now)) taken++
    }
    return Number(pool.size - taken)
  }

  /** Bindings of `pool` that are bound and running now. */
  active(pool: Pool6): number {
    const now = this.#now()
    const inPool = this.#membership(pool)
    let n = 0
    for (const lease of this.#byKey.values()) if (lease.state === 'bound' && lease.expiresAt > now && inPool(lease.address)) n++
    return n
  }

  /**
   * Whether a binding's key is in `pool`, remembered per pool: free() and active() walk every
   * binding on each metrics scrape, and parsing each key's IPv6 text again made a walk over
   * 20 000 bindings take 26-33 ms of the event loop. What is remembered is let go once it
   * outgrows the bindings (keys of lapsed offers).
   */
  #membership(pool: Pool6): (key: string) => boolean {
    let memo = this.#inPool.get(pool)
    if (!memo || memo.size > 2 * this.#byKey.size + 1024) this.#inPool.set(pool, (memo = new Map()))
    const known = memo
    return (key) => {
      let yes = known.get(key)
      if (yes === undefined) known.set(key, (yes = pool.has(key)))
      return yes
    }
  }

  readonly #inPool = new WeakMap<Pool6, Map<string, boolean>>()

  leaseOf(client: string): Lease6 | undefined {
    return this.#byClient.get(client)
  }

  at(key: string): Lease6 | undefined {
    return this.#byKey.get(key)
  }

  list(): Lease6[] {
    return [...this.#byKey.values()]
  }

  async close(): Promise<void> {
    try {
      await this.#journal?.close()
    } catch (error) {
      throw new Dhcp6Error('LAB_ERR_DHCP6_LEASE_FILE', (error as Error).message, { cause: error })
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}
