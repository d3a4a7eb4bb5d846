#!/usr/bin/env node
// A mixed ruleset (interface, prefix and port matches, port ranges, ct state, a few inline sets;
// accept, drop and jump verdicts) of 10,000 and 100,000 rules in one transaction: ours vs `nft -f`
// with the same rules as text. Our userspace CPU per rule (process.cpuUsage user) is shown beside
// wall time and the kernel's share (system CPU). Then 100 rules with one `nft add rule` exec each
// (per-rule cost, scaled), and 10,000 set elements both ways. Each run in a fresh namespace.
// Usage: nft.bench.mjs [--chart FILE.svg] (the figures as a bar chart as well)
// BENCH_RULES=10000,100000 (sizes), BENCH_RUNS=5 (runs per variant, alternating), BENCH_ELEMENTS.
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createProgress } from '@lab/cli-kit/progress'
import { chartOption, writeChart } from '../../../scripts/bench-chart.mjs'
import { Nft, rule } from '../dist/index.js'

const { chart } = chartOption()
const progress = createProgress()

const SIZES = (process.env.BENCH_RULES ?? '10000,100000').split(',').map(Number)
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

/** CPU ms of waited-for children (cutime, cstime: 10 ms ticks). */
function childCpu() {
  const f = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ')
  return { user: Number(f[13]) * 10, system: Number(f[14]) * 10 }
}

async function measure(label, fn, { child = false, scale = 1, rules = 0 } = {}) {
  const ns = freshNs()
  const cpu0 = process.cpuUsage()
  const kid0 = childCpu()
  const t0 = process.hrtime.bigint()
  await fn(ns)
  const wall = Number(process.hrtime.bigint() - t0) / 1e6
  const cpu = process.cpuUsage(cpu0)
  const kid = childCpu()
  const system = child ? kid.system - kid0.system : cpu.system / 1000
  const user = child ? kid.user - kid0.user : cpu.user / 1000
  return { label, wall: wall * scale, system: system * scale, user: user * scale, rules, scaled: scale !== 1, ns }
}

// The mixed ruleset, in an inet table (IPv4 and IPv6 matches side by side): ten shapes in turn,
// each rule's constants varied by its number. Text and builder say the same rule.
const CHAINS = ['t0', 't1', 't2', 't3']
const INLINE_EVERY = 500
const hex = (n) => (n & 0xffff).toString(16)
function mixedText(i) {
  const a = (i >> 8) & 255
  const b = i & 255
  const port = 1024 + (i % 50000)
  const chain = CHAINS[i % 4]
  // A few inline sets: ports, then addresses with an interval. Each costs the kernel a walk over
  // the batch's pending changes when its rule binds it (__nft_set_trans_bind): quadratic for nft,
  // short for us (we send such rules first and anchor the others to them, src/batch-order.ts).
  if (i % INLINE_EVERY === INLINE_EVERY - 1) return (i / INLINE_EVERY) & 1 ? `ip saddr { 10.${a}.0.0/16, 192.0.2.${b} } jump ${chain}` : `tcp dport { 22, 80, 443, ${port} } ct state new accept`
  switch (i % 10) {
    case 0: return `iifname "eth${i % 64}" tcp dport ${port} counter accept`
    case 1: return `ip saddr 10.${a}.${b}.0/24 udp dport ${port}-${port + 100} drop`
    case 2: return `ip6 saddr fd00:${hex(i)}::/64 tcp dport 443 jump ${chain}`
    case 3: return `oifname "veth${i % 512}" ip daddr 192.168.${a}.${b} ct state established,related accept`
    case 4: return `ip6 daddr fd01::${hex(i)} udp sport ${port} counter drop`
    case 5: return `ct state new tcp dport ${port} counter jump ${chain}`
    case 6: return `iifname "br${i % 16}" ip daddr 172.16.${b}.0/24 tcp sport 1024-65535 accept`
    case 7: return `ip saddr 10.${b}.0.0/16 ip daddr 10.${a}.${b}.1 udp dport 53 accept`
    case 8: return `oifname "eth${i % 64}" ip6 daddr fd02:${hex(i)}::/48 tcp dport ${port} drop`
    case 9: return `iifname "eth${i % 64}" oifname "eth${(i + 1) % 64}" ip saddr 10.${a}.${b}.${i & 127} counter accept`
  }
}
function mixedRule(i) {
  const a = (i >> 8) & 255
  const b = i & 255
  const port = 1024 + (i % 50000)
  const chain = CHAINS[i % 4]
  if (i % INLINE_EVERY === INLINE_EVERY - 1) return (i / INLINE_EVERY) & 1 ? rule().ip('saddr', [`10.${a}.0.0/16`, `192.0.2.${b}`]).jump(chain) : rule().tcp('dport', [22, 80, 443, port]).ctState('new').accept()
  switch (i % 10) {
    case 0: return rule().iifname(`eth${i % 64}`).tcp('dport', port).counter().accept()
    case 1: return rule().ip('saddr', `10.${a}.${b}.0/24`).udp('dport', `${port}-${port + 100}`).drop()
    case 2: return rule().ip6('saddr', `fd00:${hex(i)}::/64`).tcp('dport', 443).jump(chain)
    case 3: return rule().oifname(`veth${i % 512}`).ip('daddr', `192.168.${a}.${b}`).ctState('established', 'related').accept()
    case 4: return rule().ip6('daddr', `fd01::${hex(i)}`).udp('sport', port).counter().drop()
    case 5: return rule().ctState('new').tcp('dport', port).counter().jump(chain)
    case 6: return rule().iifname(`br${i % 16}`).ip('daddr', `172.16.${b}.0/24`).tcp('sport', '1024-65535').accept()
    case 7: return rule().ip('saddr', `10.${b}.0.0/16`).ip('daddr', `10.${a}.${b}.1`).udp('dport', 53).accept()
    case 8: return rule().oifname(`eth${i % 64}`).ip6('daddr', `fd02:${hex(i)}::/48`).tcp('dport', port).drop()
    case 9: return rule().iifname(`eth${i % 64}`).oifname(`eth${(i + 1) % 64}`).ip('saddr', `10.${a}.${b}.${i & 127}`).counter().accept()
  }
}
const table = { family: 'inet', name: 'lab' }
const header = `add table inet lab\nadd chain inet lab c\n${CHAINS.map((c) => `add chain inet lab ${c}\n`).join('')}`

