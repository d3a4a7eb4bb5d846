// The share of CPU time the hypervisor took from this virtual machine (the `steal` column of
// /proc/stat) over a stretch of time. On the shared development machine it rises to 30-40% for
// minutes at a time, and every process (ours, Kea, the load generator) runs slower while it does:
// benches print it per round so a slow round can be told from a slow server.

import { readFileSync } from 'node:fs'

/** The machine-wide CPU counters (all CPUs, clock ticks): total and stolen. */
function readCpuTicks() {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]
  const ticks = line.trim().split(/\s+/).slice(1).map(Number)
  // user nice system idle iowait irq softirq steal guest guest_nice; guest time is already in user.
  const total = ticks.slice(0, 8).reduce((a, b) => a + b, 0)
  return { total, steal: ticks[7] ?? 0 }
}

/** Starts a measurement; the returned function gives the stolen percentage since then. */
export function stealMeter() {
  const start = readCpuTicks()
  return () => {
    const end = readCpuTicks()
    const total = end.total - start.total
    return total > 0 ? (100 * (end.steal - start.steal)) / total : 0
  }
}
