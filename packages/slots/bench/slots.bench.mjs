#!/usr/bin/env node
// Create + destroy 100 slots: ours (netlink + one nft transaction per namespace) vs seed 003's
// commands as a shell script, same topology, same run. The "host" is a namespace made here.
// Usage: slots.bench.mjs [--chart FILE.svg] (the figures as a bar chart as well)
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createProgress } from '@lab/cli-kit/progress'
import { chartOption, writeChart } from '../../../scripts/bench-chart.mjs'
import { Slots } from '../dist/index.js'

const { chart } = chartOption()
// One status line per phase, written between the timed parts only.
const progress = createProgress()

const COUNT = Number(process.env.BENCH_SLOTS ?? 100)
const seed = fileURLToPath(new URL('./seed-slot.sh', import.meta.url))
const tag = `lsb${process.pid % 100000}`
const host = `${tag}-host`
const made = []

function sh(argv) {
  execFileSync(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] })
}

function cleanup() {
  const list = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout
  for (const line of list.split('\n')) {
    const name = line.split(' ')[0]
    if (name && name.startsWith(tag)) spawnSync('ip', ['netns', 'del', name])
  }
}
process.on('exit', cleanup)
for (const s of ['SIGINT', 'SIGTERM']) process.on(s, () => process.exit(130))

if (spawnSync('sh', ['-c', 'command -v iptables']).status !== 0) {
  console.error('slots bench: the seed script needs iptables (apt-get install iptables)')
  process.exit(2)
}

sh(['ip', 'netns', 'add', host])
made.push(host)
sh(['ip', '-n', host, 'link', 'add', 'up0', 'type', 'veth', 'peer', 'name', 'up1'])
sh(['ip', '-n', host, 'link', 'set', 'up0', 'up'])

const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6

const slabKb = () => Number(/^Slab:\s+(\d+)/m.exec(readFileSync('/proc/meminfo', 'utf8'))[1])

