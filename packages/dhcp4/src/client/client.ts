// A DHCP client on one interface: the state machine wired to a packet transport, a lease file for
// INIT-REBOOT after a restart, and the caller's lease callbacks.
import { channel } from 'node:diagnostics_channel'
import { readFileSync } from 'node:fs'
import type { Logger } from '@lab/netlink-native'
import { DhcpError } from '../errors.js'
import { defaultClientId } from './client-id.js'
import { realClock, type Clock } from '@lab/clock'
import { expiresAt, type ClientLease } from './lease.js'
import { ClientMachine, type ClientState, type LeaseCallback, type LeaseChangeReason, type RetransmitPolicy } from './machine.js'
import { nextLease } from './next-lease.js'
import { replaceFile } from './replace-file.js'
import { PacketTransport } from './transport.js'

/** `lab:dhcp4:client`: every state change and lease change of every client. */
export const clientChannel = channel('lab:dhcp4:client')

export type ClientEvent =
  | { event: 'state'; interface: string; netns?: string; state: ClientState }
  | { event: 'lease'; interface: string; netns?: string; reason: LeaseChangeReason; old?: ClientLease; next?: ClientLease }

export interface DhcpClientOptions {
  interface: string
  /** The namespace to work in: a name under /run/netns or a path. Default: this process's. */
  netns?: string
  /** Option 61; default RFC 4361's form derived from the interface's MAC. */
  clientId?: Buffer
  hostname?: string
  vendorClass?: string
  /** Option 55 (parameter request list). */
  parameters?: number[]
  /** Applies each lease change; e.g. `compose(manageIP(), manageRoutes(), manageDNS(path))`. */
  onLease?: LeaseCallback
  /** Where the current lease is kept, so a restarted client asks for it again (INIT-REBOOT). */
  leaseFile?: string
  /** Whether an offered address is already in use (e.g. @lab/arp's probe); true → DECLINE. */
  conflict?: (address: string) => Promise<boolean>
  clock?: Clock
  retransmit?: Partial<RetransmitPolicy>
  /** Collect offers this long and prefer `preferServer` among them. Default 0: first offer. */
  offerWindowMs?: number
  preferServer?: string
  declineWaitMs?: number
  /** A pino-shaped logger; the client logs nothing without one. */
  logger?: Logger
}

/** No lease came within the time `waitForLease()` was given. */
export class LeaseTimeoutError extends DhcpError {
  constructor(
    readonly interfaceName: string,
    readonly timeoutMs: number,
  ) {
    super('LAB_ERR_DHCP_LEASE_TIMEOUT', `no lease from any DHCP server on ${interfaceName} within ${timeoutMs / 1000} s`)
    this.name = 'LeaseTimeoutError'
  }
}

function readLeaseFile(path: string): ClientLease | undefined {
  try {
    const lease = JSON.parse(readFileSync(path, 'utf8')) as ClientLease
    return typeof lease.address === 'string' && typeof lease.acquiredAt === 'number' ? lease : undefined
  } catch {
    return undefined
  }
}

function writeLeaseFile(path: string, lease: ClientLease | undefined): void {
  replaceFile(path, lease && JSON.stringify(lease) + '\n')
}

export class DhcpClient {
  readonly #machine: ClientMachine
  readonly #transport: PacketTransport
  readonly #clock: Clock
  #stopped = false

  private constructor(machine: ClientMachine, transport: PacketTransport, clock: Clock) {
    this.#machine = machine
    this.#transport = transport
    this.#clock = clock
  }

