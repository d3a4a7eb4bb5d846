// `fabric`: the fabric's part of the switch's supervision tree.
//   fabric         the VXLAN device on the bridge, the DHCP filter, FRR's directory and config
//   fabric.zebra   FRR's zebra in the switch's namespace: learns local MACs from the bridge,
//                  installs remote ones (extern_learn) and the flood list
//   fabric.bgpd    FRR's bgpd: healthy once every neighbor is Established
// One for all: when zebra dies bgpd's view of the kernel is stale, so both start again. A daemon
// that exits (crash, kill -9) fails its runnable and the supervisor starts it again with backoff.
import { spawn, type ChildProcess } from 'node:child_process'
import { chownSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Netlink, spawnInNetns, type Link } from '@lab/netlink-native'
import type { Context, Runnable } from '@lab/supervisor'
import { realClock, sleep } from '@lab/clock'
import { aborted, service } from '../service.js'
import type { SwitchContext } from '../switched/state.js'
import { applyFabricFilter, checkUnderlay, destroyFabricFilter, ensureVxlan, floodList, removeVxlan } from './dataplane.js'
import type { FabricPlan } from './fabric.js'
import { bgpdConfig, bgpPeers, daemonArgs, frrOwner, vtyListening, zebraConfig, type FrrPaths } from './frr.js'

/** What the switch's status reads the fabric from. */
export interface FabricState {
  plan: FabricPlan
  frr: FrrPaths
  mtu?: number
}

export function fabricRunnable(sw: SwitchContext, fabric: FabricState, bridge: Link): Runnable {
  const { plan, frr } = fabric
  return service(
    sw.lifecycle,
    async (ctx) => {
      writeFrrDir(plan, frr)
      // zebra starts first (it takes a while, and learns the VXLAN device and the bridge from the
      // kernel's notifications as they change) while the data plane is made; bgpd only after both:
      // no broadcast crosses the VXLAN port before the DHCP filter is in place and a neighbor's
      // route puts its VTEP in the flood list.
      const zebra = new ZebraReady()
      ctx.run('zebra', daemonRunnable(sw, frr, zebra, 'zebra'))
      const nl = await Netlink.open({ netns: sw.netns })
      try {
        const mtu = await checkUnderlay(nl, plan, sw.netns)
        await ensureVxlan(nl, plan, bridge, mtu)
        fabric.mtu = mtu
      } finally {
        await nl.close()
      }
      await applyFabricFilter(sw.netns, plan.vxlan)
      ctx.logger.info({ vni: plan.vni, vxlan: plan.vxlan, local: plan.local, neighbors: plan.neighbors, frr: frr.dir }, 'fabric data plane ready')
      ctx.run('bgpd', daemonRunnable(sw, frr, zebra, 'bgpd', plan.neighbors, plan.vxlan))
    },
    async (_, ctx) => {
      // The daemons are stopped by now (children stop first).
      if (!sw.lifecycle.removing) return
      rmSync(frr.dir, { recursive: true, force: true })
      await destroyFabricFilter(sw.netns)
      const nl = await Netlink.open({ netns: sw.netns })
      try {
        await removeVxlan(nl, plan)
      } finally {
        await nl.close()
      }
      ctx.logger.info({ vxlan: plan.vxlan, frr: frr.dir }, 'fabric removed')
    },
  )
}

/** FRR's directory, owned by the user its daemons drop to, with the configuration in it. */
function writeFrrDir(plan: FabricPlan, frr: FrrPaths): void {
  mkdirSync(frr.dir, { recursive: true, mode: 0o750 })
  const owner = frrOwner()
  const files: Array<[string, string]> = [
    ['zebra.conf', zebraConfig(plan, frr)],
    ['bgpd.conf', bgpdConfig(plan, frr)],
    // vtysh -N reads this; without it every vtysh call warns on stderr.
    ['vtysh.conf', ''],
  ]
  for (const [name, text] of files) writeFileSync(join(frr.dir, name), text)
  if (owner) for (const path of [frr.dir, ...files.map(([name]) => join(frr.dir, name))]) chownSync(path, owner.uid, owner.gid)
}

/**
 * zebra's readiness, from its runnable to bgpd's: settled when the running zebra's vty listens,
 * replaced by an unsettled one when that zebra ends (the next zebra settles that one).
 */
class ZebraReady {
  #ready!: Promise<void>
  #settle!: () => void
  #settled = false
  constructor() {
    this.#next()
  }

