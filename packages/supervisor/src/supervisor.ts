// supervisor(root, options): runs a tree of runnables and returns a handle to wait for health,
// read status and stop it.
import pino from 'pino'
import type { Registry } from 'prom-client'
import { DEFAULT_BACKOFF } from './backoff.js'
import { realClock } from '@lab/clock'
import { supervisorMetrics } from './metrics.js'
import { SupervisedNode, type Tree } from './node.js'
import type { NodeStatus, Runnable, SupervisorOptions } from './types.js'

export interface SupervisorHandle {
  /** Resolves when every runnable in the tree is healthy or done; rejects if the tree failed. */
  healthy(): Promise<void>
  /** The tree as JSON: state, restarts, last error, since, children. */
  status(): NodeStatus
  /** Cancels the whole tree (children first) and waits for it. */
  stop(): Promise<void>
  /** Resolves with the error that made the root give up (restart intensity exceeded at the top). */
  readonly failed: Promise<Error>
  /**
   * The tree's Prometheus metrics (`lab_supervisor_*`: restarts and state per runnable) in a
   * registry of its own; nothing is registered in prom-client's global registry.
   */
  metrics(): Registry
}

export function supervisor(root: Runnable, options: SupervisorOptions & { name?: string } = {}): SupervisorHandle {
  const waiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = []
  let failure: Error | undefined
  let resolveFailed!: (e: Error) => void
  const failed = new Promise<Error>((resolve) => (resolveFailed = resolve))
  let rootNode: SupervisedNode
  let rootRestarts: number[] = []
  const intensity = options.intensity ?? { restarts: 5, withinMs: 60_000 }
  // Per path, for as long as the tree lives: a node's own count starts over when its parent restarts.
  const restarts = new Map<string, number>()

  const tree: Tree = {
    clock: options.clock ?? realClock,
    // A library is silent unless given a logger: the default one is disabled.
    logger: options.logger ?? pino({ enabled: false }),
    graceMs: options.graceMs ?? 5_000,
    random: options.random ?? Math.random,
    defaults: { backoff: { ...DEFAULT_BACKOFF, ...options.backoff }, intensity, strategy: options.strategy ?? 'one-for-one' },
    restarted(path) {
      restarts.set(path, (restarts.get(path) ?? 0) + 1)
    },
    changed() {
      if (rootNode?.isHealthy()) for (const w of waiters.splice(0)) w.resolve()
    },
    rootFailed(error) {
      // The root is restarted like any child, within its own intensity; beyond it, the tree gives up.
      const now = tree.clock.now()
      rootRestarts = rootRestarts.filter((t) => now - t < intensity.withinMs)
      rootRestarts.push(now)
      if (rootRestarts.length > intensity.restarts) {
        failure = new Error(`supervision tree failed: ${error.message}`)
        tree.logger.error({ err: error }, 'root restarted too often: giving up')
        void rootNode.cancel().then(() => {
          for (const w of waiters.splice(0)) w.reject(failure!)
          resolveFailed(failure!)
        })
        return
      }
      void rootNode.restartLater()
    },
  }

  rootNode = new SupervisedNode(options.name ?? 'root', options.name ?? 'root', undefined, root, options, tree)
  rootNode.start()
  const metrics = supervisorMetrics(restarts, () => rootNode.status())

  return {
    healthy() {
      if (failure) return Promise.reject(failure)
      if (rootNode.isHealthy()) return Promise.resolve()
      return new Promise((resolve, reject) => waiters.push({ resolve, reject }))
    },
    status: () => rootNode.status(),
    async stop() {
      await rootNode.cancel()
      for (const w of waiters.splice(0)) w.reject(new Error('supervisor stopped'))
    },
    failed,
    metrics: () => metrics,
  }
}
