// The client's RFC 8415 state machine (section 18.2), free of sockets: it sends through an injected
// `io`, keeps time with an injected clock, and reports leases through `onLease`. Tests drive it
// with a fake clock and replies built as values.
import { randomInt } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { silentLogger, type Logger } from '@lab/netlink-native'
import type { Clock, TimerHandle } from '@lab/clock'
import { INFINITE, expiresAt, leaseFromInformation, leaseFromReply, rebase, remaining, usableBindings, type Dhcp6Lease } from './lease.js'
import { STATUS, decodeDuid, type Dhcp6Message, type Duid } from '../codec/index.js'
import { DEFAULT_REQUESTED_OPTIONS, buildClientMessage, readServerMessage, sameDuid, type AddressIa, type ClientMessageType, type ClientRequest, type PrefixIa, type ServerReply } from './messages.js'
import { RFC8415_RETRANSMIT, nextTimeout, type ExchangeKind, type RetransmitParameters } from './retransmit.js'
import { LeaseReports } from '@lab/dhcp4'

export type ClientState = 'stopped' | 'soliciting' | 'requesting' | 'bound' | 'renewing' | 'rebinding' | 'confirming' | 'declining' | 'releasing' | 'informing'

/**
 * Why a lease changed: `acquire` (a new lease), `renew` (a Reply to Renew or Rebind), `confirm`
 * (the lease holds after the link came back: the same lease with what is left of its times),
 * `expire` (the last valid lifetime ended), `release`, `not-on-link` (a Confirm's Reply said the
 * client is on another link now).
 */
export type LeaseChangeReason = 'acquire' | 'renew' | 'confirm' | 'expire' | 'release' | 'not-on-link'

/** Called on every change of the lease: old and new (either may be undefined). */
export type LeaseCallback = (old: Dhcp6Lease | undefined, next: Dhcp6Lease | undefined, reason: LeaseChangeReason) => Promise<void> | void

export interface MachineIo {
  /** To All_DHCP_Relay_Agents_and_Servers (ff02::1:2) port 547, from the link-local address. */
  send(message: Dhcp6Message): void
}

export interface MachineOptions {
  interface: string
  /** The client's DUID (see duidLl). */
  duid: Duid
  /** The IAID of the IA_NA and the IA_PD. */
  iaid: number
  /** Ask for an address (IA_NA). Default true, false when `stateless`. */
  addresses?: boolean
  /** Ask for a delegated prefix (IA_PD), optionally hinting its length. Default false. */
  prefixDelegation?: boolean | { prefixLength: number }
  /** Only configuration, no addresses: Information-Request (RFC 8415 18.2.6). Default false. */
  stateless?: boolean
  /** Put Rapid Commit in the Solicit (21.14), so a server may answer with a Reply at once. Default true. */
  rapidCommit?: boolean
  /** The Option Request option; default DEFAULT_REQUESTED_OPTIONS. */
  requestedOptions?: number[]
  clock: Clock
  /** Uniform 0..1, for RAND and the initial delays. Default Math.random. */
  random?: () => number
  /** Changes to section 7.6's retransmission parameters, per exchange, in ms. */
  retransmit?: Partial<Record<ExchangeKind, Partial<RetransmitParameters>>>
  /** Which of a new lease's addresses are already in use on the link (e.g. failed DAD); those are declined (18.2.8). */
  conflict?: (addresses: string[]) => Promise<string[]>
  onLease: LeaseCallback
  /** A pino-shaped logger; nothing is logged without one. */
  logger?: Logger
}

interface TransmitOptions {
  /** MRD for this exchange, ms (Renew: until T2; Rebind: until the lease ends). */
  mrd?: number
  /** Runs when the first RT ends; true stops the retransmissions (a Solicit that has Advertises). */
  onFirstTimeout?: () => boolean
  /** Runs when MRC or MRD is spent. */
  giveUp?: () => void
}

