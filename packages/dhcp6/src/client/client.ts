// A DHCPv6 client on one interface: the state machine wired to a UDP transport, a lease file so a
// restarted client asks for its lease again (Rebind), a Confirm when the link comes back after
// going down, and the caller's lease callbacks.
import { channel } from 'node:diagnostics_channel'
import { readFileSync } from 'node:fs'
import { nextLease, replaceFile } from '@lab/dhcp4'
import { Netlink, type Logger } from '@lab/netlink-native'
import { realClock, type Clock } from '@lab/clock'
import type { Duid } from '../codec/index.js'
import { Dhcp6Error } from '../errors.js'
import { defaultIaid, duidLl } from './duid.js'
import { expiresAt, type Dhcp6Lease } from './lease.js'
import { ClientMachine, type ClientState, type LeaseCallback, type LeaseChangeReason } from './machine.js'
import type { ExchangeKind, RetransmitParameters } from './retransmit.js'
import { UdpTransport } from './transport.js'

/** `lab:dhcp6:client`: every state change and lease change of every client. */
export const clientChannel = channel('lab:dhcp6:client')

export type ClientEvent =
  | { event: 'state'; interface: string; netns?: string; state: ClientState }
  | { event: 'lease'; interface: string; netns?: string; reason: LeaseChangeReason; old?: Dhcp6Lease; next?: Dhcp6Lease }

export interface DhcpV6ClientOptions {
  interface: string
  /** The namespace to work in: a name under /run/netns or a path. Default: this process's. */
  netns?: string
  /** The client's DUID; default DUID-LL from the interface's MAC (`duidLl`). */
  duid?: Duid
  /** The IAID of the IA_NA and IA_PD; default the MAC's last four bytes (`defaultIaid`). */
  iaid?: number
  /** Ask for an address (IA_NA). Default true. */
  addresses?: boolean
  /** Ask for a delegated prefix (IA_PD), optionally with a length hint. Default false. */
  prefixDelegation?: boolean | { prefixLength: number }
  /** Configuration only (Information-Request), no addresses or prefixes. Default false. */
  stateless?: boolean
  /** Rapid Commit in the Solicit. Default true. */
  rapidCommit?: boolean
  /** The Option Request option. Default DNS servers, domain list, refresh time, SOL_MAX_RT, INF_MAX_RT. */
  requestedOptions?: number[]
  /** Applies each lease change; e.g. `compose(manageIP({ netns }), manageDNS(path))`. */
  onLease?: LeaseCallback
  /** Where the current lease is kept, so a restarted client asks for it again (Rebind). */
  leaseFile?: string
  /** Which of a new lease's addresses are in use on the link; those are declined. */
  conflict?: (addresses: string[]) => Promise<string[]>
  /** Send a Confirm (or a Rebind for prefixes) when the link comes back up. Default true. */
  confirmOnLinkUp?: boolean
  /** How long to wait for the link-local address to pass DAD. Default 10 s. */
  linkLocalTimeoutMs?: number
  clock?: Clock
  /** Uniform 0..1 for RAND and initial delays; default Math.random. */
  random?: () => number
  /** Changes to RFC 8415 7.6's retransmission parameters, per exchange, in ms. */
  retransmit?: Partial<Record<ExchangeKind, Partial<RetransmitParameters>>>
  /** A pino-shaped logger; the client logs nothing without one. */
  logger?: Logger
}

/** No lease came within the time `waitForLease()` was given. */
export class LeaseTimeoutError extends Dhcp6Error {
  constructor(
    readonly interfaceName: string,
    readonly timeoutMs: number,
  ) {
    super('LAB_ERR_DHCP6_LEASE_TIMEOUT', `no DHCPv6 lease on ${interfaceName} within ${timeoutMs / 1000} s`)
    this.name = 'LeaseTimeoutError'
  }
}

