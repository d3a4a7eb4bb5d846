// One supervised runnable and its children. A failing child is restarted by its parent according
// to the parent's strategy, with backoff; too many restarts in a window fail the parent instead.
// Cancelling a node cancels its children first, then aborts its own signal and waits for it.
import { channel } from 'node:diagnostics_channel'
import type { Logger } from 'pino'
import { DEFAULT_BACKOFF, backoffDelay, type BackoffOptions } from './backoff.js'
import type { Clock, TimerHandle } from '@lab/clock'
import type { Context, Intensity, NodeOptions, NodeState, NodeStatus, Runnable, Strategy } from './types.js'

/** Every state change of every runnable: `{ path, from, to, restarts }`. */
const stateChannel = channel('lab:supervisor:state')

export interface Tree {
  clock: Clock
  logger: Logger
  graceMs: number
  random: () => number
  defaults: { backoff: BackoffOptions; intensity: Intensity; strategy: Strategy }
  changed(): void
  /** A runnable is about to be started again (counted per path for the metrics). */
  restarted(path: string): void
  rootFailed(error: Error): void
}

type Outcome = 'done' | Error

export class SupervisedNode {
  readonly children = new Map<string, SupervisedNode>()
  readonly logger: Logger
  state: NodeState = 'starting'
  restarts = 0
  lastError: string | undefined
  since: number
  readonly #backoff: BackoffOptions
  readonly #intensity: Intensity
  readonly #strategy: Strategy
  #attempt = 0
  #generation = 0
  #controller: AbortController | undefined
  #running: Promise<void> | undefined
  #doneSignalled = false
  #cancelling = false
  readonly #timers = new Set<TimerHandle>()
  readonly #resetTimer: { handle?: TimerHandle } = {}
  #childRestarts: number[] = []

  constructor(
    readonly name: string,
    readonly path: string,
    readonly parent: SupervisedNode | undefined,
    readonly runnable: Runnable,
    readonly options: NodeOptions,
    readonly tree: Tree,
  ) {
    this.logger = tree.logger.child({ runnable: path })
    this.since = tree.clock.now()
    this.#backoff = { ...tree.defaults.backoff, ...options.backoff }
    this.#intensity = options.intensity ?? tree.defaults.intensity
    this.#strategy = options.strategy ?? tree.defaults.strategy
  }

