// lab vs mininet: a linear topology (N switches in a chain, one host on each, as mininet's
// `--topo linear,N`), up + every host pings its neighbour once (concurrently on both sides: ours
// with `ping(lab, { pairs })`, one in-process ICMP socket per host, 32 hosts at a time; mininet's
// all at once through its hosts' shells) + down. Our switches are bridge nodes (each its own namespace), hosts are namespaces; mininet
// (its Python API, bench/mininet-linear.py, `--switch lxbr --controller none`) runs inside a
// throwaway namespace so its bridges never touch the host. Also: a chain of 100 namespaces (the
// issue's "100-node lab up in under 1 s") and lab up's time per node as the lab grows.
// Usage: bench.mjs [20,100,500] [--mininet-max 100] [--runs 3] [--chart FILE.svg]
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createProgress } from '@lab/cli-kit/progress'
import { chartOption, writeChart } from '../../../scripts/bench-chart.mjs'
import { down, parseTopology, ping, up } from '../dist/index.js'

const { chart, args: rest } = chartOption()
const flag = (name, fallback) => {
  const i = rest.indexOf(name)
  if (i < 0) return fallback
  const [, value] = rest.splice(i, 2)
  return value
}
const mininetMax = Number(flag('--mininet-max', '100'))
const runs = Number(flag('--runs', '3'))
const sizes = (rest[0] ?? '20,100,500').split(',').map(Number)
const progress = createProgress()
process.env.LAB_RUN_DIR ??= mkdtempSync(join(tmpdir(), 'lab-bench-'))
const lab = `lb${process.pid % 10000}`
const mininetScript = fileURLToPath(new URL('mininet-linear.py', import.meta.url))

/** mininet's linear,N: switch s_i with host h_i on it, s_{i-1} - s_i. */
function linear(n) {
  const ip = (i) => `10.${Math.floor(i / 250)}.${(i % 250) + 1}.1/8`
  const nodes = []
  const links = []
  for (let i = 0; i < n; i++) {
    nodes.push(`  s${i}: { kind: bridge }`, `  h${i}: { kind: netns, addresses: [${ip(i)}] }`)
    links.push(`  - endpoints: [h${i}:eth0, s${i}:h]`)
    if (i > 0) links.push(`  - endpoints: [s${i - 1}:r, s${i}:l]`)
  }
  return { text: `name: ${lab}\nnodes:\n${nodes.join('\n')}\nlinks:\n${links.join('\n')}\n`, ip: (i) => ip(i).split('/')[0] }
}

/** n namespaces in a chain, each linked to the next. */
function chain(n) {
  const nodes = Array.from({ length: n }, (_, i) => `  n${i}: { kind: netns }`)
  const links = Array.from({ length: n - 1 }, (_, i) => `  - endpoints: [n${i}:r, n${i + 1}:l]`)
  return `name: ${lab}\nnodes:\n${nodes.join('\n')}\nlinks:\n${links.join('\n')}\n`
}

async function ours(n) {
  const { text } = linear(n)
  progress.update(`lab: ${n} hosts, up, pings, down`)
  const t0 = performance.now()
  await up(parseTopology(text))
  const t1 = performance.now()
  let pinged
  try {
    pinged = await ping(lab, { pairs: Array.from({ length: n - 1 }, (_, i) => [`h${i}`, `h${i + 1}`]) })
  } catch (error) {
    await down(lab)
    throw error
  }
  const t2 = performance.now()
  await down(lab)
  const t3 = performance.now()
  return { up: t1 - t0, ping: t2 - t1, down: t3 - t2, total: t3 - t0, failed: pinged.failed }
}

async function chainUp(n) {
  progress.update(`lab: a chain of ${n} namespaces`)
  const t0 = performance.now()
  await up(parseTopology(chain(n)))
  const t1 = performance.now()
  await down(lab)
  return { up: t1 - t0, down: performance.now() - t1 }
}

function mininet(n) {
  if (spawnSync('sh', ['-c', 'command -v mn'], { stdio: 'ignore' }).status !== 0) return { error: 'not installed (apt-get install mininet bridge-utils)' }
  progress.update(`mininet: ${n} hosts, up, pings, down`)
  const ns = `labbench-mn-${process.pid}`
  execFileSync('ip', ['netns', 'add', ns])
  try {
    execFileSync('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up'])
    const r = spawnSync('ip', ['netns', 'exec', ns, '/usr/bin/python3', mininetScript, String(n)], { encoding: 'utf8' })
    const last = r.stdout.trim().split('\n').pop() ?? ''
    if (r.status !== 0 || !last.startsWith('{')) return { error: (r.stderr || '').trim().split('\n').slice(-2).join(' ') }
    const result = JSON.parse(last)
    return result.failed ? { ...result, error: `${result.failed} pings failed` } : result
  } finally {
    execFileSync('ip', ['netns', 'del', ns])
  }
}