// Ours.
progress.update(`ours: ${COUNT} slots one after another`)
const slots = await Slots.open({ hostNetns: host, uplink: 'up0', netnsPrefix: `${tag}-ns-`, vethPrefix: `${tag}v` })
await slots.del((await slots.add()).index) // warm-up
await slots.settled()
const slab0 = slabKb()
const rss0 = process.memoryUsage().rss
let t0 = process.hrtime.bigint()
const created = []
const createTimes = []
for (let i = 0; i < COUNT; i++) {
  const t = process.hrtime.bigint()
  created.push(await slots.add())
  createTimes.push(ms(t))
}
const oursCreate = ms(t0)
const slabPerSlot = ((slabKb() - slab0) * 1024) / COUNT
const rssPerSlot = (process.memoryUsage().rss - rss0) / COUNT
t0 = process.hrtime.bigint()
for (const s of created) await slots.del(s.index)
const oursDestroy = ms(t0)
// What the caller does not wait for: the kernel deleting the veth pairs with their namespaces.
t0 = process.hrtime.bigint()
await slots.settled()
const oursSettle = ms(t0)
// The kernel's floor, right after ours one by one (the machine's load moves a lot): the same
// syscalls from C (bench/floor.c), one slot after another, no nftables, no event loop, no thread
// hops. Skipped without a C compiler.
let floor
const PAIRS = Math.min(COUNT, 40)
const paired = []
const cc = ['cc', 'gcc'].find((c) => spawnSync('sh', ['-c', `command -v ${c}`]).status === 0)
if (cc) {
  progress.update(`kernel floor: ${COUNT} slots from C`)
  const dir = mkdtempSync(join(tmpdir(), 'slots-floor-'))
  try {
    const bin = join(dir, 'floor')
    execFileSync(cc, ['-O2', '-o', bin, fileURLToPath(new URL('./floor.c', import.meta.url))], { stdio: ['ignore', 'ignore', 'pipe'] })
    floor = execFileSync(bin, [String(Math.min(COUNT, 4096)), `${tag}-fl`], { encoding: 'utf8' }).trimEnd()
    // Paired, for a ratio the load moves less: one add() of ours, then one slot from C, in turn.
    progress.update(`ours against the kernel floor, in turn: ${PAIRS} each`)
    const pairedMade = []
    for (let i = 0; i < PAIRS; i++) {
      const t = process.hrtime.bigint()
      pairedMade.push(await slots.add())
      const ours = ms(t)
      const out = execFileSync(bin, ['1', `${tag}-fp${i}`], { encoding: 'utf8' })
      const c = Number(/^TOTAL\s+median ([\d.]+)/m.exec(out)[1])
      paired.push({ ours, c })
    }
    for (const s of pairedMade) await slots.del(s.index)
    await slots.settled()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

// The same, overlapping: addMany (4 at a time) and destroyMany (8 at a time).
progress.update(`ours: ${COUNT} slots with addMany/destroyMany`)
t0 = process.hrtime.bigint()
const many = await slots.addMany(COUNT, 4)
const oursCreateMany = ms(t0)
t0 = process.hrtime.bigint()
await slots.destroyMany(many.map((s) => s.index), 8)
const oursDestroyMany = ms(t0)
await slots.settled()
await slots.close()

// A warm pool as large as the run: acquire hands out a slot prepared in the background.
progress.update(`ours: filling a warm pool of ${COUNT}`)
const pooled = await Slots.open({ hostNetns: host, uplink: 'up0', netnsPrefix: `${tag}-ns-`, vethPrefix: `${tag}v`, pool: { size: COUNT } })
while (pooled.status().pool.idle < COUNT) await new Promise((r) => setTimeout(r, 20))
t0 = process.hrtime.bigint()
const acquired = []
for (let i = 0; i < COUNT; i++) acquired.push(await pooled.acquire())
const oursAcquire = ms(t0)
t0 = process.hrtime.bigint()
for (const s of acquired) await pooled.release(s)
const oursRelease = ms(t0)
await pooled.flush()
await pooled.settled()
await pooled.close()

// Dual stack: the same one-by-one run with IPv6 (its pieces ride in the same batches and transactions).
progress.update(`ours: ${COUNT} dual-stack slots one after another`)
const dual = await Slots.open({ hostNetns: host, uplink: 'up0', netnsPrefix: `${tag}-ns-`, vethPrefix: `${tag}v`, ipv6: true })
await dual.del((await dual.add()).index) // warm-up
await dual.settled()
const dualCreated = []
const dualTimes = []
t0 = process.hrtime.bigint()
for (let i = 0; i < COUNT; i++) {
  const t = process.hrtime.bigint()
  dualCreated.push(await dual.add())
  dualTimes.push(ms(t))
}
const dualCreate = ms(t0)
t0 = process.hrtime.bigint()
for (const s of dualCreated) await dual.del(s.index)
const dualDestroy = ms(t0)
await dual.settled()
await dual.close()

// Seed 003's commands.
progress.update(`seed 003 commands: ${COUNT} slots`)
t0 = process.hrtime.bigint()
for (let i = 1; i <= COUNT; i++) sh([seed, 'create', String(i), host, 'up0', `${tag}s`])
const seedCreate = ms(t0)
t0 = process.hrtime.bigint()
for (let i = 1; i <= COUNT; i++) sh([seed, 'destroy', String(i), host, 'up0', `${tag}s`])
const seedDestroy = ms(t0)

progress.done()
const row = (label, c, d) =>
  `${label.padEnd(30)} ${(c / COUNT).toFixed(2).padStart(8)} ms ${(d / COUNT).toFixed(2).padStart(8)} ms ${((c + d) / COUNT).toFixed(2).padStart(8)} ms`
console.log(`\n${COUNT} slots, per slot`)
console.log(`${'variant'.padEnd(30)} ${'add'.padStart(11)} ${'remove'.padStart(11)} ${'both'.padStart(11)}`)
console.log(row('ours, warm pool acquire/release', oursAcquire, oursRelease))
console.log(row('ours, one after another', oursCreate, oursDestroy))
console.log(row('ours, addMany/destroyMany', oursCreateMany, oursDestroyMany))
console.log(row('ours, dual stack, one by one', dualCreate, dualDestroy))
console.log(row('seed 003 commands (ip/iptables)', seedCreate, seedDestroy))
const sorted = [...createTimes].sort((a, b) => a - b)
console.log(`add one by one: median ${sorted[Math.floor(COUNT / 2)].toFixed(2)} ms, fastest ${sorted[0].toFixed(2)} ms, p90 ${sorted[Math.floor(COUNT * 0.9)].toFixed(2)} ms; the kernel finished deleting ${COUNT} removed slots ${oursSettle.toFixed(0)} ms after the last del() returned`)
const dualSorted = [...dualTimes].sort((a, b) => a - b)
console.log(`dual-stack add one by one: median ${dualSorted[Math.floor(COUNT / 2)].toFixed(2)} ms, p90 ${dualSorted[Math.floor(COUNT * 0.9)].toFixed(2)} ms (${(dualSorted[Math.floor(COUNT / 2)] / sorted[Math.floor(COUNT / 2)]).toFixed(2)}x the IPv4-only median)`)
if (floor) {
  const [, floorMedian, floorMin] = /^TOTAL\s+median ([\d.]+)\s+min ([\d.]+)/m.exec(floor).map(Number)
  console.log(`kernel floor (bench/floor.c: the same syscalls from C, without nftables), per step:\n${floor}`)
  console.log(`add one by one against the C floor (which has no nftables): median ${(sorted[Math.floor(COUNT / 2)] / floorMedian).toFixed(2)}x, fastest ${(sorted[0] / floorMin).toFixed(2)}x`)
  const ratios = paired.map((p) => p.ours / p.c).sort((a, b) => a - b)
  const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
  console.log(
    `in turn, ${PAIRS} adds of ours and ${PAIRS} slots from C: ours median ${med(paired.map((p) => p.ours)).toFixed(2)} ms, C ${med(paired.map((p) => p.c)).toFixed(2)} ms; ours/C per pair: median ${ratios[Math.floor(PAIRS / 2)].toFixed(2)}x`,
  )
}
console.log(`memory per slot: ${(slabPerSlot / 1024).toFixed(1)} KiB kernel slab (/proc/meminfo Slab delta), ${(rssPerSlot / 1024).toFixed(1)} KiB RSS in our process`)
console.log(`ours creates ${(seedCreate / oursCreate).toFixed(1)}x faster one by one (${(seedCreate / oursCreateMany).toFixed(1)}x with addMany), create+destroy ${((seedCreate + seedDestroy) / (oursCreate + oursDestroy)).toFixed(1)}x (${((seedCreate + seedDestroy) / (oursCreateMany + oursDestroyMany)).toFixed(1)}x overlapped)`)
if (chart) {
  const variants = [
    ['ours, warm pool acquire/release', oursAcquire, oursRelease],
    ['ours, one after another', oursCreate, oursDestroy],
    ['ours, addMany/destroyMany', oursCreateMany, oursDestroyMany],
    ['ours, dual stack, one by one', dualCreate, dualDestroy],
    ['seed 003 commands (ip/iptables)', seedCreate, seedDestroy],
  ]
  const baseline = 'seed 003 commands (ip/iptables)'
  const panel = (title, pick) => ({ title, unit: 'ms', better: 'lower', baseline, bars: variants.map((v) => ({ label: v[0], value: pick(v) / COUNT, ours: v[0].startsWith('ours') })) })
  writeChart(chart, {
    title: `@lab/slots vs a shell script of ip/iptables: ${COUNT} slots, time per slot`,
    panels: [panel('add a slot', (v) => v[1]), panel('remove a slot', (v) => v[2]), panel('add and remove', (v) => v[1] + v[2])],
  })
  console.log(`chart: ${chart}`)
}
