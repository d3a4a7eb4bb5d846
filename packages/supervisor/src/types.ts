import type { Logger } from 'pino'
import type { BackoffOptions } from './backoff.js'
import type { Clock } from '@lab/clock'

/** A unit of work under supervision: runs until its signal aborts, or calls done() and returns. */
export type Runnable = (ctx: Context) => Promise<void>

export interface Context {
  /** Dotted path from the root: `root.switch.dhcp-server`. */
  readonly path: string
  readonly name: string
  /** Aborted when this runnable is cancelled (restart of it or an ancestor, or stop). */
  readonly signal: AbortSignal
  /** A pino child logger carrying `runnable: path`. */
  readonly logger: Logger
  /** Starts a supervised child. Names are unique among siblings. */
  run(name: string, runnable: Runnable, options?: NodeOptions): void
  /** Reports that this runnable is serving (again, after unhealthy()). */
  healthy(): void
  /**
   * Reports that this runnable still runs but cannot do all of its job (a DHCP server whose lease
   * disk is full): shown in status with the reason, and the tree is not healthy, but nothing is
   * restarted — the runnable recovers by itself and calls healthy() again.
   */
  unhealthy(reason: string): void
  /** Reports that this runnable finished its job: returning afterwards is not a failure. */
  done(): void
}

export type Strategy = 'one-for-one' | 'one-for-all'

export interface Intensity {
  /** More than this many child restarts... */
  restarts: number
  /** ...within this window escalates the failure to the parent. */
  withinMs: number
}

export interface NodeOptions {
  /** How this node restarts its children when one fails. */
  strategy?: Strategy
  backoff?: Partial<BackoffOptions>
  intensity?: Intensity
}

export interface SupervisorOptions extends NodeOptions {
  /** A pino logger; each runnable logs through a child of it. Default: nothing is logged. */
  logger?: Logger
  clock?: Clock
  /** How long a cancelled runnable may take to return before it is reported stuck. */
  graceMs?: number
  random?: () => number
}

export type NodeState = 'starting' | 'running' | 'healthy' | 'unhealthy' | 'done' | 'backoff' | 'cancelling' | 'stuck' | 'stopped' | 'failed'

export interface NodeStatus {
  name: string
  path: string
  state: NodeState
  restarts: number
  lastError?: string
  /** Clock time of the last state change. */
  since: number
  children: NodeStatus[]
}
