#!/usr/bin/env node
// 500 veth pairs, each with an address and set up, in a fresh namespace: ours batched, ours
// sequential, `ip -batch`, and one `ip` exec per op (100 pairs, scaled). System CPU time is the
// kernel's share, the floor nobody can beat. Then 200 namespace create+delete cycles, with the
// event loop's delay while creating (perf_hooks.monitorEventLoopDelay): an async create must leave
// the loop free. BENCH_ONLY=netns runs only the namespace part, BENCH_ONLY=veth only the veth one.
// User and system CPU are shown apart (ours: this process; ip: the children), so the kernel's
// share is visible; BENCH_RUNS (default 3) runs of the batch rows alternate, the median is kept.
// Everything happens inside namespaces this script creates and removes.
// Queues: by default each side makes its veths its own way: ours with one queue each way (the
// library's default), ip with the kernel's one per CPU, which the kernel trims to one in use after
// registering each end (an RCU grace period per end). BENCH_QUEUES=N makes every veth on both
// sides with N queues each way (ours txQueues/rxQueues, ip numtxqueues/numrxqueues);
// BENCH_QUEUES=kernel leaves the count to the kernel on both sides (ours txQueues: 'kernel').
// After each variant its namespace is deleted and the bench waits until the kernel's worker
// threads are idle again (the namespace's teardown, some 200 ms of kworker CPU for 1,000 veths,
// would otherwise run during the next variant); their CPU during each variant is shown apart
// (kworkers: linkwatch, addrconf, RCU; machine-wide, so other jobs' share is in it too).
// Usage: rtnetlink.bench.mjs [--chart FILE.svg] (the figures as a bar chart as well)
import { execFile, execFileSync, spawnSync } from 'node:child_process'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { promisify } from 'node:util'
import { readFileSync, readdirSync, writeFileSync, rmSync, mkdtempSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createProgress } from '@lab/cli-kit/progress'
import { chartOption, writeChart } from '../../../scripts/bench-chart.mjs'
import { Netlink, Netns } from '../dist/index.js'

const { chart } = chartOption()
// One status line per variant, written between the timed parts only.
const progress = createProgress()
const panels = []

const PAIRS = Number(process.env.BENCH_PAIRS ?? 500)
const EXEC_PAIRS = Math.min(100, PAIRS)
const NETNS_CYCLES = Number(process.env.BENCH_NETNS ?? 200)
const ONLY = process.env.BENCH_ONLY
const QUEUES = process.env.BENCH_QUEUES === 'kernel' ? 'kernel' : process.env.BENCH_QUEUES ? Number(process.env.BENCH_QUEUES) : undefined
const queues = QUEUES ? { txQueues: QUEUES, rxQueues: QUEUES } : {}
const ipQueues = typeof QUEUES === 'number' ? ` numtxqueues ${QUEUES} numrxqueues ${QUEUES}` : ''
const queueNote = QUEUES === undefined ? 'ours 1 queue each way (its default), ip the kernel\'s default' : QUEUES === 'kernel' ? 'the kernel\'s default queues on both sides' : `${QUEUES} queue(s) each way on both sides`
const prefix = `labb-${process.pid}`
const created = new Set()
let counter = 0

function ip(args) {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] })
}

function freshNs() {
  const name = `${prefix}-${++counter}`
  ip(['netns', 'add', name])
  created.add(name)
  return name
}

function dropNs(name) {
  spawnSync('ip', ['netns', 'del', name])
  created.delete(name)
}

/** CPU time (ms) of the kernel's worker threads so far, machine-wide (/proc/PID/schedstat). */
function kworkerCpu() {
  let ns = 0
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue
    try {
      if (!readFileSync(`/proc/${pid}/comm`, 'utf8').startsWith('kworker')) continue
      ns += Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0])
    } catch {
      // gone meanwhile
    }
  }
  return ns / 1e6
}