  #setState(state: NodeState): void {
    if (this.state === state) return
    const from = this.state
    this.state = state
    this.since = this.tree.clock.now()
    if (stateChannel.hasSubscribers) stateChannel.publish({ path: this.path, from, to: state, restarts: this.restarts })
    this.tree.changed()
  }

  #timer(ms: number, fn: () => void): TimerHandle {
    const handle = this.tree.clock.setTimeout(() => {
      this.#timers.delete(handle)
      fn()
    }, ms)
    this.#timers.add(handle)
    return handle
  }

  #clearTimers(): void {
    for (const t of this.#timers) t.cancel()
    this.#timers.clear()
    this.#resetTimer.handle = undefined
  }

  start(): void {
    const generation = ++this.#generation
    this.#cancelling = false
    this.#doneSignalled = false
    // A new incarnation judges its children's restarts afresh, as an OTP supervisor does.
    this.#childRestarts = []
    const controller = new AbortController()
    this.#controller = controller
    this.#setState('running')
    const ctx: Context = {
      path: this.path,
      name: this.name,
      signal: controller.signal,
      logger: this.logger,
      run: (name, runnable, options) => this.#runChild(generation, name, runnable, options ?? {}),
      healthy: () => this.#healthy(generation),
      unhealthy: (reason) => this.#unhealthy(generation, reason),
      done: () => {
        if (generation === this.#generation) this.#doneSignalled = true
      },
    }
    this.#running = (async () => {
      let outcome: Outcome
      try {
        await this.runnable(ctx)
        outcome = this.#doneSignalled ? 'done' : new Error('returned without calling done()')
      } catch (error) {
        outcome = error instanceof Error ? error : new Error(String(error))
      }
      if (generation === this.#generation && !this.#cancelling) this.#exited(outcome)
    })()
  }

  #runChild(generation: number, name: string, runnable: Runnable, options: NodeOptions): void {
    if (generation !== this.#generation || this.#cancelling) return
    if (!/^[\w-]+$/.test(name)) throw new TypeError(`runnable name ${JSON.stringify(name)}: letters, digits, - and _ only`)
    const existing = this.children.get(name)
    if (existing && existing.state !== 'stopped') throw new Error(`${this.path} already runs a child named ${name}`)
    const child = new SupervisedNode(name, `${this.path}.${name}`, this, runnable, options, this.tree)
    this.children.set(name, child)
    child.start()
  }

  #unhealthy(generation: number, reason: string): void {
    if (generation !== this.#generation || this.#cancelling) return
    if (this.state !== 'running' && this.state !== 'healthy' && this.state !== 'unhealthy') return
    if (this.state === 'unhealthy' && this.lastError === reason) return
    this.lastError = reason
    if (this.state !== 'unhealthy') this.logger.warn({ reason }, `unhealthy: ${reason}`)
    // The backoff is not reset while unhealthy: a failure now counts as one after a short run.
    this.#resetTimer.handle?.cancel()
    this.#resetTimer.handle = undefined
    this.#setState('unhealthy')
  }

  #healthy(generation: number): void {
    if (generation !== this.#generation || this.#cancelling) return
    if (this.state !== 'running' && this.state !== 'unhealthy') return
    if (this.state === 'unhealthy') this.logger.info('healthy again')
    this.#setState('healthy')
    // Healthy for a while: the next failure starts the backoff over.
    this.#resetTimer.handle?.cancel()
    this.#resetTimer.handle = this.#timer(this.#backoff.resetAfterMs, () => {
      this.#attempt = 0
    })
  }

  #exited(outcome: Outcome): void {
    if (outcome === 'done') {
      this.logger.debug('runnable done')
      this.#setState('done')
      return
    }
    this.lastError = outcome.message
    this.logger.error({ err: outcome }, `runnable failed: ${outcome.message}`)
    this.#resetTimer.handle?.cancel()
    if (this.parent) void this.parent.childFailed(this, outcome)
    else this.tree.rootFailed(outcome)
  }

  /** A child failed: restart it (or all children) with backoff, or escalate when restarting too often. */
  async childFailed(child: SupervisedNode, error: Error): Promise<void> {
    if (this.#cancelling) return
    const now = this.tree.clock.now()
    this.#childRestarts = this.#childRestarts.filter((t) => now - t < this.#intensity.withinMs)
    this.#childRestarts.push(now)
    if (this.#childRestarts.length > this.#intensity.restarts) {
      await this.fail(new Error(`${child.path} failed ${this.#childRestarts.length} times within ${this.#intensity.withinMs} ms (last: ${error.message})`))
      return
    }
    if (this.#strategy === 'one-for-all') {
      const siblings = [...this.children.values()].filter((c) => c !== child && c.state !== 'stopped')
      await Promise.all(siblings.map((s) => s.cancel()))
      if (this.#cancelling) return
      for (const s of siblings) void s.restartLater()
    }
    await child.restartLater()
  }

  /** Cancels the subtree, then starts the runnable again after the backoff delay. */
  async restartLater(): Promise<void> {
    await this.#cancelChildren()
    this.children.clear()
    if (this.parent?.isCancelling) return
    this.#attempt++
    this.restarts++
    this.tree.restarted(this.path)
    const delay = backoffDelay(this.#backoff, this.#attempt, this.tree.random)
    this.logger.info({ delayMs: delay, attempt: this.#attempt }, 'restarting after backoff')
    this.#cancelling = false
    this.#setState('backoff')
    this.#timer(delay, () => this.start())
  }

  /** This node fails as a whole (escalation): its subtree is cancelled and its parent decides. */
  async fail(error: Error): Promise<void> {
    await this.cancel()
    this.lastError = error.message
    this.logger.error({ err: error }, `escalating: ${error.message}`)
    this.#setState('failed')
    if (this.parent) await this.parent.childFailed(this, error)
    else this.tree.rootFailed(error)
  }

  get isCancelling(): boolean {
    return this.#cancelling || (this.parent?.isCancelling ?? false)
  }

  async #cancelChildren(): Promise<void> {
    await Promise.all([...this.children.values()].map((c) => c.cancel()))
  }

  /**
   * Stops this node: children first, then its own signal. A runnable that has not returned within
   * the grace period is reported stuck (it cannot be killed, only waited for).
   */
  async cancel(): Promise<void> {
    this.#cancelling = true
    this.#clearTimers()
    await this.#cancelChildren()
    const running = this.#running
    if (this.#controller && !this.#controller.signal.aborted) {
      this.#setState('cancelling')
      this.#controller.abort(new Error(`${this.path} cancelled`))
    }
    if (running) {
      let graceTimer: TimerHandle | undefined
      const stuck = new Promise<'stuck'>((resolve) => {
        graceTimer = this.tree.clock.setTimeout(() => resolve('stuck'), this.tree.graceMs)
      })
      const result = await Promise.race([running.then(() => 'returned' as const), stuck])
      graceTimer?.cancel()
      if (result === 'stuck') {
        this.logger.warn({ graceMs: this.tree.graceMs }, 'runnable did not return after cancellation: stuck')
        this.#setState('stuck')
        void running.then(() => this.#setState('stopped'))
        return
      }
    }
    this.#setState('stopped')
  }

  status(): NodeStatus {
    return {
      name: this.name,
      path: this.path,
      state: this.state,
      restarts: this.restarts,
      ...(this.lastError !== undefined ? { lastError: this.lastError } : {}),
      since: this.since,
      children: [...this.children.values()].map((c) => c.status()),
    }
  }

  /** Every node in the subtree is healthy or done. */
  isHealthy(): boolean {
    return (this.state === 'healthy' || this.state === 'done') && [...this.children.values()].every((c) => c.isHealthy())
  }

  get timerCount(): number {
    return this.#timers.size + [...this.children.values()].reduce((n, c) => n + c.timerCount, 0)
  }
}

export { DEFAULT_BACKOFF }