const ours = (rules) => async (ns) => {
  const nft = await Nft.open({ netns: ns })
  await nft.apply((tx) => {
    tx.addTable(table)
    tx.addChain({ table, name: 'c' })
    for (const name of CHAINS) tx.addChain({ table, name })
    for (let i = 0; i < rules; i++) tx.addRule({ table, chain: 'c', exprs: mixedRule(i) })
  })
  await nft.close()
}

/** The rules as a file for `nft -f`, written before the clock starts. */
function rulesFile(rules) {
  const file = join(dir, `rules-${rules}.nft`)
  const lines = [header]
  for (let i = 0; i < rules; i++) lines.push(`add rule inet lab c ${mixedText(i)}\n`)
  writeFileSync(file, lines.join(''))
  return file
}

const nftFile = (file) => async (ns) => {
  execFileSync('ip', ['netns', 'exec', ns, 'nft', '-f', file])
}

async function nftPerExec(ns) {
  execFileSync('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], { input: header })
  for (let i = 0; i < EXEC_RULES; i++) execFileSync('ip', ['netns', 'exec', ns, 'nft', 'add', 'rule', 'inet', 'lab', 'c', ...mixedText(i).split(' ')])
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
  const json = JSON.parse(execFileSync('ip', ['netns', 'exec', ns, 'nft', '-j', 'list', 'ruleset'], { encoding: 'utf8', maxBuffer: 1 << 30 }))
  if (what === 'rules') return json.nftables.filter((o) => o.rule).length
  return json.nftables.find((o) => o.set)?.set.elem?.length ?? 0
}

/** The ruleset as nft prints it: ours must read back exactly as nft's own. */
const listing = (ns) => execFileSync('ip', ['netns', 'exec', ns, 'nft', 'list', 'ruleset'], { encoding: 'utf8', maxBuffer: 1 << 30 })

const RUNS = Number(process.env.BENCH_RUNS ?? 5)

/**
 * Runs each variant RUNS times, alternating between them (so a change of the machine's load hits
 * both), checks each result, and keeps the median wall time of each.
 */
async function alternating(title, variants) {
  const runs = variants.map(() => [])
  for (let i = 0; i < RUNS; i++) {
    for (const [k, v] of variants.entries()) {
      progress.count(`${title}: ${v.label}`, i + 1, RUNS)
      const r = await measure(v.label, v.fn, v.options)
      v.check?.(r, i)
      spawnSync('ip', ['netns', 'del', r.ns])
      made.delete(r.ns)
      runs[k].push(r)
    }
  }
  return runs.map((rs) => {
    const sorted = [...rs].sort((a, b) => a.wall - b.wall)
    return { ...sorted[Math.floor(sorted.length / 2)], spread: [sorted[0].wall, sorted.at(-1).wall] }
  })
}

const texts = new Map()
/** Rule count every run; on the first run the full listing, ours against nft's. */
const rulesOk = (rules) => (r, run) => {
  if (count(r.ns, 'rules') !== rules) throw new Error(`${r.label}: rules missing`)
  if (run !== 0) return
  const text = listing(r.ns)
  const other = texts.get(rules)
  if (other === undefined) texts.set(rules, text)
  else if (other !== text) throw new Error(`${r.label}: the ruleset reads back differently from nft -f's`)
}
const elementsOk = (r) => {
  if (count(r.ns, 'elements') !== ELEMENTS) throw new Error(`${r.label}: elements missing`)
}

await measure('warm-up', ours(1000))
const groups = []
for (const rules of SIZES) {
  const file = rulesFile(rules)
  const check = rulesOk(rules)
  groups.push(
    await alternating(`${rules} rules`, [
      { label: `nft -f (${rules} rules)`, fn: nftFile(file), options: { child: true, rules }, check },
      { label: `ours, one transaction (${rules} rules)`, fn: ours(rules), options: { rules }, check },
    ]),
  )
}
const base = SIZES[0]
progress.update(`nft add rule per exec (${EXEC_RULES})`)
const perExec = await measure(`nft add rule per exec (${EXEC_RULES}, scaled)`, nftPerExec, { child: true, scale: base / EXEC_RULES, rules: base })
spawnSync('ip', ['netns', 'del', perExec.ns])
const elements = await alternating(`${ELEMENTS} set elements`, [
  { label: `nft -f (${ELEMENTS} set elements)`, fn: nftElements, options: { child: true }, check: elementsOk },
  { label: `ours (${ELEMENTS} set elements)`, fn: oursElements, check: elementsOk },
])
progress.done()
console.log(`\nmixed ruleset (interface, prefix, port and range matches, ct state, inline sets; accept, drop, jump) in an inet table`)
console.log(`median of ${RUNS} runs each, alternating; user and system: CPU time (ours: this process; nft: the child); load ${loadavg().map((l) => l.toFixed(1)).join(' ')}`)

const perRule = (r) => (r.rules ? ((r.user * 1000) / r.rules).toFixed(2) : '')
const line = (r, base) =>
  `${r.label.padEnd(42)} ${r.wall.toFixed(1).padStart(9)} ms ${(r.spread ? `${r.spread[0].toFixed(0)}-${r.spread[1].toFixed(0)}` : '').padStart(12)} ${r.user.toFixed(0).padStart(7)} ms ${perRule(r).padStart(9)} ${r.system.toFixed(0).padStart(7)} ms ${((r.system / r.wall) * 100).toFixed(0).padStart(5)}% ${(r.wall / base.wall).toFixed(2).padStart(8)}x`
console.log(`\n${'variant'.padEnd(42)} ${'wall'.padStart(12)} ${'spread ms'.padStart(12)} ${'user'.padStart(10)} ${'µs/rule'.padStart(9)} ${'system'.padStart(10)} ${'kernel'.padStart(6)} ${'vs nft -f'.padStart(9)}`)
for (const rows of groups) for (const r of rows) console.log(line(r, rows[0]))
console.log(line(perExec, groups[0][1]).replace(/ +[\d.]+x$/, (m) => `${m} (vs ours)`))
for (const r of elements) console.log(line(r, elements[0]))
if (chart) {
  const bars = (rs) => rs.map((r) => ({ label: r.label, value: r.wall, ours: r.label.startsWith('ours') }))
  writeChart(chart, {
    title: '@lab/nft vs nft(8): wall time',
    subtitle: `mixed ruleset, median of ${RUNS} runs each, each in a fresh namespace; the per-exec row is ${EXEC_RULES} rules scaled to ${base}`,
    panels: [
      ...groups.map((rows) => ({ title: `${rows[0].rules} rules in one transaction`, unit: 'ms', better: 'lower', baseline: rows[0].label, bars: bars(rows) })),
      // Apart: at hundreds of times the others, it would shrink their bars to nothing.
      { title: `${base} rules, one nft exec per rule`, unit: 'ms', better: 'lower', baseline: groups[0][1].label, bars: bars([groups[0][1], perExec]) },
      { title: `${ELEMENTS} set elements`, unit: 'ms', better: 'lower', baseline: elements[0].label, bars: bars(elements) },
    ],
  })
  console.log(`chart: ${chart}`)
}