/** Waits until the kernel's workers ran under 5 ms in 100 ms (a deleted namespace is torn down), at most 5 s. */
async function settle() {
  const until = Date.now() + 5000
  let last = kworkerCpu()
  while (Date.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, 100))
    const now = kworkerCpu()
    if (now - last < 5) return
    last = now
  }
}

function cleanup() {
  for (const name of [...created]) dropNs(name)
}
process.on('exit', cleanup)
for (const s of ['SIGINT', 'SIGTERM']) process.on(s, () => process.exit(130))

/** CPU seconds of waited-for children, from /proc/self/stat (cutime, cstime). */
function childCpu() {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ')
  const tick = 100
  return { user: Number(fields[13]) / tick, system: Number(fields[14]) / tick }
}

function addressOf(i) {
  return `10.${100 + (i >> 8)}.${i & 255}.1/32`
}

async function measure(label, pairs, fn, { child = false } = {}) {
  progress.update(label)
  const ns = freshNs()
  await settle()
  const workers0 = kworkerCpu()
  const cpu0 = process.cpuUsage()
  const kids0 = childCpu()
  const t0 = process.hrtime.bigint()
  await fn(ns, pairs)
  const wall = Number(process.hrtime.bigint() - t0) / 1e6
  const cpu = process.cpuUsage(cpu0)
  const kids = childCpu()
  const workers = kworkerCpu() - workers0
  const system = child ? (kids.system - kids0.system) * 1000 : cpu.system / 1000
  const user = child ? (kids.user - kids0.user) * 1000 : cpu.user / 1000
  const links = JSON.parse(execFileSync('ip', ['-n', ns, '-j', 'addr', 'show', 'up'], { encoding: 'utf8' }))
  dropNs(ns)
  const addressed = links.filter((l) => (l.addr_info ?? []).some((a) => a.family === 'inet')).length
  if (links.length < pairs * 2 || addressed < pairs) throw new Error(`${label}: expected ${pairs * 2} links up and ${pairs} with an address, found ${links.length} and ${addressed}`)
  const scale = PAIRS / pairs
  return { label, wall: wall * scale, system: system * scale, user: user * scale, workers: workers * scale, scaled: scale !== 1 }
}

// Every variant makes the same: a${i} created up (IFF_UP in the request; a veth's peer cannot be
// brought up inside the same request), its address, then b${i} set up.

/**
 * Links named only: operations naming a link made in the batch wait until the operations before
 * them were answered and the names looked up, so the links come first (two runs in a row; pair by
 * pair it would be one run per pair).
 */
async function oursBatched(ns, pairs) {
  const nl = await Netlink.open({ netns: ns })
  await nl.batch((b) => {
    for (let i = 0; i < pairs; i++) b.link.add({ name: `a${i}`, kind: 'veth', up: true, ...queues, peer: { name: `b${i}` } })
    for (let i = 0; i < pairs; i++) {
      b.addr.add(`a${i}`, addressOf(i))
      b.link.set(`b${i}`, { up: true })
    }
  })
  nl.close()
}

/** Links created with given indexes: the whole batch is one pipelined run. */
async function oursIndexed(ns, pairs) {
  const nl = await Netlink.open({ netns: ns })
  await nl.batch((b) => {
    for (let i = 0; i < pairs; i++) b.link.add({ name: `a${i}`, kind: 'veth', up: true, index: 1000 + 2 * i, ...queues, peer: { name: `b${i}`, index: 1001 + 2 * i } })
    for (let i = 0; i < pairs; i++) {
      b.addr.add(`a${i}`, addressOf(i))
      b.link.set(`b${i}`, { up: true })
    }
  })
  nl.close()
}

async function oursSequential(ns, pairs) {
  const nl = await Netlink.open({ netns: ns })
  for (let i = 0; i < pairs; i++) {
    await nl.link.add({ name: `a${i}`, kind: 'veth', up: true, ...queues, peer: { name: `b${i}` } })
    await nl.addr.add(`a${i}`, addressOf(i))
    await nl.link.set(`b${i}`, { up: true })
  }
  nl.close()
}

