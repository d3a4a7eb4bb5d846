#!/usr/bin/env node
// 10,000 rules in one transaction: ours vs `nft -f` with the same rules; 100 rules with one
// `nft add rule` exec each (per-rule cost, scaled); 10,000 set elements both ways. Each in a fresh
// namespace made here, with the kernel's share (system CPU) of each.
// Usage: nft.bench.mjs [--chart FILE.svg] (the figures as a bar chart as well)
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createProgress } from '@lab/cli-kit/progress'
import { chartOption, writeChart } from '../../../scripts/bench-chart.mjs'
import { Nft, rule } from '../dist/index.js'

const { chart } = chartOption()
const progress = createProgress()

const RULES = Number(process.env.BENCH_RULES ?? 10_000)
const EXEC_RULES = 100
const ELEMENTS = Number(process.env.BENCH_ELEMENTS ?? 10_000)
const tag = `lnb${process.pid % 100000}`
let n = 0
const made = new Set()
const dir = mkdtempSync(join(tmpdir(), 'lab-nft-bench-'))

function cleanup() {
  for (const ns of made) spawnSync('ip', ['netns', 'del', ns])
  rmSync(dir, { recursive: true, force: true })
}
process.on('exit', cleanup)
for (const s of ['SIGINT', 'SIGTERM']) process.on(s, () => process.exit(130))

function freshNs() {
  const ns = `${tag}-${++n}`
  execFileSync('ip', ['netns', 'add', ns])
  made.add(ns)
  return ns
}

function childCpu() {
  const f = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ')
  return { user: Number(f[13]) * 10, system: Number(f[14]) * 10 }
}

async function measure(label, fn, { child = false, scale = 1 } = {}) {
  const ns = freshNs()
  const cpu0 = process.cpuUsage()
  const kid0 = childCpu()
  const t0 = process.hrtime.bigint()
  await fn(ns)
  const wall = Number(process.hrtime.bigint() - t0) / 1e6
  const cpu = process.cpuUsage(cpu0)
  const kid = childCpu()
  const system = child ? kid.system - kid0.system : cpu.system / 1000
  return { label, wall: wall * scale, system: system * scale, scaled: scale !== 1, ns }
}

const ruleText = (i) => `add rule ip lab c ip saddr 10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255} tcp dport ${1024 + (i % 50000)} counter accept`
const ruleBuilt = (i) => rule().ip('saddr', `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`).tcp('dport', 1024 + (i % 50000)).counter().accept()
const header = 'add table ip lab\nadd chain ip lab c\n'

async function ours(ns) {
  const nft = await Nft.open({ netns: ns })
  await nft.apply((tx) => {
    tx.addTable({ family: 'ip', name: 'lab' })
    tx.addChain({ table: { family: 'ip', name: 'lab' }, name: 'c' })
    for (let i = 0; i < RULES; i++) tx.addRule({ table: { family: 'ip', name: 'lab' }, chain: 'c', exprs: ruleBuilt(i) })
  })
  await nft.close()
}

async function nftFile(ns) {
  const file = join(dir, 'rules.nft')
  writeFileSync(file, header + Array.from({ length: RULES }, (_, i) => ruleText(i)).join('\n') + '\n')
  execFileSync('ip', ['netns', 'exec', ns, 'nft', '-f', file])
}