export class ClientMachine extends EventEmitter<{ state: [ClientState]; lease: [{ old?: Dhcp6Lease; next?: Dhcp6Lease; reason: LeaseChangeReason }]; error: [Error]; declined: [string[]] }> {
  #state: ClientState = 'stopped'
  #lease: Dhcp6Lease | undefined
  #xid = 0
  #exchangeStart = 0
  /** Timers of the exchange in progress: cancelled on every transition. */
  #timers: TimerHandle[] = []
  /** T1, T2 and the end of the lease: they outlive exchanges (a Confirm keeps them). */
  #leaseTimers: TimerHandle[] = []
  /** Advertises collected during the first RT of a Solicit, best first once chosen. */
  #advertises: ServerReply[] = []
  #firstTimeoutPassed = false
  /** The other Advertises of the last Solicit, best first: where a failed Request goes next. */
  #fallback: ServerReply[] = []
  /** Bumped on every transition: async work begun in an older state is dropped. */
  #generation = 0
  #onReleased: (() => void) | undefined
  readonly #params: Record<ExchangeKind, RetransmitParameters>
  readonly #random: () => number
  readonly #log: Logger

  constructor(
    readonly options: MachineOptions,
    readonly io: MachineIo,
  ) {
    super()
    const p = { ...RFC8415_RETRANSMIT } as Record<ExchangeKind, RetransmitParameters>
    for (const [kind, changes] of Object.entries(options.retransmit ?? {})) p[kind as ExchangeKind] = { ...p[kind as ExchangeKind], ...changes }
    this.#params = p
    this.#random = options.random ?? Math.random
    this.#log = options.logger ?? silentLogger
  }

  get state(): ClientState {
    return this.#state
  }

  get lease(): Dhcp6Lease | undefined {
    return this.#lease
  }