// The links first, then their addresses and peers up, for every side: pair by pair (each link's
// address and peer right after it) costs the kernel more, for ip as for us (more linkwatch runs).
function script(pairs) {
  const lines = []
  for (let i = 0; i < pairs; i++) lines.push(`link add a${i}${ipQueues} up type veth peer name b${i}${ipQueues}`)
  for (let i = 0; i < pairs; i++) lines.push(`addr add ${addressOf(i)} dev a${i}`, `link set b${i} up`)
  return lines
}

const dir = mkdtempSync(join(tmpdir(), 'lab-bench-'))
async function ipBatch(ns, pairs) {
  const file = join(dir, 'batch.txt')
  writeFileSync(file, script(pairs).join('\n') + '\n')
  ip(['-n', ns, '-batch', file])
}

async function ipPerOp(ns, pairs) {
  for (const line of script(pairs)) ip(['-n', ns, ...line.split(' ')])
}

function row(r, base) {
  const ratio = base ? (r.wall / base.wall).toFixed(2) + 'x' : ''
  const kernelShare = ((r.system / r.wall) * 100).toFixed(0) + '%'
  const spread = r.spread ? `${r.spread[0].toFixed(0)}-${r.spread[1].toFixed(0)}` : ''
  return `${r.label.padEnd(38)} ${r.wall.toFixed(1).padStart(9)} ms ${spread.padStart(10)} ${r.user.toFixed(1).padStart(9)} ms ${r.system.toFixed(1).padStart(9)} ms ${kernelShare.padStart(6)} ${r.workers.toFixed(1).padStart(9)} ms ${ratio.padStart(8)}${r.scaled ? '  (scaled)' : ''}`
}

const RUNS = Number(process.env.BENCH_RUNS ?? 3)

/** Runs the variants RUNS times, alternating, and keeps each one's median (by wall time) with its spread. */
async function alternating(variants) {
  const runs = variants.map(() => [])
  for (let i = 0; i < RUNS; i++) {
    for (const [k, v] of variants.entries()) runs[k].push(await measure(`${v.label} ${i + 1}/${RUNS}`, v.pairs, v.fn, v.options))
  }
  return runs.map((rs, k) => {
    const sorted = [...rs].sort((a, b) => a.wall - b.wall)
    const median = (key) => [...rs].sort((a, b) => a[key] - b[key])[Math.floor(rs.length / 2)][key]
    // Each column's own median: the CPU figures of the median-wall run alone would be one sample.
    return { ...sorted[Math.floor(sorted.length / 2)], user: median('user'), system: median('system'), workers: median('workers'), label: variants[k].label, spread: [sorted[0].wall, sorted.at(-1).wall] }
  })
}

/** Runs fn and returns its wall time and the event loop's delay meanwhile (p99 and max, ms). */
async function withLoopDelay(fn) {
  const histogram = monitorEventLoopDelay({ resolution: 1 })
  histogram.enable()
  const t0 = process.hrtime.bigint()
  await fn()
  const wall = Number(process.hrtime.bigint() - t0) / 1e6
  histogram.disable()
  return { wall, p99: histogram.percentile(99) / 1e6, max: histogram.max / 1e6 }
}

