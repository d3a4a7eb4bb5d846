// lab vs mininet: a linear topology (N switches in a chain, one host on each, as mininet's
// `--topo linear,N`), up + every host pings its neighbour + down. Our switches are bridge nodes
// (each its own namespace), hosts are namespaces. Mininet runs inside a throwaway namespace so its
// switches never touch the host. Prints wall time and time per node as the lab grows.
// Usage: bench.mjs [20,100,500] [--chart FILE.svg] (the figures as a bar chart as well)
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createProgress } from '@lab/cli-kit/progress'
import { spawnInNetns } from '@lab/netlink-native'
import { chartOption, writeChart } from '../../../scripts/bench-chart.mjs'
import { down, parseTopology, up } from '../dist/index.js'

const { chart, args } = chartOption()
const progress = createProgress()
process.env.LAB_RUN_DIR ??= mkdtempSync(join(tmpdir(), 'lab-bench-'))

function linear(n) {
  const ip = (i) => `10.${Math.floor(i / 250)}.${(i % 250) + 1}.1/8`
  const nodes = []
  const links = []
  for (let i = 0; i < n; i++) {
    nodes.push(`  s${i}: { kind: bridge }`, `  h${i}: { kind: netns, addresses: [${ip(i)}] }`)
    links.push(`  - endpoints: [h${i}:eth0, s${i}:h]`)
    if (i > 0) links.push(`  - endpoints: [s${i - 1}:r, s${i}:l]`)
  }
  return { text: `name: bench\nnodes:\n${nodes.join('\n')}\nlinks:\n${links.join('\n')}\n`, ip: (i) => ip(i).split('/')[0] }
}

const ping = (netns, address) =>
  new Promise((resolve, reject) => {
    const child = spawnInNetns(netns, 'ping', ['-c', '1', '-W', '2', address], { stdio: 'ignore' })
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${netns} -> ${address}: ping failed`))))
  })

async function ours(n) {
  const { text, ip } = linear(n)
  progress.update(`lab: ${n} hosts, up, pings, down`)
  const t0 = performance.now()
  await up(parseTopology(text))
  const t1 = performance.now()
  for (let i = 0; i + 1 < n; i += 16) {
    await Promise.all(Array.from({ length: Math.min(16, n - 1 - i) }, (_, k) => ping(`bench-h${i + k}`, ip(i + k + 1))))
  }
  const t2 = performance.now()
  await down('bench')
  const t3 = performance.now()
  return { up: t1 - t0, ping: t2 - t1, down: t3 - t2, total: t3 - t0 }
}

function mininet(n) {
  if (spawnSync('sh', ['-c', 'command -v mn'], { stdio: 'ignore' }).status !== 0) return undefined
  progress.update(`mininet: ${n} hosts, pingall`)
  const ns = `labbench-mn-${process.pid}`
  execFileSync('ip', ['netns', 'add', ns])
  try {
    execFileSync('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up'])
    const t0 = performance.now()
    // --test pingall pings every pair; with the neighbours only it would be a little faster.
    const r = spawnSync('ip', ['netns', 'exec', ns, 'mn', '--topo', `linear,${n}`, '--switch', 'lxbr', '--controller', 'none', '--test', 'pingall'], { encoding: 'utf8' })
    const t = performance.now() - t0
    if (r.status !== 0) return { error: (r.stderr || '').split('\n').slice(-3).join(' ') }
    return { total: t }
  } finally {
    spawnSync('ip', ['netns', 'exec', ns, 'mn', '-c'], { stdio: 'ignore' })
    execFileSync('ip', ['netns', 'del', ns])
  }
}

const fmt = (ms) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`)
console.log('| hosts (nodes) | lab up | pings | lab down | total | per node | mininet (pingall) |')
console.log('|---|---|---|---|---|---|---|')
const results = []
for (const n of (args[0] ?? '20,100,500').split(',').map(Number)) {
  const r = await ours(n)
  const mn = n <= 20 ? mininet(n) : undefined
  results.push({ n, r, mn })
  const mnText = mn === undefined ? 'not run' : mn.error ? `failed: ${mn.error}` : `${fmt(mn.total)} (${(mn.total / r.total).toFixed(0)}x)`
  progress.done()
  console.log(`| ${n} (${2 * n}) | ${fmt(r.up)} | ${fmt(r.ping)} | ${fmt(r.down)} | ${fmt(r.total)} | ${fmt(r.up / (2 * n))} up | ${mnText} |`)
}
rmSync(process.env.LAB_RUN_DIR, { recursive: true, force: true })
if (chart) {
  const compared = results.filter(({ mn }) => mn && !mn.error)
  writeChart(chart, {
    title: 'lab vs mininet: a linear topology (N bridges in a chain, a host on each)',
    subtitle: 'lab: up + every host pings its neighbour + down; mininet: mn --topo linear,N --switch lxbr --test pingall',
    panels: [
      ...compared.map(({ n, r, mn }) => ({
        title: `${n} hosts (${2 * n} nodes), start to finish`,
        unit: 'ms',
        better: 'lower',
        baseline: 'mininet (pingall)',
        bars: [{ label: 'lab up, pings, lab down', value: r.total, ours: true }, { label: 'mininet (pingall)', value: mn.total }],
      })),
      { title: 'lab up as the lab grows', unit: 'ms', better: 'lower', bars: results.map(({ n, r }) => ({ label: `${n} hosts (${2 * n} nodes)`, value: r.up, ours: true })) },
    ],
  })
  console.log(`chart: ${chart}`)
}
