// The client's RFC 2131 state machine (section 4.4, figure 5), free of sockets: it sends through
// an injected `io`, keeps time with an injected clock, and reports leases through `onLease`. Tests
// drive it with a fake clock and hand-made server replies.
import { EventEmitter } from 'node:events'
import { silentLogger, type Logger } from '@lab/netlink-native'
import { DhcpMessage } from '../codec/message.js'
import type { MessageType } from '../codec/options.js'
import type { Clock, TimerHandle } from '@lab/clock'
import { INFINITE, expiresAt, leaseFromAck, sameConfiguration, type ClientLease } from './lease.js'
import { LeaseReports } from './lease-reports.js'

export type ClientState = 'init' | 'selecting' | 'requesting' | 'bound' | 'renewing' | 'rebinding' | 'rebooting' | 'stopped'

export type LeaseChangeReason = 'acquire' | 'renew' | 'expire' | 'nak' | 'release'

/** Called on every change of the lease: old and new (either may be undefined). */
export type LeaseCallback = (old: ClientLease | undefined, next: ClientLease | undefined, reason: LeaseChangeReason) => Promise<void> | void

export interface MachineIo {
  /** To every server on the link, from 0.0.0.0 (or ciaddr) to 255.255.255.255:67. */
  broadcast(message: DhcpMessage): void
  /** To one server (RENEWING, RELEASE); the lease tells where it is. */
  unicast(message: DhcpMessage, lease: ClientLease): void
}

export interface RetransmitPolicy {
  /** First wait, ms (RFC 2131 4.1: 4 s). */
  initialMs: number
  /** Longest wait, ms (64 s). */
  maxMs: number
  /** Random spread each way, ms (±1 s). */
  jitterMs: number
}

export const RFC2131_RETRANSMIT: RetransmitPolicy = { initialMs: 4000, maxMs: 64_000, jitterMs: 1000 }

/** What a client asks for by default (option 55). */
export const DEFAULT_PARAMETERS = [1, 3, 6, 12, 15, 26, 28, 42, 51, 54, 58, 59, 119, 121]

export interface MachineOptions {
  interface: string
  mac: string
  clientId: Buffer
  hostname?: string
  vendorClass?: string
  parameters?: number[]
  clock: Clock
  random?: () => number
  retransmit?: Partial<RetransmitPolicy>
  /** REQUEST retransmissions before starting over (REQUESTING, REBOOTING). Default 3. */
  requestRetries?: number
  /** Collect offers this long before choosing (0: take the first). */
  offerWindowMs?: number
  /** Take this server's offer when it comes within the window. */
  preferServer?: string
  /** How long to wait after a DECLINE before starting over (RFC 2131 3.1.5: at least 10 s). */
  declineWaitMs?: number
  /** Whether the offered address is in use on the link (e.g. an RFC 5227 ARP probe). */
  conflict?: (address: string) => Promise<boolean>
  onLease: LeaseCallback
  /** A pino-shaped logger; nothing is logged without one. */
  logger?: Logger
}

export class ClientMachine extends EventEmitter<{ state: [ClientState]; lease: [{ old?: ClientLease; next?: ClientLease; reason: LeaseChangeReason }]; error: [Error]; declined: [string] }> {
  #state: ClientState = 'stopped'
  #lease: ClientLease | undefined
  /** The lease asked for again in INIT-REBOOT: possibly still configured, so a NAK must undo it. */
  #previous: ClientLease | undefined
  #xid = 0
  #exchangeStart = 0
  #timers: TimerHandle[] = []
  #offers: DhcpMessage[] = []
  #offerTimer: TimerHandle | undefined
  /** Bumped on every transition: async work begun in an older state is dropped. */
  #generation = 0
  readonly #retransmit: RetransmitPolicy
  readonly #random: () => number

  constructor(
    readonly options: MachineOptions,
    readonly io: MachineIo,
  ) {
    super()
    this.#retransmit = { ...RFC2131_RETRANSMIT, ...options.retransmit }
    this.#random = options.random ?? Math.random
  }

  get state(): ClientState {
    return this.#state
  }

  get lease(): ClientLease | undefined {
    return this.#lease
  }

  /** Starts: INIT-REBOOT with a previous, unexpired lease, else INIT. */
  start(previous?: ClientLease): void {
    if (previous && expiresAt(previous) > this.options.clock.now()) this.#reboot(previous)
    else this.#init()
  }