async function vethBench() {
  // Warm-up: the first namespace and first veth creation load kernel code paths.
  await measure('warm-up', 20, oursBatched)
  const results = await alternating([
    { label: `ip -batch (${PAIRS} pairs)`, pairs: PAIRS, fn: ipBatch, options: { child: true } },
    { label: `ours batched, by name (${PAIRS} pairs)`, pairs: PAIRS, fn: oursBatched },
    { label: `ours batched, indexes (${PAIRS} pairs)`, pairs: PAIRS, fn: oursIndexed },
  ])
  results.push(await measure(`ours sequential (${PAIRS} pairs)`, PAIRS, oursSequential))
  results.push(await measure(`ip exec per op (${EXEC_PAIRS} pairs)`, EXEC_PAIRS, ipPerOp, { child: true }))
  const base = results[0]
  progress.done()
  const bars = (rs) => rs.map((r) => ({ label: `${r.label}${r.scaled ? ', scaled' : ''}`, value: r.wall, ours: r.label.startsWith('ours') }))
  panels.push({ title: `${PAIRS} veth pairs with an address, both ends up`, unit: 'ms', better: 'lower', baseline: base.label, bars: bars(results.slice(0, 4)) })
  // Apart: at tens of times the others, it would shrink their bars to nothing.
  panels.push({ title: `the same, one ip exec per operation`, unit: 'ms', better: 'lower', baseline: results[1].label, bars: bars([results[1], results[4]]) })
  console.log(`\n${PAIRS} veth pairs, each with an address and both ends up, ${queueNote}, in a fresh namespace (batch rows: median of ${RUNS}, alternating; load ${loadavg().map((l) => l.toFixed(1)).join(' ')})`)
  console.log(`${'variant'.padEnd(38)} ${'wall'.padStart(12)} ${'spread ms'.padStart(10)} ${'user CPU'.padStart(12)} ${'system CPU'.padStart(12)} ${'kernel'.padStart(6)} ${'kworkers'.padStart(12)} ${'vs ip -b'.padStart(8)}`)
  for (const r of results) console.log(row(r, base))
  const perOp = results[4]
  // The floor: the kernel's own work for our requests (system CPU, in our process) cannot shrink
  // by sending them differently; against half of ip's wall time it says whether 0.5x is reachable.
  for (const r of results.slice(1, 3)) {
    // ip's own CPU is its wall time on an idle machine when nothing sleeps (one queue each way).
    console.log(`${r.label}: its system CPU alone is ${(r.system / base.wall).toFixed(2)}x ip -batch's wall time (user ${(r.user / base.wall).toFixed(2)}x, waiting ${(Math.max(0, r.wall - r.user - r.system) / base.wall).toFixed(2)}x) and ${(r.system / (base.user + base.system)).toFixed(2)}x ip -batch's CPU time`)
  }
  console.log(`ours batched is ${(perOp.wall / results[2].wall).toFixed(1)}x faster than one ip exec per op`)
}

