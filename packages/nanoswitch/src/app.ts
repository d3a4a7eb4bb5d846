// A running switch: the supervision tree, its shared state and the control socket, started and
// stopped as one. The CLI, the demo, the tests and the benchmark all start switches this way.
import type { Server } from 'node:net'
import pino, { type Logger } from 'pino'
import { supervisor, type SupervisorHandle } from '@lab/supervisor'
import { controlSocketPath, listenControl } from './control.js'
import type { Registry } from 'prom-client'
import { SwitchObserver, type HttpListen } from './http/observer.js'
import { Lifecycle } from './lifecycle.js'
import { preflight } from './preflight.js'
import { formatStatus, switchStatus, type SwitchStatus } from './status.js'
import { RouterState, routedSwitch, type RouterOptions } from './routed/router.js'
import { SwitchState, nanoswitch, type SwitchOptions } from './switched/switch.js'

export interface StartOptions extends SwitchOptions, RouterOptions {
  /** switched (seed 000's bridge, the default) or routed (seed 001's router with /31 client links). */
  mode?: 'switched' | 'routed'
  /**
   * A pino logger; each runnable logs through a child named by its tree path
   * (`nanoswitch.dhcp-server`). Default: a silent one (the library prints nothing; the CLI passes
   * its own, at LOG_LEVEL or info).
   */
  logger?: Logger
  /** Unix socket for `nanoswitch status`; default /run/nanoswitch/<netns>.sock; false: none. */
  controlSocket?: string | false
  /**
   * Leave the bridge, addresses and nftables tables in place on stop(), for the next start to
   * adopt (default false: a stop removes everything the switch made; ports are only released).
   */
  keep?: boolean
  /**
   * Serve the status page, /api/status, /api/events and /metrics on this address inside the
   * switch's namespace (default: no HTTP server). Read-only: anything but GET gets 405.
   */
  http?: HttpListen
}

export class RunningSwitch {
  /**
   * Resolves with the error that ends the switch on its own: a configuration error met while
   * running (a part is not restarted for it), or the supervision tree giving up.
   */
  readonly failed: Promise<Error>

  private constructor(
    readonly options: StartOptions,
    readonly tree: SupervisorHandle,
    readonly state: SwitchState,
    readonly router: RouterState,
    readonly control: Server | undefined,
    readonly lifecycle: Lifecycle,
    readonly observer: SwitchObserver,
  ) {
    this.failed = Promise.race([tree.failed, lifecycle.failed])
  }

  /**
   * Starts the switch and resolves once every part is healthy. Rejects at once, having started
   * nothing, with an ArgumentError for an invalid option and a SwitchError (LAB_ERR_SWITCH_CONFIG)
   * for what the switch cannot run with: a namespace that does not exist, a lease file whose
   * directory cannot be made.
   */
  static async start(options: StartOptions = {}): Promise<RunningSwitch> {
    await preflight(options)
    const logger = options.logger ?? pino({ level: 'silent' })
    const lifecycle = new Lifecycle()
    lifecycle.keep = options.keep ?? false
    const state = new SwitchState()
    const router = new RouterState()
    const root = options.mode === 'routed' ? routedSwitch(options, router, lifecycle) : nanoswitch(options, state, lifecycle)
    const tree = supervisor(root, { name: 'nanoswitch', logger, backoff: { baseMs: 100, capMs: 5_000 } })
    const observer = new SwitchObserver({
      ...(options.netns ? { netns: options.netns } : {}),
      bridge: options.bridge ?? 'vmbridge',
      status: () => statusOf({ state, router, tree, options }),
      treeMetrics: () => tree.metrics(),
      moreMetrics: () => (state.ipv6?.server ? [state.ipv6.server.metrics()] : []),
      dhcpServers: () => (options.mode === 'routed' ? [...router.clients.values()].flatMap((c) => (c.server ? [c.server] : [])) : state.server ? [state.server] : []),
    })
    let control: Server | undefined
    try {
      await Promise.race([tree.healthy(), tree.failed.then((e) => Promise.reject(e)), lifecycle.failed.then((e) => Promise.reject(e))])
      if (options.controlSocket !== false) {
        const path = options.controlSocket ?? controlSocketPath(options.netns)
        const running = { state, router, tree, options }
        control = await listenControl(path, () => statusOf(running))
      }
      if (options.http) await observer.startHttp(options.http, logger.child({ name: 'nanoswitch.http' }))
    } catch (error) {
      // What was made before the failure goes again: a start that fails leaves nothing behind.
      lifecycle.stopping = true
      if (control) await new Promise<void>((resolve) => control!.close(() => resolve()))
      await tree.stop()
      await observer.close()
      throw error
    }
    return new RunningSwitch(options, tree, state, router, control, lifecycle, observer)
  }

  status(): Promise<SwitchStatus> {
    return statusOf(this)
  }

  /**
   * The switch's Prometheus metrics (ports, link events, link traffic, forwards, uplink lease,
   * fabric) merged with its supervision tree's (restarts and state per runnable) and its DHCP
   * server's, as a prom-client Registry made now, for a program that serves its own /metrics
   * (ask per scrape: a restarted DHCP server brings a new registry). Nothing is registered in prom-client's global registry.
   */
  metrics(): Registry {
    return this.observer.metrics()
  }

  /** The port the HTTP server listens on (with `http`; useful when port 0 was asked for). */
  get httpPort(): number | undefined {
    return this.observer.http?.port
  }

  async formattedStatus(): Promise<string> {
    return formatStatus(await this.status())
  }

  /**
   * Stops every part. Unless `keep` (here or at start), removes what the switch made: its nftables
   * tables, the bridge with its address (ports are released, not deleted), the uplink's lease
   * (released, so its address and routes go), routed mode's client link addresses.
   */
  async stop(options: { keep?: boolean } = {}): Promise<void> {
    if (options.keep !== undefined) this.lifecycle.keep = options.keep
    this.lifecycle.stopping = true
    if (this.control) await new Promise<void>((resolve) => this.control!.close(() => resolve()))
    await this.observer.http?.stop()
    await this.tree.stop()
    await this.observer.close()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop()
  }
}

function statusOf(s: { state: SwitchState; router: RouterState; tree: SupervisorHandle; options: StartOptions }): Promise<SwitchStatus> {
  return switchStatus(s.options.mode === 'routed' ? s.router : s.state, s.options.bridge ?? 'vmbridge', s.options.netns, s.tree.status())
}
