// A running switch: the supervision tree, its shared state and the control socket, started and
// stopped as one. The CLI, the demo, the tests and the benchmark all start switches this way.
import type { Server } from 'node:net'
import pino, { type Logger } from 'pino'
import { supervisor, type SupervisorHandle } from '@lab/supervisor'
import { controlSocketPath, listenControl } from './control.js'
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
    let control: Server | undefined
    try {
      await Promise.race([tree.healthy(), tree.failed.then((e) => Promise.reject(e)), lifecycle.failed.then((e) => Promise.reject(e))])
      if (options.controlSocket !== false) {
        const path = options.controlSocket ?? controlSocketPath(options.netns)
        const running = { state, router, tree, options }
        control = await listenControl(path, () => statusOf(running))
      }
    } catch (error) {
      // What was made before the failure goes again: a start that fails leaves nothing behind.
      lifecycle.stopping = true
      await tree.stop()
      throw error
    }
    return new RunningSwitch(options, tree, state, router, control, lifecycle)
  }

  status(): Promise<SwitchStatus> {
    return statusOf(this)
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
    await this.tree.stop()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop()
  }
}

function statusOf(s: { state: SwitchState; router: RouterState; tree: SupervisorHandle; options: StartOptions }): Promise<SwitchStatus> {
  return switchStatus(s.options.mode === 'routed' ? s.router : s.state, s.options.bridge ?? 'vmbridge', s.options.netns, s.tree.status())
}