async function netnsBench() {
  // Namespaces: create all, then delete all, each side timed the same way.
  const timed = (fn) => {
    const t0 = process.hrtime.bigint()
    return Promise.resolve(fn()).then(() => Number(process.hrtime.bigint() - t0) / 1e6)
  }
  const names = (tag) => Array.from({ length: NETNS_CYCLES }, (_, i) => `${prefix}-${tag}${i}`)
  const ours = names('n')
  progress.update(`${NETNS_CYCLES} namespaces: ours, ip -batch, ip per exec`)
  ours.forEach((n) => created.add(n))
  const oursAdd = await timed(async () => {
    for (const n of ours) await Netns.add(n)
  })
  const oursDel = await timed(async () => {
    for (const n of ours) await Netns.del(n)
  })
  ours.forEach((n) => created.delete(n))
  const batch = names('m')
  batch.forEach((n) => created.add(n))
  const add = join(dir, 'ns-add.txt')
  const del = join(dir, 'ns-del.txt')
  writeFileSync(add, batch.map((n) => `netns add ${n}`).join('\n') + '\n')
  writeFileSync(del, batch.map((n) => `netns del ${n}`).join('\n') + '\n')
  const batchAdd = await timed(() => ip(['-batch', add]))
  const batchDel = await timed(() => ip(['-batch', del]))
  batch.forEach((n) => created.delete(n))
  const perExec = names('e')
  perExec.forEach((n) => created.add(n))
  const execAdd = await timed(() => perExec.forEach((n) => ip(['netns', 'add', n])))
  const execDel = await timed(() => perExec.forEach((n) => ip(['netns', 'del', n])))
  perExec.forEach((n) => created.delete(n))
  progress.done()
  panels.push({
    title: `${NETNS_CYCLES} network namespaces, create all then delete all`,
    unit: 'ms',
    better: 'lower',
    baseline: 'ours Netns.add / del',
    bars: [
      { label: 'ours Netns.add / del', value: oursAdd + oursDel, ours: true },
      { label: 'ip -batch netns add / del', value: batchAdd + batchDel },
      { label: 'ip netns add / del, one exec each', value: execAdd + execDel },
    ],
  })
  console.log(`\n${NETNS_CYCLES} network namespaces: create all, then delete all`)
  console.log(`${'variant'.padEnd(34)} ${'create'.padStart(12)} ${'delete'.padStart(12)} ${'total'.padStart(12)} ${'vs ours'.padStart(8)}`)
  const nsRow = (label, a, d) =>
    console.log(`${label.padEnd(34)} ${a.toFixed(1).padStart(9)} ms ${d.toFixed(1).padStart(9)} ms ${(a + d).toFixed(1).padStart(9)} ms ${((a + d) / (oursAdd + oursDel)).toFixed(2).padStart(7)}x`)
  nsRow('ours Netns.add / del', oursAdd, oursDel)
  nsRow('ip -batch netns add / del', batchAdd, batchDel)
  nsRow('ip netns add / del, one exec each', execAdd, execDel)

  // The event loop while creating: ours one await at a time, and `ip netns add` the way an async
  // program would run it (execFile, one at a time). p99 of the loop's delay is what a timer or a
  // packet handler waits at worst, 1 time in 100.
  const execFileAsync = promisify(execFile)
  progress.update(`event-loop delay while creating ${NETNS_CYCLES} namespaces`)
  const loopOurs = names('l')
  loopOurs.forEach((n) => created.add(n))
  const oursLoop = await withLoopDelay(async () => {
    for (const n of loopOurs) await Netns.add(n)
  })
  for (const n of loopOurs) await Netns.del(n)
  loopOurs.forEach((n) => created.delete(n))
  const loopExec = names('x')
  loopExec.forEach((n) => created.add(n))
  const execLoop = await withLoopDelay(async () => {
    for (const n of loopExec) await execFileAsync('ip', ['netns', 'add', n])
  })
  for (const n of loopExec) dropNs(n)
  // The floor: the same monitor over an idle wait as long as our run (timer granularity, and
  // whatever else the machine is doing).
  const idle = await withLoopDelay(() => new Promise((resolve) => setTimeout(resolve, oursLoop.wall)))
  progress.done()
  panels.push({
    title: `event-loop delay p99 while creating ${NETNS_CYCLES} namespaces`,
    unit: 'ms',
    better: 'lower',
    bars: [
      { label: 'ours await Netns.add', value: oursLoop.p99, ours: true },
      { label: 'await execFile ip netns add', value: execLoop.p99 },
      { label: 'idle (nothing running), same time', value: idle.p99 },
    ],
  })
  console.log(`\nevent-loop delay while creating ${NETNS_CYCLES} namespaces, one at a time (monitorEventLoopDelay, 1 ms resolution)`)
  console.log(`${'variant'.padEnd(34)} ${'create'.padStart(12)} ${'loop p99'.padStart(12)} ${'loop max'.padStart(12)}`)
  const loopRow = (label, r) => console.log(`${label.padEnd(34)} ${r.wall.toFixed(1).padStart(9)} ms ${r.p99.toFixed(2).padStart(9)} ms ${r.max.toFixed(2).padStart(9)} ms`)
  loopRow('ours await Netns.add', oursLoop)
  loopRow('await execFile ip netns add', execLoop)
  loopRow('idle (nothing running), same time', idle)
}

try {
  if (ONLY !== 'netns') await vethBench()
  if (ONLY !== 'veth') await netnsBench()
  if (chart) {
    writeChart(chart, { title: '@lab/netlink-native vs ip(8): rtnetlink', panels })
    console.log(`chart: ${chart}`)
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
  cleanup()
}