  /** Settles once a zebra is ready, or when `signal` aborts. */
  wait(signal: AbortSignal): Promise<void> {
    return Promise.race([this.#ready, aborted(signal)])
  }

  ready(): void {
    this.#settled = true
    this.#settle()
  }

  /** The zebra that was ready is gone. (One that never was: its waiters keep waiting for the next.) */
  reset(): void {
    if (this.#settled) this.#next()
  }

  #next(): void {
    this.#settled = false
    this.#ready = new Promise((resolve) => (this.#settle = resolve))
  }
}

/**
 * One FRR daemon in the foreground, in its own process group (killed whole on stop). zebra is
 * healthy once its vty socket listens (its start complete); bgpd once every neighbor is
 * Established and in the kernel's flood list (polled while starting; afterwards nothing is polled).
 */
function daemonRunnable(sw: SwitchContext, frr: FrrPaths, zebra: ZebraReady, daemon: 'zebra' | 'bgpd', neighbors: string[] = [], vxlan = ''): Runnable {
  return async (ctx: Context) => {
    // bgpd's connection to zebra is made once at its start: if zebra is not ready then, FRR tries
    // again only 10 s later, with no EVPN until then. The supervisor starts both children
    // together (and again together, each after its own backoff, after a failure), so bgpd waits
    // for zebra's runnable to see zebra ready.
    if (daemon === 'bgpd') await zebra.wait(ctx.signal)
    if (ctx.signal.aborted) return
    // What a killed predecessor left: its pid file and sockets would make the new one refuse to start.
    for (const f of [`${daemon}.pid`, `${daemon}.vty`, ...(daemon === 'zebra' ? ['zserv.api'] : [])]) rmSync(join(frr.dir, f), { force: true })
    const argv = [join(frr.bin, daemon), ...daemonArgs(daemon, frr)]
    const options = { stdio: ['ignore', 'pipe', 'pipe'] as const, detached: true }
    const child: ChildProcess = sw.netns ? spawnInNetns(sw.netns, argv[0]!, argv.slice(1), { ...options, stdio: ['ignore', 'pipe', 'pipe'] }) : spawn(argv[0]!, argv.slice(1), { ...options, stdio: ['ignore', 'pipe', 'pipe'] })
    const exited = new Promise<Error>((resolve) => {
      child.once('error', (error) => resolve(new Error(`${daemon}: ${error.message}`)))
      child.once('exit', (code, signal) => resolve(new Error(`${daemon} exited (${signal ?? `status ${code}`})`)))
    })
    for (const stream of [child.stdout, child.stderr]) {
      stream?.setEncoding('utf8')
      stream?.on('data', (text: string) => {
        for (const line of text.split('\n')) if (line.trim()) ctx.logger.warn({ daemon }, line.trim())
      })
    }
    ctx.logger.info({ pid: child.pid, argv }, `${daemon} started`)
    let stopped = false
    try {
      const ready = daemon === 'zebra' ? untilVty(frr, 'zebra', ctx.signal) : untilEstablished(sw.netns, frr, neighbors, vxlan, ctx.signal)
      const first = await Promise.race([ready.then(() => undefined), exited])
      if (first) throw first
      if (ctx.signal.aborted) return
      if (daemon === 'zebra') zebra.ready()
      ctx.logger.info({ pid: child.pid }, `${daemon} ready`)
      ctx.healthy()
      const end = await Promise.race([exited, aborted(ctx.signal).then(() => undefined)])
      if (end) throw end
      stopped = true
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        killGroup(child, 'SIGTERM')
        // bgpd sends its neighbors a Cease on SIGTERM (withdrawing this host at once); a daemon
        // that does not end within 2 s is killed.
        const done = await Promise.race([exited.then(() => true), sleep(realClock, 2_000).then(() => false)])
        if (!done) killGroup(child, 'SIGKILL')
        await exited
      }
      // This zebra is gone: a bgpd started from now on waits for the next one.
      if (daemon === 'zebra') zebra.reset()
      if (stopped) ctx.logger.info(`${daemon} stopped`)
    }
  }
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal)
  } catch (error) {
    // ESRCH: the group is gone already, which is what we wanted.
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error
  }
}

async function untilVty(frr: FrrPaths, daemon: 'zebra' | 'bgpd', signal: AbortSignal): Promise<void> {
  // zebra's zserv socket exists before zebra is ready (and before it listens): a bgpd started
  // then can fail its one connection, and FRR's client tries again only 10 s later (seen in about
  // one start in three, bench/fabric). Ready is when its vty socket listens, the last step of its
  // start. One connect() every 10 ms while starting only; the stop's abort ends the wait.
  while (!signal.aborted) {
    if (await vtyListening(frr, daemon)) return
    await sleep(realClock, 10, signal).catch(() => undefined)
  }
}

async function untilEstablished(netns: string | undefined, frr: FrrPaths, neighbors: string[], vxlan: string, signal: AbortSignal): Promise<void> {
  const nl = await Netlink.open({ netns })
  try {
    while (!signal.aborted) {
      // First the kernel (cheap: one netlink dump every 20 ms): each neighbor's VTEP in the flood list on the VXLAN
      // port. BGP having received a neighbor's routes is not enough: zebra installs them a moment
      // later, and until then an ARP request from a VM here reaches no other host (its first ping
      // would wait for the kernel's ARP retry, 1 s).
      const flood = await floodList(nl, vxlan)
      if (neighbors.every((n) => flood.includes(n))) {
        // Then FRR: every session Established (a flood entry outlives a session that just fell).
        const peers = await bgpPeers(frr, neighbors).catch(() => undefined) // not answering yet: bgpd is still starting
        if (peers?.every((p) => p.state === 'Established')) return
      }
      // A stop in between ends the wait (the sleep rejects with the abort; the caller looks at the signal).
      await sleep(realClock, 20, signal).catch(() => undefined)
    }
  } finally {
    await nl.close()
  }
}
