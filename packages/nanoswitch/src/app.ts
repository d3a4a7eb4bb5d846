// A running switch: the supervision tree, its shared state and the control socket, started and
// stopped as one. The CLI, the demo, the tests and the benchmark all start switches this way.
import type { Server } from 'node:net'
import pino, { type Logger } from 'pino'
import { supervisor, type SupervisorHandle } from '@lab/supervisor'
import { controlSocketPath, listenControl } from './control.js'
import { formatStatus, switchStatus, type SwitchStatus } from './status.js'
import { RouterState, routedSwitch, type RouterOptions } from './routed/router.js'
import { SwitchState, nanoswitch, type SwitchOptions } from './switched/switch.js'

export interface StartOptions extends SwitchOptions, RouterOptions {
  /** switched (seed 000's bridge, the default) or routed (seed 001's router with /31 client links). */
  mode?: 'switched' | 'routed'
  logger?: Logger
  /** Unix socket for `nanoswitch status`; default /run/nanoswitch/<netns>.sock; false: none. */
  controlSocket?: string | false
}

export class RunningSwitch {
  private constructor(
    readonly options: StartOptions,
    readonly tree: SupervisorHandle,
    readonly state: SwitchState,
    readonly router: RouterState,
    readonly control: Server | undefined,
  ) {}

  static async start(options: StartOptions = {}): Promise<RunningSwitch> {
    const logger = options.logger ?? pino({ name: 'nanoswitch', level: process.env.LOG_LEVEL ?? 'info' })
    const state = new SwitchState()
    const router = new RouterState()
    const root = options.mode === 'routed' ? routedSwitch(options, router) : nanoswitch(options, state)
    const tree = supervisor(root, { name: 'nanoswitch', logger, backoff: { baseMs: 100, capMs: 5_000 } })
    let control: Server | undefined
    try {
      await Promise.race([tree.healthy(), tree.failed.then((e) => Promise.reject(e))])
      if (options.controlSocket !== false) {
        const path = options.controlSocket ?? controlSocketPath(options.netns)
        const running = { state, router, tree, options }
        control = await listenControl(path, () => statusOf(running))
      }
    } catch (error) {
      await tree.stop()
      throw error
    }
    return new RunningSwitch(options, tree, state, router, control)
  }

  status(): Promise<SwitchStatus> {
    return statusOf(this)
  }

  async formattedStatus(): Promise<string> {
    return formatStatus(await this.status())
  }

  async stop(): Promise<void> {
    if (this.control) await new Promise<void>((resolve) => this.control!.close(() => resolve()))
    await this.tree.stop()
  }
}

function statusOf(s: { state: SwitchState; router: RouterState; tree: SupervisorHandle; options: StartOptions }): Promise<SwitchStatus> {
  return switchStatus(s.options.mode === 'routed' ? s.router : s.state, s.options.bridge ?? 'vmbridge', s.options.netns, s.tree.status())
}