  get #wantsAddresses(): boolean {
    return !this.options.stateless && this.options.addresses !== false
  }

  get #wantsPrefix(): boolean {
    return !this.options.stateless && !!this.options.prefixDelegation
  }

  /**
   * Starts: stateless with an Information-Request; with a previous, unexpired lease (a restart)
   * with a Rebind for it, which any server may answer with fresh lifetimes (and which, unlike a
   * Confirm, also covers delegated prefixes); else with a Solicit.
   */
  start(previous?: Dhcp6Lease): void {
    if (this.options.stateless) return this.#inform()
    if (previous && !previous.stateless && expiresAt(previous) > this.options.clock.now()) {
      this.#lease = previous
      this.#armLease(previous)
      return this.#rebind()
    }
    this.#solicit()
  }

  /**
   * After the link may have changed (it went down and up): Confirm the addresses (18.2.3), or
   * Rebind when only prefixes are held (18.2.12). Without a Reply within CNF_MAX_RD the lease is
   * kept as it was; a NotOnLink Reply drops it and starts over.
   */
  confirm(): void {
    const lease = this.#lease
    if (!lease || lease.stateless || !(this.#state === 'bound' || this.#state === 'renewing' || this.#state === 'rebinding')) return
    if (lease.addresses.length === 0) return this.#rebind()
    this.#enter('confirming')
    const iaNa: AddressIa[] = [{ iaid: this.options.iaid, t1: 0, t2: 0, addresses: lease.addresses.map((a) => ({ address: a.address, preferredLifetime: 0, validLifetime: 0 })) }]
    this.#transmit('confirm', () => this.#message('CONFIRM', { iaNa, requestedOptions: [] }), { giveUp: () => void this.#confirmed() })
  }

  /**
   * Gives the lease back: the callbacks undo it first (18.2.7: the client stops using the leases
   * before it sends the Release), then a Release goes out until a Reply or REL_MAX_RC
   * transmissions. Resolves when that exchange ends; the machine is then stopped.
   */
  async release(): Promise<void> {
    const lease = this.#lease
    this.#cancelLeaseTimers()
    this.#lease = undefined
    if (!lease || lease.stateless || this.#state === 'stopped') {
      this.#enter('stopped')
      if (lease) await this.#report(lease, undefined, 'release')
      return
    }
    this.#enter('releasing')
    await this.#report(lease, undefined, 'release')
    if (this.#state !== 'releasing') return
    const { addresses, prefixes } = remaining(lease, this.options.clock.now())
    const ia = this.#iaFor(addresses, prefixes)
    await new Promise<void>((resolve) => {
      this.#onReleased = resolve
      this.#transmit('release', () => this.#message('RELEASE', { serverId: decodeDuid(Buffer.from(lease.serverId, 'hex')), ...ia, requestedOptions: [] }), {
        giveUp: () => this.#enter('stopped'),
      })
    })
  }

  /** Stops without telling the server (the lease stays configured until it ends). */
  stop(): void {
    this.#cancelLeaseTimers()
    this.#enter('stopped')
  }

  // --- transitions ---

  #enter(state: ClientState): number {
    for (const t of this.#timers) t.cancel()
    this.#timers = []
    this.#advertises = []
    const wasReleasing = this.#onReleased
    this.#onReleased = undefined
    this.#state = state
    this.emit('state', state)
    wasReleasing?.()
    return ++this.#generation
  }

  #after(ms: number, fn: () => void): void {
    this.#timers.push(this.options.clock.setTimeout(fn, ms))
  }

  #cancelLeaseTimers(): void {
    for (const t of this.#leaseTimers) t.cancel()
    this.#leaseTimers = []
  }

  /**
   * Sends the message `build` makes, then again on section 15's schedule: each RT from
   * nextTimeout, the exchange failing after MRC transmissions or MRD. The transaction ID stays the
   * same for the retransmissions (16.1); Elapsed Time counts from the first transmission.
   */
  #transmit(kind: ExchangeKind, build: () => ClientRequest, options: TransmitOptions = {}): void {
    const p = { ...this.#params[kind], ...(options.mrd !== undefined ? { mrd: options.mrd } : {}) }
    // 16.1: a fresh transaction ID per exchange, from the system's generator (not `random`, which
    // only spreads timeouts), and never the last one: a late reply to it must not match.
    const previous = this.#xid
    do this.#xid = randomInt(0x1000000)
    while (this.#xid === previous)
    this.#firstTimeoutPassed = false
    let rt: number | undefined
    let count = 0
    const begin = () => {
      this.#exchangeStart = this.options.clock.now()
      const deadline = p.mrd > 0 ? this.#exchangeStart + p.mrd : Infinity
      const send = () => {
        this.io.send(buildClientMessage(build()))
        count++
        rt = nextTimeout(rt, p, this.#random, kind === 'solicit' && count === 1)
        this.#after(Math.min(rt, deadline - this.options.clock.now()), () => {
          if (count === 1) {
            this.#firstTimeoutPassed = true
            if (options.onFirstTimeout?.()) return
          }
          if ((p.mrc > 0 && count >= p.mrc) || this.options.clock.now() >= deadline) {
            this.#log.debug({ kind, transmissions: count }, 'exchange gave up')
            options.giveUp?.()
            return
          }
          send()
        })
      }
      send()
    }
    // 18.2.1, 18.2.3, 18.2.6: the first Solicit, Confirm or Information-Request waits a random
    // 0..MAX_DELAY, so clients that start together (a power cut) do not all send at once.
    const delay = p.maxDelay > 0 ? this.#random() * p.maxDelay : 0
    if (delay > 0) this.#after(delay, begin)
    else begin()
  }

  #message(type: ClientMessageType, fields: Partial<ClientRequest> = {}): ClientRequest {
    return {
      type,
      transactionId: this.#xid,
      clientId: this.options.duid,
      elapsedTime: Math.min(0xffff, Math.floor((this.options.clock.now() - this.#exchangeStart) / 10)),
      requestedOptions: this.options.requestedOptions ?? DEFAULT_REQUESTED_OPTIONS,
      iaNa: [],
      iaPd: [],
      ...fields,
    }
  }

  /** The IA_NA and IA_PD a message carries: the given bindings, or empty IAs that ask for them. */
  #iaFor(addresses: AddressIa['addresses'], prefixes: PrefixIa['prefixes']): { iaNa: AddressIa[]; iaPd: PrefixIa[] } {
    const iaid = this.options.iaid
    const pd = this.options.prefixDelegation
    const hint = typeof pd === 'object' && prefixes.length === 0 ? [{ prefix: '::', prefixLength: pd.prefixLength, preferredLifetime: 0, validLifetime: 0 }] : prefixes
    return {
      iaNa: this.#wantsAddresses || addresses.length ? [{ iaid, t1: 0, t2: 0, addresses }] : [],
      iaPd: this.#wantsPrefix || prefixes.length ? [{ iaid, t1: 0, t2: 0, prefixes: hint }] : [],
    }
  }

  #solicit(): void {
    this.#enter('soliciting')
    const rapidCommit = this.options.rapidCommit ?? true
    this.#transmit('solicit', () => this.#message('SOLICIT', { ...this.#iaFor([], []), ...(rapidCommit ? { rapidCommit: true } : {}) }), {
      // 18.2.1: after the first RT, take the best Advertise collected; with none, retransmit and
      // take the first that comes.
      onFirstTimeout: () => {
        if (this.#advertises.length === 0) return false
        this.#requestBest()
        return true
      },
    })
  }

  /** 18.2.9: the highest preference wins; among equals, the one offering more, then the first. */
  #requestBest(): void {
    const score = (m: ServerReply) => {
      const b = usableBindings(m, this.options.iaid)
      return m.preference * 4 + (b.iaNa.length > 0 ? 2 : 0) + (b.iaPd.length > 0 ? 1 : 0)
    }
    const ranked = [...this.#advertises].sort((a, b) => score(b) - score(a))
    this.#request(ranked[0]!, ranked.slice(1))
  }

  /** Request the Advertise's bindings from its server; when that fails, the next Advertise, then Solicit again. */
  #request(advertise: ServerReply, others: ServerReply[]): void {
    this.#enter('requesting')
    const b = usableBindings(advertise, this.options.iaid)
    // The advertised bindings go back as hints, lifetimes 0 (18.2.2).
    const addresses = b.iaNa.flatMap((ia) => ia.addresses).map((a) => ({ address: a.address, preferredLifetime: 0, validLifetime: 0 }))
    const prefixes = b.iaPd.flatMap((ia) => ia.prefixes).map((p) => ({ ...p, preferredLifetime: 0, validLifetime: 0 }))
    const ia = this.#iaFor(addresses, prefixes)
    this.#fallback = others
    this.#transmit('request', () => this.#message('REQUEST', { serverId: advertise.serverId!, ...ia }), { giveUp: () => this.#nextServer() })
  }

  /** This server will not do (no answer, or nothing to give): the next Advertise, else Solicit again. */
  #nextServer(): void {
    const others = this.#fallback
    if (others.length) this.#request(others[0]!, others.slice(1))
    else this.#solicit()
  }

  #armLease(lease: Dhcp6Lease): void {
    this.#cancelLeaseTimers()
    const now = this.options.clock.now()
    const at = (seconds: number, fn: () => void) => {
      if (seconds === INFINITE) return
      this.#leaseTimers.push(this.options.clock.setTimeout(fn, Math.max(0, lease.acquiredAt + seconds * 1000 - now)))
    }
    if (lease.stateless) return at(lease.t1, () => this.#inform())
    at(lease.t1, () => this.#renew())
    at(lease.t2, () => this.#rebind())
    at(lease.validLifetime, () => void this.#expire())
  }

  /** 18.2.4: at T1, Renew with the server that gave the lease, until T2. */
  #renew(): void {
    const lease = this.#lease
    if (!lease || this.#state === 'confirming' || this.#state === 'releasing' || this.#state === 'rebinding') return
    this.#enter('renewing')
    const t2 = lease.t2 === INFINITE ? Infinity : lease.acquiredAt + lease.t2 * 1000
    const { addresses, prefixes } = remaining(lease, this.options.clock.now())
    const ia = this.#iaFor(addresses, prefixes)
    this.#transmit('renew', () => this.#message('RENEW', { serverId: decodeDuid(Buffer.from(lease.serverId, 'hex')), ...ia }), {
      ...(t2 !== Infinity ? { mrd: Math.max(1, t2 - this.options.clock.now()) } : {}),
    })
  }

  /** 18.2.5: at T2, Rebind with any server, until the lease ends. */
  #rebind(): void {
    const lease = this.#lease
    if (!lease || this.#state === 'releasing') return
    this.#enter('rebinding')
    const end = expiresAt(lease)
    const { addresses, prefixes } = remaining(lease, this.options.clock.now())
    const ia = this.#iaFor(addresses, prefixes)
    this.#transmit('rebind', () => this.#message('REBIND', ia), {
      ...(end !== Infinity ? { mrd: Math.max(1, end - this.options.clock.now()) } : {}),
    })
  }

  /**
   * The lease holds after a link change (a Success, or no answer within CNF_MAX_RD: 18.2.3 says
   * keep using it): back to bound with its times counted down, which pass T1 or T2 at once if
   * due, and through the callbacks again, since a link going down takes its IPv6 addresses.
   */
  async #confirmed(): Promise<void> {
    const old = this.#lease
    if (!old) return this.#solicit()
    const lease = rebase(old, this.options.clock.now())
    this.#lease = lease
    this.#enter('bound')
    this.#armLease(lease)
    await this.#report(old, lease, 'confirm')
  }

  async #expire(): Promise<void> {
    const old = this.#lease
    this.#lease = undefined
    this.#cancelLeaseTimers()
    this.#solicit()
    if (old) await this.#report(old, undefined, 'expire')
  }

  async #drop(reason: LeaseChangeReason): Promise<void> {
    const old = this.#lease
    this.#lease = undefined
    this.#cancelLeaseTimers()
    this.#solicit()
    if (old) await this.#report(old, undefined, reason)
  }

  #inform(): void {
    this.#enter('informing')
    this.#transmit('information-request', () => this.#message('INFORMATION-REQUEST'))
  }

  async #bind(reply: ServerReply, from: string | undefined, state: ClientState): Promise<void> {
    const lease = leaseFromReply(reply, { interface: this.options.interface, iaid: this.options.iaid, acquiredAt: this.options.clock.now(), ...(from ? { serverAddress: from } : {}) })
    if ((state === 'soliciting' || state === 'requesting') && this.options.conflict && lease.addresses.length) {
      const generation = this.#generation
      const inUse = await this.options.conflict(lease.addresses.map((a) => a.address)).catch((error: unknown) => {
        // A check that could not run says nothing about the addresses: take them, as a client
        // without one would, and say so.
        this.#log.warn({ err: error }, 'conflict check failed: taking the addresses unchecked')
        return [] as string[]
      })
      if (generation !== this.#generation) return
      if (inUse.length) return this.#decline(lease, inUse)
    }
    const old = this.#lease
    this.#lease = lease
    this.#enter('bound')
    this.#armLease(lease)
    // Every Reply goes to the callbacks, also one that changes only lifetimes: the kernel's
    // address lifetimes must follow the lease's.
    await this.#report(old, lease, old ? 'renew' : 'acquire')
  }

  /** 18.2.8: addresses found in use go back to the server in a Decline; then the client starts over. */
  #decline(lease: Dhcp6Lease, inUse: string[]): void {
    this.#enter('declining')
    this.emit('declined', inUse)
    const iaNa: AddressIa[] = [{ iaid: this.options.iaid, t1: 0, t2: 0, addresses: lease.addresses.filter((a) => inUse.includes(a.address)).map((a) => ({ ...a, preferredLifetime: 0, validLifetime: 0 })) }]
    this.#transmit('decline', () => this.#message('DECLINE', { serverId: decodeDuid(Buffer.from(lease.serverId, 'hex')), iaNa, requestedOptions: [] }), { giveUp: () => this.#solicit() })
  }

  // Lease changes reach the callbacks and listeners one at a time, in the order they happened.
  readonly #reports = new LeaseReports<Dhcp6Lease, LeaseChangeReason>(
    (old, next, reason) => this.options.onLease(old, next, reason),
    (change) => this.emit('lease', change),
    (error) => this.emit('error', error),
  )

  #report(old: Dhcp6Lease | undefined, next: Dhcp6Lease | undefined, reason: LeaseChangeReason): Promise<void> {
    return this.#reports.report(old, next, reason)
  }

  // --- replies ---

  /** An Advertise or Reply from `from` (its source address); anything not for the exchange in progress is ignored. */
  receive(message: Dhcp6Message, from?: string): void {
    if (message.transactionId !== this.#xid) return
    const m = readServerMessage(message)
    // 16.10, 16.11: a reply must echo our transaction ID and DUID and name its server.
    if (!sameDuid(m.clientId, this.options.duid) || !m.serverId) return
    const state = this.#state
    if (m.type === 'ADVERTISE' && state === 'soliciting') return this.#advertise(m)
    if (m.type !== 'REPLY') return
    // UseMulticast (18.2.10): we always multicast, so keep retransmitting as we were.
    if (m.status?.code === STATUS.UseMulticast) return
    switch (state) {
      case 'soliciting':
        // 18.2.10: a Reply to a Solicit counts only with Rapid Commit in it (and in ours).
        if (m.rapidCommit && (this.options.rapidCommit ?? true) && this.#hasBindings(m)) void this.#bind(m, from, state)
        return
      case 'requesting':
        if (m.status?.code === STATUS.NotOnLink) return this.#solicit()
        if (this.#hasBindings(m)) void this.#bind(m, from, state)
        // NoAddrsAvail and the like (18.2.10.1): this server has nothing after all.
        else this.#nextServer()
        return
      case 'renewing':
      case 'rebinding':
        return this.#renewed(m, from, state)
      case 'confirming':
        if (m.status?.code === STATUS.NotOnLink) void this.#drop('not-on-link')
        else void this.#confirmed()
        return
      case 'declining':
        return this.#solicit()
      case 'releasing':
        this.#enter('stopped')
        return
      case 'informing':
        return void this.#informed(m, from)
    }
  }

  #hasBindings(m: ServerReply): boolean {
    const b = usableBindings(m, this.options.iaid)
    return b.iaNa.length + b.iaPd.length > 0
  }

  #advertise(m: ServerReply): void {
    if (m.solMaxRt !== undefined && m.solMaxRt >= 60 && m.solMaxRt <= 86_400) this.#params.solicit.mrt = m.solMaxRt * 1000 // 21.24's range
    // 18.2.9 (RFC 8415 16.3): an Advertise with no bindings for us is ignored.
    if (!this.#hasBindings(m)) return
    this.#advertises.push(m)
    // 18.2.9: preference 255 is taken at once; after the first RT, so is any Advertise.
    if (m.preference === 255 || this.#firstTimeoutPassed) this.#requestBest()
  }

  #renewed(m: ServerReply, from: string | undefined, state: 'renewing' | 'rebinding'): void {
    const lease = this.#lease
    if (!lease) return
    // 18.2.10.1: NoBinding for an IA of ours: the server lost it; ask for it with a Request.
    const ours = [...m.iaNa, ...m.iaPd].filter((ia) => ia.iaid === this.options.iaid)
    if (ours.some((ia) => ia.status?.code === STATUS.NoBinding)) {
      const addresses = lease.addresses.map((a) => ({ iaid: this.options.iaid, t1: 0, t2: 0, addresses: [a] }))
      const prefixes = lease.prefixes.map((p) => ({ iaid: this.options.iaid, t1: 0, t2: 0, prefixes: [p] }))
      return this.#request({ ...m, iaNa: addresses, iaPd: prefixes }, [])
    }
    // Nothing usable (NoAddrsAvail, lifetimes 0 for everything): keep trying until T2 or the end.
    if (this.#hasBindings(m)) void this.#bind(m, from, state)
  }

  async #informed(m: ServerReply, from: string | undefined): Promise<void> {
    if (m.infMaxRt !== undefined && m.infMaxRt >= 60 && m.infMaxRt <= 86_400) this.#params['information-request'].mrt = m.infMaxRt * 1000 // 21.25's range
    const lease = leaseFromInformation(m, { interface: this.options.interface, acquiredAt: this.options.clock.now(), ...(from ? { serverAddress: from } : {}) })
    const old = this.#lease
    this.#lease = lease
    this.#enter('bound')
    this.#armLease(lease)
    await this.#report(old, lease, old ? 'renew' : 'acquire')
  }
}