const fmt = (ms) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`)
const load = () => loadavg().map((l) => l.toFixed(2)).join(' ')
const lines = [`load before: ${load()}`, '']
// Between runs, a pause (not timed): the kernel tears the last run's namespaces down in the
// background, holding the rtnl lock, and the next run would wait for it, whoever's it is.
// About 10 ms per namespace here, more under load.
const settle = (namespaces) => new Promise((resolve) => setTimeout(resolve, 2000 + 15 * namespaces))
// Where both sides run: `--runs` rounds (default 3), ours and mininet's in turn, so both see the
// same moods of the shared machine; the table shows each side's median run (by total) and every
// round's ratio. Sizes mininet does not run: one run of ours.
const median = (list) => [...list].sort((a, b) => a.total - b.total)[Math.floor((list.length - 1) / 2)]
const results = []
for (const n of sizes) {
  const compared = n <= mininetMax
  const rounds = []
  for (let k = 0; k < (compared ? runs : 1); k++) {
    const r = await ours(n)
    await settle(2 * n)
    const mn = compared ? mininet(n) : undefined
    if (mn) await settle(2 * n)
    rounds.push({ r, mn })
  }
  const failed = rounds.find(({ mn }) => mn?.error)?.mn
  const mn = compared ? (failed ?? median(rounds.map(({ mn }) => mn))) : undefined
  const ratios = failed || !compared ? [] : rounds.map(({ r, mn }) => mn.total / r.total)
  results.push({ n, r: median(rounds.map(({ r }) => r)), mn, ratios, rounds })
}
// Last: its hundred namespaces' teardown would run into the first round of the comparison.
const chained = await chainUp(100)
progress.done()
lines.push('| hosts (nodes) | | up | pings | down | total | up per node |', '|---|---|---|---|---|---|---|')
for (const { n, r, mn } of results) {
  lines.push(`| ${n} (${2 * n}) | lab | ${fmt(r.up)} | ${fmt(r.ping)}${r.failed ? ` (${r.failed} failed)` : ''} | ${fmt(r.down)} | ${fmt(r.total)} | ${(r.up / (2 * n)).toFixed(2)} ms |`)
  if (mn === undefined) continue
  if (mn.error) lines.push(`| | mininet | ${mn.error} | | | | |`)
  else lines.push(`| | mininet | ${fmt(mn.up)} | ${fmt(mn.ping)} | ${fmt(mn.down)} | ${fmt(mn.total)} (lab ${(mn.total / r.total).toFixed(1)}x faster) | ${(mn.up / (2 * n)).toFixed(2)} ms |`)
}
lines.push('', ...results.filter(({ ratios }) => ratios.length > 1).map(({ n, ratios, rounds }) =>
  `${n} hosts, lab faster than mininet in each round: ${ratios.map((x, i) => `${x.toFixed(1)}x (lab up/pings/down ${fmt(rounds[i].r.up)}/${fmt(rounds[i].r.ping)}/${fmt(rounds[i].r.down)}, mininet ${fmt(rounds[i].mn.total)})`).join(', ')}`))
lines.push('', `a chain of 100 namespaces (99 veth links): lab up ${fmt(chained.up)}, lab down ${fmt(chained.down)}`, `load after: ${load()}`)
console.log(lines.join('\n'))
rmSync(process.env.LAB_RUN_DIR, { recursive: true, force: true })
if (chart) {
  const compared = results.filter(({ mn }) => mn && !mn.error)
  writeChart(chart, {
    title: 'lab vs mininet: a linear topology (N bridges in a chain, a host on each)',
    subtitle: `up + every host pings its neighbour + down, median of ${runs} rounds; mininet: linear,N --switch lxbr --controller none (Python API)`,
    panels: [
      ...compared.map(({ n, r, mn }) => ({
        title: `${n} hosts (${2 * n} nodes), start to finish`,
        unit: 'ms',
        better: 'lower',
        baseline: 'mininet',
        bars: [{ label: 'lab up, pings, lab down', value: r.total, ours: true }, { label: 'mininet', value: mn.total }],
      })),
      { title: 'lab up per node as the lab grows', unit: 'ms', better: 'lower', bars: results.map(({ n, r }) => ({ label: `${n} hosts (${2 * n} nodes)`, value: r.up / (2 * n), ours: true })) },
    ],
  })
  console.log(`chart: ${chart}`)
}
