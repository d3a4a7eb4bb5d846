// The supervision tree's Prometheus metrics, read from the tree when scraped, in a registry of the
// tree's own (nothing is registered globally).
import { Counter, Gauge, Registry } from 'prom-client'
import type { NodeState, NodeStatus } from './types.js'

const STATES: NodeState[] = ['starting', 'running', 'healthy', 'unhealthy', 'done', 'backoff', 'cancelling', 'stuck', 'stopped', 'failed']

function* walk(node: NodeStatus): Iterable<NodeStatus> {
  yield node
  for (const child of node.children) yield* walk(child)
}

export function supervisorMetrics(restarts: ReadonlyMap<string, number>, status: () => NodeStatus): Registry {
  const registry = new Registry()
  new Counter({
    name: 'lab_supervisor_restarts_total',
    help: 'Restarts of each runnable (label runnable: its dotted path) since the tree started.',
    labelNames: ['runnable'],
    registers: [registry],
    collect() {
      this.reset()
      // Runnables never restarted show as 0, so increase() sees their first restart; runnables
      // gone from the tree keep their count.
      for (const node of walk(status())) if (!restarts.has(node.path)) this.inc({ runnable: node.path }, 0)
      for (const [runnable, n] of restarts) this.inc({ runnable }, n)
    },
  })
  new Gauge({
    name: 'lab_supervisor_runnable_state',
    help: "1 for each runnable's current state (label state), 0 for its other states.",
    labelNames: ['runnable', 'state'],
    registers: [registry],
    collect() {
      this.reset()
      for (const node of walk(status())) for (const state of STATES) this.set({ runnable: node.path, state }, node.state === state ? 1 : 0)
    },
  })
  new Gauge({
    name: 'lab_supervisor_healthy',
    help: '1 while every runnable in the tree is healthy or done.',
    registers: [registry],
    collect() {
      let ok = 1
      for (const node of walk(status())) if (node.state !== 'healthy' && node.state !== 'done') ok = 0
      this.set(ok)
    },
  })
  return registry
}