function readLeaseFile(path: string): Dhcp6Lease | undefined {
  try {
    const lease = JSON.parse(readFileSync(path, 'utf8')) as Dhcp6Lease
    return Array.isArray(lease.addresses) && Array.isArray(lease.prefixes) && typeof lease.acquiredAt === 'number' && typeof lease.serverId === 'string' ? lease : undefined
  } catch {
    // No file, or one a crash cut short: start afresh, as without a lease file.
    return undefined
  }
}

function writeLeaseFile(path: string, lease: Dhcp6Lease | undefined): void {
  replaceFile(path, lease && JSON.stringify(lease) + '\n')
}

export class DhcpV6Client {
  readonly #machine: ClientMachine
  readonly #transport: UdpTransport
  readonly #clock: Clock
  readonly #watch: AbortController = new AbortController()
  #watcher: Promise<void> = Promise.resolve()
  #stopped = false

  private constructor(machine: ClientMachine, transport: UdpTransport, clock: Clock) {
    this.#machine = machine
    this.#transport = transport
    this.#clock = clock
  }

  /**
   * Opens the interface (waiting for its link-local address to pass DAD) and starts: with the
   * lease file's lease if still valid (Rebind), else afresh (Solicit, or Information-Request when
   * `stateless`). Throws Dhcp6Error LAB_ERR_DHCP6_NO_LINK_LOCAL when the interface cannot send.
   */
  static async start(options: DhcpV6ClientOptions): Promise<DhcpV6Client> {
    const transport = await UdpTransport.open({ interface: options.interface, ...(options.netns ? { netns: options.netns } : {}), ...(options.linkLocalTimeoutMs !== undefined ? { linkLocalTimeoutMs: options.linkLocalTimeoutMs } : {}) })
    const clock = options.clock ?? realClock
    const where = { interface: options.interface, ...(options.netns ? { netns: options.netns } : {}) }
    const log = options.logger?.child ? options.logger.child(where) : options.logger
    const onLease = options.onLease
    const leaseFile = options.leaseFile
    let duid: Duid
    let iaid: number
    try {
      if (!transport.mac && !options.duid) throw new Dhcp6Error('LAB_ERR_DHCP6_NO_LINK_LOCAL', `${options.interface} has no hardware address to make a DUID from: pass duid`)
      duid = options.duid ?? duidLl(transport.mac!)
      iaid = options.iaid ?? defaultIaid(transport.mac, transport.ifindex)
    } catch (error) {
      await transport.close()
      throw error
    }
    const machine = new ClientMachine(
      {
        interface: options.interface,
        duid,
        iaid,
        clock,
        ...(options.addresses !== undefined ? { addresses: options.addresses } : {}),
        ...(options.prefixDelegation !== undefined ? { prefixDelegation: options.prefixDelegation } : {}),
        ...(options.stateless !== undefined ? { stateless: options.stateless } : {}),
        ...(options.rapidCommit !== undefined ? { rapidCommit: options.rapidCommit } : {}),
        ...(options.requestedOptions ? { requestedOptions: options.requestedOptions } : {}),
        ...(options.random ? { random: options.random } : {}),
        ...(options.retransmit ? { retransmit: options.retransmit } : {}),
        ...(options.conflict ? { conflict: options.conflict } : {}),
        ...(log ? { logger: log } : {}),
        onLease: async (old, next, reason) => {
          // The file first: a crash while configuring still leaves the lease to ask for again.
          if (leaseFile) writeLeaseFile(leaseFile, next)
          await onLease?.(old, next, reason)
        },
      },
      transport,
    )
    transport.onMessage((m, from) => machine.receive(m, from))
    transport.onError((error) => log?.warn({ err: error }, 'transport error'))
    machine.on('state', (state) => {
      log?.debug({ state }, 'state')
      if (clientChannel.hasSubscribers) clientChannel.publish({ event: 'state', ...where, state } satisfies ClientEvent)
    })
    machine.on('lease', ({ next, old, reason }) => {
      if (clientChannel.hasSubscribers) clientChannel.publish({ event: 'lease', ...where, reason, ...(old ? { old } : {}), ...(next ? { next } : {}) } satisfies ClientEvent)
      const lease = next ?? old
      log?.info({ reason, addresses: lease?.addresses.map((a) => a.address), prefixes: lease?.prefixes.map((p) => `${p.prefix}/${p.prefixLength}`), server: lease?.serverId }, `lease ${reason}`)
    })
    machine.on('declined', (addresses) => log?.warn({ addresses }, 'addresses in use on the link: declined'))
    machine.on('error', (error) => log?.error({ err: error }, 'lease callback failed'))
    const previous = leaseFile ? readLeaseFile(leaseFile) : undefined
    const client = new DhcpV6Client(machine, transport, clock)
    if (options.confirmOnLinkUp ?? true) client.#watcher = client.#watchLink(options.netns, transport.ifindex, log)
    // On the next turn: listeners attached as soon as start() resolves see the first state.
    setImmediate(() => {
      if (!client.#stopped) machine.start(previous && previous.interface === options.interface && expiresAt(previous) > clock.now() ? previous : undefined)
    })
    return client
  }

  /** 18.2.12: the link went down and came up, so the client may be on another link: Confirm. */
  async #watchLink(netns: string | undefined, ifindex: number, log: Logger | undefined): Promise<void> {
    let nl: Netlink | undefined
    try {
      nl = await Netlink.open({ netns })
      let wasUp = true
      for await (const e of nl.watch(['link'], { signal: this.#watch.signal })) {
        if (e.kind !== 'link' || e.link.index !== ifindex) continue
        const up = e.link.up && e.link.lowerUp
        if (up && !wasUp) {
          log?.info({}, 'link up again: confirming the lease')
          this.#machine.confirm()
        }
        wasUp = up
      }
    } catch (error) {
      // An abort is how stop() ends the watch; anything else leaves the client without
      // link-change detection, which it can live without: say so.
      if (!this.#watch.signal.aborted) log?.warn({ err: error }, 'cannot watch the link: no Confirm after a link change')
    } finally {
      await nl?.close()
    }
  }

  get state(): ClientState {
    return this.#machine.state
  }

  get lease(): Dhcp6Lease | undefined {
    return this.#machine.lease
  }

  /** The link-local address the client sends from. */
  get linkLocal(): string {
    return this.#transport.linkLocal
  }

  /** What the client counted, as a fresh object: datagrams to port 546 that were not a server's DHCPv6 message. */
  counters(): { malformed: number } {
    return { malformed: this.#transport.malformed }
  }

  on(event: 'lease', fn: (change: { old?: Dhcp6Lease; next?: Dhcp6Lease; reason: LeaseChangeReason }) => void): this
  on(event: 'state', fn: (state: ClientState) => void): this
  on(event: 'declined', fn: (addresses: string[]) => void): this
  on(event: 'error', fn: (error: Error) => void): this
  on(event: 'lease' | 'state' | 'declined' | 'error', fn: (...args: never[]) => void): this {
    this.#machine.on(event, fn as never)
    return this
  }

  off(event: 'lease' | 'state' | 'declined' | 'error', fn: (...args: never[]) => void): this {
    this.#machine.off(event, fn as never)
    return this
  }

  /** The next lease the client is bound with (the current one if bound already). Rejects with LeaseTimeoutError. */
  waitForLease(timeoutMs = 30_000): Promise<Dhcp6Lease> {
    return nextLease(this.#machine, this.#clock, timeoutMs, () => new LeaseTimeoutError(this.#machine.options.interface, timeoutMs))
  }

  /** Undoes the lease through the callbacks, sends a Release (until a Reply, at most 4 times), then stops. */
  async release(): Promise<void> {
    if (!this.#stopped) await this.#machine.release()
    await this.stop()
  }

  /** Stops without telling the server; the configured lease stays (and the lease file, for a Rebind on restart). Idempotent. */
  async stop(): Promise<void> {
    if (this.#stopped) return
    this.#stopped = true
    this.#machine.stop()
    this.#watch.abort()
    await this.#watcher
    await this.#transport.close()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop()
  }
}
