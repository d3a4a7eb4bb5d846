#!/usr/bin/env node
// `npm run bench -w @lab/dhcp4`: full DISCOVER-OFFER-REQUEST-ACK exchanges per second and their
// latency, for our server, Kea (memfile, multi-threaded) and dnsmasq, on the same relayed pool, in
// the same run. The load generator (lab-dhcp4's LoadGenerator) simulates clients behind a relay in
// one namespace; each server runs alone in another. Everything lives in namespaces made here and
// removed at exit. Usage: dhcp.bench.mjs [clients=10000] [rounds=3] [window=64] [--chart FILE.svg]
// (--chart: the figures as a bar chart as well)
// BENCH_NODE_FLAGS (e.g. --trace-gc) go to our server's node; BENCH_STDOUT=1 shows its stdout;
// BENCH_NO_JOURNAL=1 runs ours without a lease file (not durable: an ablation, not a result);
// BENCH_TRACE=prefix writes each exchange's start, latency and offer time per server and round;
// BENCH_ONLY=lab (or kea, dnsmasq) runs only the servers whose name starts so.
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createProgress } from '@lab/cli-kit/progress'
import { chartOption, writeChart } from '../../../scripts/bench-chart.mjs'

const dist = fileURLToPath(new URL('../dist/', import.meta.url))
const { LoadGenerator } = await import(join(dist, 'index.js'))

/** One run of a fresh load generator (its relay port is free again when it returns). */
async function relayLoad(options) {
  const generator = await LoadGenerator.open(options)
  try {
    return await generator.run(options)
  } finally {
    await generator.close()
  }
}
const { chart, args } = chartOption()
const clients = Number(args[0] ?? 10_000)
const rounds = Number(args[1] ?? 3)
const window = Number(args[2] ?? 64)
// One status line per round, written before the round starts.
const progress = createProgress()
const WARMUP = 10_000

if (process.getuid?.() !== 0) {
  console.error('dhcp.bench: needs root (network namespaces)')
  process.exit(2)
}
const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0

const srv = `labb-${process.pid}-dhs`
const rel = `labb-${process.pid}-dhr`
const dir = mkdtempSync(join(tmpdir(), 'lab-dhcp-bench-'))
let child
function cleanup() {
  if (child && child.exitCode === null) child.kill('SIGKILL')
  for (const ns of [srv, rel]) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' })
  rmSync(dir, { recursive: true, force: true })
}
process.on('exit', cleanup)
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130))

const ip = (...args) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'inherit'] })
ip('netns', 'add', srv)
ip('netns', 'add', rel)
ip('link', 'add', 's0', 'netns', srv, 'type', 'veth', 'peer', 'name', 'r0', 'netns', rel)
ip('-n', srv, 'addr', 'add', '10.200.0.1/24', 'dev', 's0')
ip('-n', rel, 'addr', 'add', '10.200.0.2/24', 'dev', 'r0')
ip('-n', rel, 'addr', 'add', '10.201.0.1/16', 'dev', 'r0')
for (const [ns, dev] of [[srv, 's0'], [rel, 'r0'], [srv, 'lo'], [rel, 'lo']]) ip('-n', ns, 'link', 'set', dev, 'up')
ip('-n', srv, 'route', 'add', '10.201.0.0/16', 'via', '10.200.0.2')

const SUBNET = '10.201.0.0/16'
const FIRST = '10.201.0.10'
const LAST = '10.201.255.250'

const servers = [
  {
    name: '@lab/dhcp4 (journal, fsync)',
    start(round) {
      const leaseFile = join(dir, `lab-${round}.leases`)
      const config = join(dir, 'lab.json')
      writeFileSync(config, JSON.stringify({ interface: 's0', ...(process.env.BENCH_NO_JOURNAL ? {} : { leaseFile }), subnets: [{ subnet: SUBNET, range: [FIRST, LAST], router: '10.201.0.1', leaseTime: 3600 }] }))
      return spawn(process.execPath, [...(process.env.BENCH_NODE_FLAGS ? process.env.BENCH_NODE_FLAGS.split(' ') : []), ...(process.env.BENCH_PROFILE ? ['--cpu-prof', '--cpu-prof-dir=' + process.env.BENCH_PROFILE] : []), join(dist, 'cli.js'), 'server', '--config', config, '--netns', srv], { stdio: ['ignore', process.env.BENCH_STDOUT ? 'inherit' : 'ignore', 'inherit'], env: { ...process.env, LOG_LEVEL: 'warn' } })
    },
  },
  {
    name: 'kea-dhcp4 (memfile, multi-threaded)',
    needs: 'kea-dhcp4',
    start(round) {
      const config = join(dir, 'kea.json')
      writeFileSync(config, JSON.stringify({
        Dhcp4: {
          'interfaces-config': { interfaces: ['s0'], 'dhcp-socket-type': 'udp' },
          'lease-database': { type: 'memfile', persist: true, name: join(dir, `kea-${round}.csv`), 'lfc-interval': 0 },
          'multi-threading': { 'enable-multi-threading': true, 'thread-pool-size': 2, 'packet-queue-size': 256 },
          'valid-lifetime': 3600,
          subnet4: [{ id: 1, subnet: SUBNET, pools: [{ pool: `${FIRST} - ${LAST}` }], 'option-data': [{ name: 'routers', data: '10.201.0.1' }] }],
          loggers: [{ name: 'kea-dhcp4', output_options: [{ output: 'stderr' }], severity: 'ERROR' }],
        },
      }))
      return spawn('ip', ['netns', 'exec', srv, 'kea-dhcp4', '-c', config], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, KEA_PIDFILE_DIR: dir, KEA_LOCKFILE_DIR: dir } })
    },
  },
  {
    name: 'dnsmasq',
    needs: 'dnsmasq',
    start(round) {
      return spawn('ip', ['netns', 'exec', srv, 'dnsmasq', '--keep-in-foreground', '--port=0', '--interface=s0', '--bind-interfaces', '--no-ping', '--quiet-dhcp', `--dhcp-lease-max=${clients + 1000}`,
        `--dhcp-range=${FIRST},${LAST},255.255.0.0,1h`, `--dhcp-leasefile=${join(dir, `dnsmasq-${round}.leases`)}`, `--pid-file=${join(dir, 'dnsmasq.pid')}`, '--conf-file=/dev/null', '--log-facility=-'],
        { stdio: 'ignore' })
    },
  },
]