  /** Opens the interface and starts asking: with the lease file's lease if still valid, else afresh. */
  static async start(options: DhcpClientOptions): Promise<DhcpClient> {
    const transport = await PacketTransport.open({ interface: options.interface, ...(options.netns ? { netns: options.netns } : {}) })
    const clock = options.clock ?? realClock
    const where = { interface: options.interface, ...(options.netns ? { netns: options.netns } : {}) }
    const log = options.logger?.child ? options.logger.child(where) : options.logger
    const onLease = options.onLease
    const leaseFile = options.leaseFile
    const machine = new ClientMachine(
      {
        interface: options.interface,
        mac: transport.mac,
        clientId: options.clientId ?? defaultClientId(transport.mac),
        clock,
        ...(options.hostname ? { hostname: options.hostname } : {}),
        ...(options.vendorClass ? { vendorClass: options.vendorClass } : {}),
        ...(options.parameters ? { parameters: options.parameters } : {}),
        ...(options.retransmit ? { retransmit: options.retransmit } : {}),
        ...(options.offerWindowMs !== undefined ? { offerWindowMs: options.offerWindowMs } : {}),
        ...(options.preferServer ? { preferServer: options.preferServer } : {}),
        ...(options.declineWaitMs !== undefined ? { declineWaitMs: options.declineWaitMs } : {}),
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
    transport.onMessage((m, serverMac) => machine.receive(m, serverMac))
    transport.onError((error) => log?.warn({ err: error }, 'transport error'))
    machine.on('state', (state) => {
      log?.debug({ state }, 'state')
      if (clientChannel.hasSubscribers) clientChannel.publish({ event: 'state', ...where, state } satisfies ClientEvent)
    })
    machine.on('lease', ({ next, old, reason }) => {
      if (clientChannel.hasSubscribers) clientChannel.publish({ event: 'lease', ...where, reason, ...(old ? { old } : {}), ...(next ? { next } : {}) } satisfies ClientEvent)
      const lease = next ?? old
      if (leaseFile && next && reason === 'renew') writeLeaseFile(leaseFile, next)
      log?.info({ reason, address: lease?.address, prefixLength: lease?.prefixLength, server: lease?.serverId, leaseTime: lease?.leaseTime }, `lease ${reason}`)
    })
    machine.on('declined', (address) => log?.warn({ address }, 'address in use on the link: declined'))
    machine.on('error', (error) => log?.error({ err: error }, 'lease callback failed'))
    const previous = leaseFile ? readLeaseFile(leaseFile) : undefined
    const client = new DhcpClient(machine, transport, clock)
    // On the next turn: listeners attached as soon as start() resolves see the first state.
    setImmediate(() => {
      if (!client.#stopped) machine.start(previous && previous.interface === options.interface && expiresAt(previous) > clock.now() ? previous : undefined)
    })
    return client
  }

  get state(): ClientState {
    return this.#machine.state
  }

  get lease(): ClientLease | undefined {
    return this.#machine.lease
  }

  get mac(): string {
    return this.#transport.mac
  }

  /** What the client counted, as a fresh object: datagrams to port 68 that did not decode as DHCP. */
  counters(): { malformed: number } {
    return { malformed: this.#transport.malformed }
  }

  on(event: 'lease', fn: (change: { old?: ClientLease; next?: ClientLease; reason: LeaseChangeReason }) => void): this
  on(event: 'state', fn: (state: ClientState) => void): this
  on(event: 'declined', fn: (address: string) => void): this
  on(event: 'error', fn: (error: Error) => void): this
  on(event: 'lease' | 'state' | 'declined' | 'error', fn: (...args: never[]) => void): this {
    this.#machine.on(event, fn as never)
    return this
  }

  off(event: 'lease' | 'state' | 'declined' | 'error', fn: (...args: never[]) => void): this {
    this.#machine.off(event, fn as never)
    return this
  }

  /** The next lease the client is bound with (the current one if bound already). */
  waitForLease(timeoutMs = 30_000): Promise<ClientLease> {
    return nextLease(this.#machine, this.#clock, timeoutMs, () => new LeaseTimeoutError(this.#machine.options.interface, timeoutMs))
  }

  /** Sends DHCPRELEASE (if bound), undoes the lease through the callbacks, then stops. */
  async release(): Promise<void> {
    await this.#machine.release()
    await this.stop()
  }

  /** Stops without telling the server; the configured lease stays (and the lease file, for INIT-REBOOT). Idempotent. */
  async stop(): Promise<void> {
    if (this.#stopped) return
    this.#stopped = true
    this.#machine.stop()
    await this.#transport.close()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop()
  }
}