async function nftPerExec(ns) {
  execFileSync('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], { input: header })
  for (let i = 0; i < EXEC_RULES; i++) execFileSync('ip', ['netns', 'exec', ns, 'nft', ...ruleText(i).split(' ')])
}

const elementKey = (i) => `10.${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`

async function oursElements(ns) {
  const nft = await Nft.open({ netns: ns })
  const table = { family: 'ip', name: 'lab' }
  await nft.apply((tx) => {
    tx.addTable(table)
    const set = tx.addSet({ table, name: 's', type: 'ipv4_addr' })
    tx.addElements(set, Array.from({ length: ELEMENTS }, (_, i) => ({ key: elementKey(i) })))
  })
  await nft.close()
}

async function nftElements(ns) {
  const file = join(dir, 'elements.nft')
  const elements = Array.from({ length: ELEMENTS }, (_, i) => elementKey(i)).join(', ')
  writeFileSync(file, `add table ip lab\nadd set ip lab s { type ipv4_addr; }\nadd element ip lab s { ${elements} }\n`)
  execFileSync('ip', ['netns', 'exec', ns, 'nft', '-f', file])
}

function count(ns, what) {
  const json = JSON.parse(execFileSync('ip', ['netns', 'exec', ns, 'nft', '-j', 'list', 'ruleset'], { encoding: 'utf8', maxBuffer: 1 << 28 }))
  if (what === 'rules') return json.nftables.filter((o) => o.rule).length
  return json.nftables.find((o) => o.set)?.set.elem?.length ?? 0
}

const RUNS = Number(process.env.BENCH_RUNS ?? 5)

/** Runs a variant RUNS times, alternating with the others, and keeps the median wall time. */
async function median(label, fn, options, check) {
  const runs = []
  for (let i = 0; i < RUNS; i++) {
    progress.count(label, i + 1, RUNS)
    const r = await measure(label, fn, options)
    if (check) check(r)
    spawnSync('ip', ['netns', 'del', r.ns])
    made.delete(r.ns)
    runs.push(r)
  }
  runs.sort((a, b) => a.wall - b.wall)
  return runs[Math.floor(runs.length / 2)]
}

const rulesOk = (r) => {
  if (count(r.ns, 'rules') !== RULES) throw new Error(`${r.label}: rules missing`)
}
const elementsOk = (r) => {
  if (count(r.ns, 'elements') !== ELEMENTS) throw new Error(`${r.label}: elements missing`)
}
await measure('warm-up', ours)
const rows = []
rows.push(await median(`nft -f (${RULES} rules)`, nftFile, { child: true }, rulesOk))
rows.push(await median(`ours, one transaction (${RULES} rules)`, ours, {}, rulesOk))
progress.update(`nft add rule per exec (${EXEC_RULES})`)
rows.push(await measure(`nft add rule per exec (${EXEC_RULES}, scaled)`, nftPerExec, { child: true, scale: RULES / EXEC_RULES }))
const elements = [await median(`nft -f (${ELEMENTS} set elements)`, nftElements, { child: true }, elementsOk), await median(`ours (${ELEMENTS} set elements)`, oursElements, {}, elementsOk)]
progress.done()
console.log(`\nmedian of ${RUNS} runs each (the per-exec row: one run of ${EXEC_RULES} rules, scaled)`)

const line = (r, base) =>
  `${r.label.padEnd(44)} ${r.wall.toFixed(1).padStart(10)} ms ${r.system.toFixed(0).padStart(8)} ms ${((r.system / r.wall) * 100).toFixed(0).padStart(5)}% ${(r.wall / base.wall).toFixed(2).padStart(8)}x`
console.log(`\n${'variant'.padEnd(44)} ${'wall'.padStart(13)} ${'system'.padStart(11)} ${'kernel'.padStart(6)} ${'vs nft -f'.padStart(9)}`)
for (const r of rows) console.log(line(r, rows[0]))
for (const r of elements) console.log(line(r, elements[0]))
if (chart) {
  const bars = (rs) => rs.map((r) => ({ label: r.label, value: r.wall, ours: r.label.startsWith('ours') }))
  writeChart(chart, {
    title: '@lab/nft vs nft(8): wall time',
    subtitle: `median of ${RUNS} runs each, each in a fresh namespace; the per-exec row is ${EXEC_RULES} rules scaled to ${RULES}`,
    panels: [
      { title: `${RULES} rules in one transaction`, unit: 'ms', better: 'lower', baseline: rows[0].label, bars: bars(rows.slice(0, 2)) },
      // Apart: at hundreds of times the others, it would shrink their bars to nothing.
      { title: `${RULES} rules, one nft exec per rule`, unit: 'ms', better: 'lower', baseline: rows[1].label, bars: bars([rows[1], rows[2]]) },
      { title: `${ELEMENTS} set elements`, unit: 'ms', better: 'lower', baseline: elements[0].label, bars: bars(elements) },
    ],
  })
  console.log(`chart: ${chart}`)
}
