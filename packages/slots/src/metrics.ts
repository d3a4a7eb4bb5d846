// The slots' Prometheus metrics in a registry of the instance's own (nothing is registered
// globally): gauges read from status() when scraped, latency histograms observed as slots come and go.
import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { SlotsStatus } from './pool.js'

/** Seconds: an add takes ~10-100 ms here, more under load. */
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

export function slotsMetrics(status: () => SlotsStatus) {
  const registry = new Registry()
  // One scrape collects every gauge in one turn of the event loop: status() is read once for it.
  let now: SlotsStatus | undefined
  const read = () => {
    if (!now) {
      now = status()
      setImmediate(() => (now = undefined))
    }
    return now
  }
  new Gauge({
    name: 'lab_slots_active',
    help: 'Slots in use by a sandbox (made by add(), or acquired from the pool).',
    registers: [registry],
    collect() {
      const s = read()
      // Pool slots being built are not in use yet.
      this.set(s.slots - s.idle.length - (s.pool?.filling ?? 0))
    },
  })
  new Gauge({
    name: 'lab_slots_idle',
    help: 'Pooled slots built and waiting for acquire().',
    registers: [registry],
    collect() {
      this.set(read().idle.length)
    },
  })
  new Gauge({
    name: 'lab_slots_max',
    help: 'Slots this host may have (maxSlots).',
    registers: [registry],
    collect() {
      this.set(read().maxSlots)
    },
  })
  const create = new Histogram({ name: 'lab_slots_create_duration_seconds', help: 'Building one slot (namespace, veth, TAP, routes, NAT), by purpose: add (for a caller) or pool (a refill).', labelNames: ['purpose'], buckets: BUCKETS, registers: [registry] })
  const destroy = new Histogram({ name: 'lab_slots_destroy_duration_seconds', help: 'Removing one slot, until del()/destroy() resolves (the kernel finishes deleting in the background).', buckets: BUCKETS, registers: [registry] })
  const created = new Counter({ name: 'lab_slots_created_total', help: 'Slots built, by purpose.', labelNames: ['purpose'], registers: [registry] })
  return {
    registry,
    created(pooled: boolean, seconds: number): void {
      const purpose = pooled ? 'pool' : 'add'
      create.observe({ purpose }, seconds)
      created.inc({ purpose })
    },
    destroyed(seconds: number): void {
      destroy.observe(seconds)
    },
  }
}

export type SlotsMetrics = ReturnType<typeof slotsMetrics>