/** Waits for the server to answer, then warms it up (JIT, caches, threads) with clients not measured. */
async function ready(round) {
  for (let i = 0; i < 50; i++) {
    const probe = await relayLoad({ netns: rel, server: '10.200.0.1', giaddr: '10.201.0.1', clients: 1, macBase: 200 + i, timeoutMs: 100, retries: 1 })
    if (probe.completed === 1) {
      await relayLoad({ netns: rel, server: '10.200.0.1', giaddr: '10.201.0.1', clients: WARMUP, window, macBase: 100 + round, timeoutMs: 1000, retries: 3 })
      return
    }
  }
  throw new Error('server did not answer')
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const results = []
for (const server of servers) {
  if (process.env.BENCH_ONLY && !server.name.replace(/\W/g, '').startsWith(process.env.BENCH_ONLY)) continue
  if (server.needs && !has(server.needs)) {
    console.log(`${server.name}: not installed, skipped`)
    continue
  }
  const runs = []
  for (let round = 0; round < rounds; round++) {
    progress.count(server.name, round + 1, rounds)
    child = server.start(round)
    try {
      await ready(round)
      const trace = process.env.BENCH_TRACE ? [] : undefined
      const r = await relayLoad({ netns: rel, server: '10.200.0.1', giaddr: '10.201.0.1', clients, window, macBase: round + 1, timeoutMs: 1000, retries: 3, durationMs: 120_000, ...(trace ? { onExchange: (x) => trace.push(x) } : {}) })
      if (trace) writeFileSync(`${process.env.BENCH_TRACE}-${server.name.split(' ')[0].replace(/\W/g, '')}-${round}.json`, JSON.stringify(trace))
      runs.push(r)
    } finally {
      child.kill('SIGTERM')
      await new Promise((r) => (child.exitCode === null ? child.once('exit', r) : r()))
    }
  }
  const row = {
    name: server.name,
    rate: median(runs.map((r) => r.rate)),
    p50: median(runs.map((r) => r.latencyMs.p50)),
    p99: median(runs.map((r) => r.latencyMs.p99)),
    failed: runs.reduce((n, r) => n + r.failed + r.naks, 0),
  }
  results.push(row)
}

progress.done()
console.log(`\nDHCPv4 DORA exchanges, relayed, ${clients} clients per round after ${WARMUP} warm-up clients, ${window} in flight, median of ${rounds} rounds (a fresh server and lease file per round)`)
console.log('server'.padEnd(40) + 'DORA/s'.padStart(10) + 'p50 ms'.padStart(10) + 'p99 ms'.padStart(10) + 'failed'.padStart(8))
for (const r of results) console.log(r.name.padEnd(40) + String(Math.round(r.rate)).padStart(10) + r.p50.toFixed(2).padStart(10) + r.p99.toFixed(2).padStart(10) + String(r.failed).padStart(8))
const ours = results.find((r) => r.name.startsWith('@lab/'))
for (const other of ours ? results.filter((r) => r !== ours) : []) {
  console.log(`ours vs ${other.name}: ${(ours.rate / other.rate).toFixed(2)}x DORA/s, p99 ${ours.p99.toFixed(2)} vs ${other.p99.toFixed(2)} ms`)
}
if (chart && results.length > 0) {
  const baseline = (results.find((r) => r.name.startsWith('kea')) ?? results.find((r) => r !== ours) ?? results[0]).name
  const bars = (pick) => results.map((r) => ({ label: r.name, value: pick(r), ours: r === ours }))
  writeChart(chart, {
    title: 'DHCPv4 server: @lab/dhcp4 vs Kea vs dnsmasq',
    subtitle: `relayed DORA exchanges, ${clients} clients per round, ${window} in flight, median of ${rounds} round(s)`,
    panels: [
      { title: 'exchanges per second', unit: '/s', better: 'higher', baseline, bars: bars((r) => r.rate) },
      { title: 'p99 exchange latency', unit: 'ms', better: 'lower', baseline, bars: bars((r) => r.p99) },
    ],
  })
  console.log(`chart: ${chart}`)
}