  /** Gives the lease back (DHCPRELEASE) and stops. */
  async release(): Promise<void> {
    const lease = this.#lease
    if (lease && (this.#state === 'bound' || this.#state === 'renewing' || this.#state === 'rebinding')) {
      this.#newExchange()
      const m = this.#message('RELEASE', lease.address)
      m.set(54, lease.serverId)
      this.io.unicast(m, lease)
      this.#enter('stopped')
      this.#lease = undefined
      await this.#report(lease, undefined, 'release')
    } else {
      this.#enter('stopped')
    }
  }

  /** Stops without telling the server (the lease stays configured until it expires). */
  stop(): void {
    this.#enter('stopped')
  }

  // --- transitions ---

  #enter(state: ClientState): number {
    for (const t of this.#timers) t.cancel()
    this.#timers = []
    this.#offerTimer?.cancel()
    this.#offerTimer = undefined
    this.#offers = []
    this.#state = state
    this.emit('state', state)
    return ++this.#generation
  }

  #after(ms: number, fn: () => void): void {
    this.#timers.push(this.options.clock.setTimeout(fn, ms))
  }

  #newExchange(): void {
    this.#xid = Math.floor(this.#random() * 0x100000000) >>> 0
    this.#exchangeStart = this.options.clock.now()
  }

  /** RFC 2131 4.1: 4, 8, 16, 32, 64 s, each ±1 s. */
  #backoff(attempt: number): number {
    const r = this.#retransmit
    const base = Math.min(r.initialMs * 2 ** attempt, r.maxMs)
    return Math.max(0, base + (this.#random() * 2 - 1) * r.jitterMs)
  }

  /** Sends, then resends on the backoff schedule; `giveUp` runs when `retries` are spent. */
  #sendWithRetries(send: () => void, retries: number, giveUp?: () => void): void {
    const attempt = (n: number) => {
      send()
      if (n >= retries) {
        if (giveUp) this.#after(this.#backoff(n), giveUp)
        return
      }
      this.#after(this.#backoff(n), () => attempt(n + 1))
    }
    attempt(0)
  }

  #init(): void {
    this.#enter('selecting')
    this.#newExchange()
    this.#sendWithRetries(() => this.io.broadcast(this.#discover()), Infinity)
  }

  #reboot(previous: ClientLease): void {
    this.#enter('rebooting')
    this.#newExchange()
    this.#lease = undefined
    this.#previous = previous
    const request = () => {
      const m = this.#message('REQUEST')
      m.set(50, previous.address)
      this.#withParameters(m)
      this.io.broadcast(m)
    }
    this.#sendWithRetries(request, this.options.requestRetries ?? 3, () => this.#init())
  }

  #select(offer: DhcpMessage): void {
    const server = offer.get(54)
    if (!server) return
    this.#enter('requesting')
    const request = () => {
      const m = this.#message('REQUEST')
      m.set(50, offer.yiaddr).set(54, server)
      this.#withParameters(m)
      this.io.broadcast(m)
    }
    this.#sendWithRetries(request, this.options.requestRetries ?? 3, () => this.#init())
  }

  async #bind(ack: DhcpMessage, serverMac: string | undefined, from: ClientState): Promise<void> {
    const lease = leaseFromAck(ack, { interface: this.options.interface, acquiredAt: this.options.clock.now(), ...(serverMac ? { serverMac } : {}), ...(this.#lease ? { requestedServer: this.#lease.serverId } : {}) })
    if (from === 'requesting' || from === 'rebooting') {
      // RFC 2131 4.4.1: check that nobody else uses the address before taking it.
      const generation = this.#generation
      const conflict = this.options.conflict
        ? await this.options.conflict(lease.address).catch((error: unknown) => {
            // A probe that could not run says nothing about the address: take it, as a client
            // without a probe would (RFC 2131 4.4.1 makes the check a SHOULD), and say so.
            ;(this.options.logger ?? silentLogger).warn({ err: error, address: lease.address }, 'conflict check failed: taking the address unchecked')
            return false
          })
        : false
      if (generation !== this.#generation) return
      if (conflict) {
        const m = this.#message('DECLINE')
        m.set(50, lease.address).set(54, lease.serverId)
        this.io.broadcast(m)
        this.emit('declined', lease.address)
        this.#enter('init')
        this.#after(this.options.declineWaitMs ?? 10_000, () => this.#init())
        return
      }
    }
    const old = this.#lease
    this.#lease = lease
    this.#previous = undefined
    const generation = this.#enter('bound')
    this.#scheduleLeaseTimers(lease)
    if (!old || old.address !== lease.address) await this.#report(old, lease, 'acquire')
    else if (!sameConfiguration(old, lease)) await this.#report(old, lease, 'renew')
    else if (generation === this.#generation) this.emit('lease', { old, next: lease, reason: 'renew' })
  }

  #scheduleLeaseTimers(lease: ClientLease): void {
    if (lease.leaseTime === INFINITE) return
    const now = this.options.clock.now()
    const at = (seconds: number) => Math.max(0, lease.acquiredAt + seconds * 1000 - now)
    this.#after(at(lease.renewalTime), () => this.#renew('renewing'))
    this.#after(at(lease.rebindingTime), () => this.#renew('rebinding'))
    this.#after(at(lease.leaseTime), () => void this.#expire())
  }

  /** RENEWING (unicast to the server) or REBINDING (broadcast), until the next deadline. */
  #renew(state: 'renewing' | 'rebinding'): void {
    const lease = this.#lease
    if (!lease) return
    // Keep the later deadlines: entering a state cancels timers, so re-arm them.
    this.#enter(state)
    this.#scheduleLeaseTimersFrom(lease, state)
    this.#newExchange()
    const deadline = lease.acquiredAt + (state === 'renewing' ? lease.rebindingTime : lease.leaseTime) * 1000
    const send = () => {
      const m = this.#message('REQUEST', lease.address)
      this.#withParameters(m)
      if (state === 'renewing') this.io.unicast(m, lease)
      else this.io.broadcast(m)
      // RFC 2131 4.4.5: wait half the time left to the deadline, but at least 60 s.
      const left = deadline - this.options.clock.now()
      const wait = Math.max(left / 2, Math.min(60_000, left))
      if (left > 0) this.#after(wait, send)
    }
    send()
  }

  #scheduleLeaseTimersFrom(lease: ClientLease, state: 'renewing' | 'rebinding'): void {
    const now = this.options.clock.now()
    const at = (seconds: number) => Math.max(0, lease.acquiredAt + seconds * 1000 - now)
    if (state === 'renewing') this.#after(at(lease.rebindingTime), () => this.#renew('rebinding'))
    this.#after(at(lease.leaseTime), () => void this.#expire())
  }

  async #expire(): Promise<void> {
    const old = this.#lease
    this.#lease = undefined
    this.#init()
    if (old) await this.#report(old, undefined, 'expire')
  }

  // Lease changes reach the callbacks and listeners one at a time, in the order they happened.
  readonly #reports = new LeaseReports<ClientLease, LeaseChangeReason>(
    (old, next, reason) => this.options.onLease(old, next, reason),
    (change) => this.emit('lease', change),
    (error) => this.emit('error', error),
  )

  #report(old: ClientLease | undefined, next: ClientLease | undefined, reason: LeaseChangeReason): Promise<void> {
    return this.#reports.report(old, next, reason)
  }

  // --- messages ---

  #message(type: MessageType, ciaddr = '0.0.0.0'): DhcpMessage {
    const secs = Math.min(0xffff, Math.floor((this.options.clock.now() - this.#exchangeStart) / 1000))
    const m = new DhcpMessage({ op: 1, xid: this.#xid, chaddr: this.options.mac, secs, ciaddr })
    m.set(53, type)
    m.set(61, this.options.clientId)
    return m
  }

  #withParameters(m: DhcpMessage): void {
    m.set(55, this.options.parameters ?? DEFAULT_PARAMETERS)
    m.set(57, 1500)
    if (this.options.hostname) m.set(12, this.options.hostname)
    if (this.options.vendorClass) m.set(60, this.options.vendorClass)
  }

  #discover(): DhcpMessage {
    const m = this.#message('DISCOVER')
    this.#withParameters(m)
    return m
  }

  /** A reply from a server; anything not for the current exchange is ignored. */
  receive(reply: DhcpMessage, serverMac?: string): void {
    if (reply.op !== 2 || reply.xid !== this.#xid || reply.chaddr.toLowerCase() !== this.options.mac.toLowerCase()) return
    const type = reply.messageType
    const state = this.#state
    if (state === 'selecting' && type === 'OFFER') {
      if (reply.yiaddr === '0.0.0.0' || !reply.get(54)) return
      this.#offer(reply)
    } else if ((state === 'requesting' || state === 'rebooting' || state === 'renewing' || state === 'rebinding') && type === 'ACK') {
      if (reply.yiaddr === '0.0.0.0') return
      void this.#bind(reply, serverMac, state)
    } else if ((state === 'requesting' || state === 'rebooting' || state === 'renewing' || state === 'rebinding') && type === 'NAK') {
      void this.#nak()
    }
  }

  #offer(offer: DhcpMessage): void {
    const window = this.options.offerWindowMs ?? 0
    if (window <= 0 || offer.get(54) === this.options.preferServer) return this.#select(offer)
    this.#offers.push(offer)
    this.#offerTimer ??= this.options.clock.setTimeout(() => {
      const offers = this.#offers
      this.#select(offers.find((o) => o.get(54) === this.options.preferServer) ?? offers[0]!)
    }, window)
  }

  async #nak(): Promise<void> {
    const old = this.#lease ?? (this.#state === 'rebooting' ? this.#previous : undefined)
    this.#lease = undefined
    this.#previous = undefined
    this.#init()
    if (old) await this.#report(old, undefined, 'nak')
  }
}
