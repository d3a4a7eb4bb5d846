#!/usr/bin/env node
// `npm run bench -w @lab/dhcp4`: full DISCOVER-OFFER-REQUEST-ACK exchanges per second and their
// latency, like against like, in one table:
// - ours with `durability: 'none'` (an ACK leaves once its lease is written to the file, not
//   synced) against Kea 2.2's memfile (the same trade), both with 2 threads of work at most;
// - ours with `durability: 'commit'` (an ACK leaves once its lease is on disk) against Kea with
//   its PostgreSQL lease backend (Debian's PostgreSQL 15, started here as the unprivileged
//   `postgres` user in a throwaway data directory, reached on a private unix socket);
// each at 64 and 256 exchanges in flight, every configuration `rounds` times, interleaved (one
// round of each in turn), reporting the median and the spread. The load generator (lab-dhcp4's
// LoadGenerator) simulates clients behind a relay in one namespace; each server runs alone in
// another. Everything lives in namespaces and directories made here and removed at exit (also on
// failure and SIGINT/SIGTERM); PostgreSQL is stopped.
// Usage: dhcp.bench.mjs [clients=10000] [rounds=3] [--chart FILE.svg]
// Environment: BENCH_ONLY=lab-none,kea-pg (configurations by server key: lab-none, lab-commit,
// kea-memfile, kea-pg; or with @window: lab-none@256); BENCH_WINDOWS=64,256; BENCH_NODE_FLAGS
// (e.g. --trace-gc) go to our server's node; BENCH_STDOUT=1 shows its stdout; BENCH_PROFILE=DIR
// writes its CPU profiles; BENCH_TRACE=prefix writes each exchange's start, latency and offer time
// per configuration and round; BENCH_DIST=DIR runs our server from another build (before/after);
// BENCH_BASELINE=DIR adds base-none and base-commit, our server from another build, to the rounds;
// BENCH_ROUNDS=1 prints each round (rate, p99, CPU of the server and of the load generator, load,
// the machine's steal time).
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createProgress } from '@lab/cli-kit/progress'
import { chartOption, writeChart } from '../../../scripts/bench-chart.mjs'

const dist = fileURLToPath(new URL('../dist/', import.meta.url))
const ourDist = process.env.BENCH_DIST ? resolve(process.env.BENCH_DIST) : dist
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
const windows = (process.env.BENCH_WINDOWS ?? '64,256').split(',').map(Number)
const only = process.env.BENCH_ONLY?.split(',')
// One status line per round, written before the round starts.
const progress = createProgress()
const WARMUP = 3_000
const PG_BIN = '/usr/lib/postgresql/15/bin'
const PG_SCHEMA = '/usr/share/kea/scripts/pgsql/dhcpdb_create.pgsql'

if (process.getuid?.() !== 0) {
  console.error('dhcp.bench: needs root (network namespaces)')
  process.exit(2)
}
const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0

const srv = `labb-${process.pid}-dhs`
const rel = `labb-${process.pid}-dhr`
const dir = mkdtempSync(join(tmpdir(), 'lab-dhcp-bench-'))
let child
let pg // { dir, data, socket } while PostgreSQL runs
function cleanup() {
  if (child && child.exitCode === null) child.kill('SIGKILL')
  if (pg) {
    spawnSync('runuser', ['-u', 'postgres', '--', join(PG_BIN, 'pg_ctl'), '-D', pg.data, '-m', 'immediate', '-w', 'stop'], { stdio: 'ignore' })
    rmSync(pg.dir, { recursive: true, force: true })
    pg = undefined
  }
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
// Ours asks for a 4 MB receive buffer; Kea takes the default. The same 4 MB default for every
// socket in the server's namespace (net.core.rmem_default is per namespace) keeps Kea from
// dropping requests that ours would have queued: like with like.
// Some kernels (6.18 here) keep net.core.rmem_default read-only inside a namespace: then Kea keeps
// the default buffer, and the table says so.
spawnSync('ip', ['netns', 'exec', srv, 'sh', '-c', 'echo 4194304 > /proc/sys/net/core/rmem_default'], { stdio: 'ignore' })
const keaRcvbuf = Number(execFileSync('ip', ['netns', 'exec', srv, 'cat', '/proc/sys/net/core/rmem_default'], { encoding: 'utf8' }))

const SUBNET = '10.201.0.0/16'
const FIRST = '10.201.0.10'
const LAST = '10.201.255.250'

/** PostgreSQL 15 as the `postgres` user, in a throwaway data directory, on a private unix socket only. */
function startPostgres() {
  if (!existsSync(join(PG_BIN, 'initdb')) || !existsSync(PG_SCHEMA)) {
    // Benches install their own peers: Debian's PostgreSQL, and kea-admin for Kea's schema.
    execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'postgresql', 'kea-admin'], { stdio: 'ignore', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })
  }
  const base = mkdtempSync(join(tmpdir(), 'lab-dhcp-bench-pg-'))
  pg = { dir: base, data: join(base, 'data'), socket: join(base, 'socket') }
  mkdirSync(pg.socket)
  for (const p of [base, pg.socket]) chownSync(p, Number(execFileSync('id', ['-u', 'postgres'])), Number(execFileSync('id', ['-g', 'postgres'])))
  const asPostgres = (cmd, ...args) => execFileSync('runuser', ['-u', 'postgres', '--', join(PG_BIN, cmd), ...args], { stdio: ['ignore', 'ignore', 'inherit'] })
  asPostgres('initdb', '-D', pg.data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-instructions')
  // Defaults kept where they decide durability: fsync on, synchronous_commit on, full_page_writes on.
  asPostgres('pg_ctl', '-D', pg.data, '-l', join(base, 'log'), '-w', '-o', `-k ${pg.socket} -c listen_addresses='' -c max_connections=20`, 'start')
  psql('postgres', '-c', 'CREATE DATABASE kea')
  psql('kea', '-f', PG_SCHEMA)
}
function psql(db, ...args) {
  execFileSync(join(PG_BIN, 'psql'), ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h', pg.socket, '-U', 'postgres', '-d', db, ...args], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, PGOPTIONS: '-c client_min_messages=warning' } })
}

function keaConfig(round, leaseDatabase) {
  const config = join(dir, 'kea.json')
  writeFileSync(config, JSON.stringify({
    Dhcp4: {
      'interfaces-config': { interfaces: ['s0'], 'dhcp-socket-type': 'udp' },
      'lease-database': leaseDatabase,
      'multi-threading': { 'enable-multi-threading': true, 'thread-pool-size': 2, 'packet-queue-size': 256 },
      'valid-lifetime': 3600,
      subnet4: [{ id: 1, subnet: SUBNET, pools: [{ pool: `${FIRST} - ${LAST}` }], 'option-data': [{ name: 'routers', data: '10.201.0.1' }] }],
      loggers: [{ name: 'kea-dhcp4', output_options: [{ output: 'stderr' }], severity: 'ERROR' }],
    },
  }))
  return spawn('ip', ['netns', 'exec', srv, 'kea-dhcp4', '-c', config], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, KEA_PIDFILE_DIR: dir, KEA_LOCKFILE_DIR: dir } })
}

function ours(durability, extra = {}, build = ourDist) {
  return (round, tag) => {
    const leaseFile = join(dir, `lab-${tag}-${round}.leases`)
    const config = join(dir, 'lab.json')
    writeFileSync(config, JSON.stringify({ interface: 's0', leaseFile, ...(durability === 'commit' ? {} : { durability }), ...extra, subnets: [{ subnet: SUBNET, range: [FIRST, LAST], router: '10.201.0.1', leaseTime: 3600 }] }))
    const flags = [...(process.env.BENCH_NODE_FLAGS ? process.env.BENCH_NODE_FLAGS.split(' ').filter(Boolean) : []), ...(process.env.BENCH_PROFILE ? ['--cpu-prof', '--cpu-prof-dir=' + process.env.BENCH_PROFILE] : [])]
    return spawn(process.execPath, [...flags, join(build, 'cli.js'), 'server', '--config', config, '--netns', srv], { stdio: ['ignore', process.env.BENCH_STDOUT ? 'inherit' : 'ignore', 'inherit'], env: { ...process.env, LOG_LEVEL: 'warn' } })
  }
}

const servers = [
  { key: 'lab-none', name: "@lab/dhcp4 durability 'none'", pair: 'none', ours: true, start: ours('none') },
  { key: 'kea-memfile', name: 'Kea 2.2 memfile, 2 threads', pair: 'none', needs: 'kea-dhcp4', start: (round, tag) => keaConfig(round, { type: 'memfile', persist: true, name: join(dir, `kea-${tag}-${round}.csv`), 'lfc-interval': 0 }) },
  { key: 'lab-commit', name: "@lab/dhcp4 durability 'commit'", pair: 'commit', ours: true, start: ours('commit') },
  // BENCH_BASELINE=DIR: the same two servers from another build, in the same interleaved rounds
  // (before/after pairs that share the machine's moments, where back-to-back runs do not).
  ...(process.env.BENCH_BASELINE
    ? [
        { key: 'base-none', name: "baseline 'none'", pair: 'none', ours: true, start: ours('none', {}, resolve(process.env.BENCH_BASELINE)) },
        { key: 'base-commit', name: "baseline 'commit'", pair: 'commit', ours: true, start: ours('commit', {}, resolve(process.env.BENCH_BASELINE)) },
      ]
    : []),
  {
    key: 'kea-pg',
    name: 'Kea 2.2 PostgreSQL 15, 2 threads',
    pair: 'commit',
    needs: 'kea-dhcp4',
    prepare: startPostgres,
    start(round) {
      // A fresh lease table per round, as the others get a fresh lease file.
      psql('kea', '-c', 'TRUNCATE lease4')
      return keaConfig(round, { type: 'postgresql', name: 'kea', host: pg.socket, user: 'postgres' })
    },
  },
]

/** CPU time of a process and all its threads so far, ms (/proc/PID/stat utime + stime, in clock ticks of 10 ms). */
function cpuMs(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return (Number(fields[11]) + Number(fields[12])) * 10
}
/** Its user-mode part alone, ms: the server's own code, without the kernel's send and receive paths. */
function userMs(pid) {
  return Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[11]) * 10
}

/** The machine's CPU time so far from /proc/stat, in clock ticks: all of it, and what the hypervisor stole. */
function cpuTicks() {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number)
  return { total: fields.slice(0, 8).reduce((a, b) => a + b, 0), steal: fields[7] ?? 0 }
}

/** Waits for the server to answer, then warms it up (JIT, caches, threads, connections) with clients not measured. */
async function ready(round, window) {
  for (let i = 0; i < 50; i++) {
    const probe = await relayLoad({ netns: rel, server: '10.200.0.1', giaddr: '10.201.0.1', clients: 1, macBase: 200 + i, timeoutMs: 100, retries: 1 })
    if (probe.completed === 1) {
      await relayLoad({ netns: rel, server: '10.200.0.1', giaddr: '10.201.0.1', clients: WARMUP, window, macBase: 100 + round, timeoutMs: 1000, retries: 3 })
      return
    }
  }
  throw new Error('server did not answer')
}

const configs = []
for (const server of servers) {
  if (server.needs && !has(server.needs)) {
    console.log(`${server.name}: not installed, skipped`)
    continue
  }
  for (const window of windows) {
    if (only && !only.includes(server.key) && !only.includes(`${server.key}@${window}`)) continue
    configs.push({ server, window, runs: [] })
  }
}
for (const server of new Set(configs.map((c) => c.server))) server.prepare?.()

const load = () => loadavg().map((l) => l.toFixed(1)).join(' ')
const loadBefore = load()
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
for (let round = 0; round < rounds; round++) {
  // Every other round in reverse order: no configuration always runs first (or right after another).
  for (const config of round % 2 === 0 ? configs : [...configs].reverse()) {
    const { server, window } = config
    progress.count(`${server.key} @${window}`, round + 1, rounds)
    child = server.start(round, window)
    try {
      await ready(round, window)
      const trace = process.env.BENCH_TRACE ? [] : undefined
      const cpuBefore = cpuMs(child.pid)
      const userBefore = userMs(child.pid)
      const genBefore = process.cpuUsage()
      const ticksBefore = cpuTicks()
      const r = await relayLoad({ netns: rel, server: '10.200.0.1', giaddr: '10.201.0.1', clients, window, macBase: round + 1, timeoutMs: 1000, retries: 3, durationMs: 300_000, ...(trace ? { onExchange: (x) => trace.push(x) } : {}) })
      if (trace) writeFileSync(`${process.env.BENCH_TRACE}-${server.key}-${window}-${round}.json`, JSON.stringify(trace))
      // The server's CPU per exchange (its own process: not PostgreSQL's): steadier than latency on a busy machine.
      r.cpuUs = ((cpuMs(child.pid) - cpuBefore) * 1000) / Math.max(1, r.completed)
      r.userUs = ((userMs(child.pid) - userBefore) * 1000) / Math.max(1, r.completed)
      // The load generator's own CPU (this process): what it takes from the 2 cores the server shares.
      const gen = process.cpuUsage(genBefore)
      r.genUs = (gen.user + gen.system) / Math.max(1, r.completed)
      r.load = loadavg()[0]
      // Steal: the share of the machine's CPU time the hypervisor gave to other guests this round.
      const ticks = cpuTicks()
      r.stealPct = (100 * (ticks.steal - ticksBefore.steal)) / Math.max(1, ticks.total - ticksBefore.total)
      config.runs.push(r)
      if (process.env.BENCH_ROUNDS) console.log(`${server.key}@${window} round ${round + 1}: ${Math.round(r.rate)} DORA/s, p99 ${r.latencyMs.p99.toFixed(1)} ms, server ${Math.round(r.cpuUs)} µs/DORA (user ${Math.round(r.userUs)}), generator ${Math.round(r.genUs)}, load ${r.load.toFixed(1)}, steal ${r.stealPct.toFixed(1)}%`)
    } finally {
      child.kill('SIGTERM')
      await new Promise((r) => (child.exitCode === null ? child.once('exit', r) : r()))
    }
  }
}
progress.done()

const rows = configs.map(({ server, window, runs }) => {
  const spread = (pick) => ({ median: median(runs.map(pick)), min: Math.min(...runs.map(pick)), max: Math.max(...runs.map(pick)) })
  return { server, window, runs, rate: spread((r) => r.rate), p50: spread((r) => r.latencyMs.p50), p99: spread((r) => r.latencyMs.p99), cpu: spread((r) => r.cpuUs), gen: spread((r) => r.genUs), failed: runs.reduce((n, r) => n + r.failed + r.naks, 0), resent: runs.reduce((n, r) => n + r.retransmissions, 0) }
})
const fmt = (x, digits) => (digits === 0 ? String(Math.round(x)) : x.toFixed(digits))
const cell = (s, digits) => `${fmt(s.median, digits)} (${fmt(s.min, digits)}–${fmt(s.max, digits)})`
console.log(`\nDHCPv4 DORA exchanges, relayed, ${clients} clients per round after ${WARMUP} warm-up clients; median (min–max) of ${rounds} interleaved rounds, a fresh server and lease store per round; load average ${loadBefore} before, ${load()} after`)
console.log(`Receive buffers: ours 4 MB; Kea ${keaRcvbuf >= 4194304 ? '4 MB (net.core.rmem_default in its namespace)' : `${Math.round(keaRcvbuf / 1024)} KB (net.core.rmem_default cannot be set in a namespace on this kernel)`}`)
console.log('server'.padEnd(34) + 'in flight'.padStart(10) + 'DORA/s'.padStart(24) + 'p50 ms'.padStart(26) + 'p99 ms'.padStart(26) + 'CPU µs/DORA'.padStart(20) + 'gen µs'.padStart(8) + 'failed'.padStart(8) + 'resent'.padStart(8))
for (const r of rows) console.log(r.server.name.padEnd(34) + String(r.window).padStart(10) + cell(r.rate, 0).padStart(24) + cell(r.p50, 2).padStart(26) + cell(r.p99, 2).padStart(26) + cell(r.cpu, 0).padStart(20) + fmt(r.gen.median, 0).padStart(8) + String(r.failed).padStart(8) + String(r.resent).padStart(8))

const find = (key, window) => rows.find((r) => r.server.key === key && r.window === window)
const goals = [
  ['lab-none', 'kea-memfile', 1.5],
  ['lab-commit', 'kea-pg', 3],
]
for (const [mine, base] of [['lab-none', 'base-none'], ['lab-commit', 'base-commit']]) {
  for (const window of windows) {
    const a = find(mine, window)
    const b = find(base, window)
    if (!a || !b) continue
    // Paired by round: each round's two servers ran minutes apart at most, under the same load.
    const ratios = a.runs.map((r, i) => r.rate / b.runs[i].rate)
    const cpu = a.runs.map((r, i) => r.cpuUs / b.runs[i].cpuUs)
    console.log(`${a.server.name} vs ${b.server.name}, ${window} in flight: DORA/s ${median(ratios).toFixed(2)}x (per round ${ratios.map((x) => x.toFixed(2)).join(' ')}), CPU µs/DORA ${median(cpu).toFixed(2)}x (${cpu.map((x) => x.toFixed(2)).join(' ')}), p99 ${a.p99.median.toFixed(2)} vs ${b.p99.median.toFixed(2)} ms`)
  }
}
console.log('')
for (const [mine, theirs, factor] of goals) {
  for (const window of windows) {
    const a = find(mine, window)
    const b = find(theirs, window)
    if (!a || !b) continue
    const x = a.rate.median / b.rate.median
    console.log(`${a.server.name} vs ${b.server.name}, ${window} in flight: ${x.toFixed(2)}x DORA/s (goal ≥${factor}x: ${x >= factor ? 'met' : 'missed'}), p99 ${a.p99.median.toFixed(2)} vs ${b.p99.median.toFixed(2)} ms (goal ≤: ${a.p99.median <= b.p99.median ? 'met' : 'missed'})`)
  }
  const low = find(mine, 64)
  const high = find(mine, 256)
  if (low && high) {
    const x = high.p99.median / low.p99.median
    console.log(`${low.server.name}: p99 at 256 in flight ${x.toFixed(2)}x p99 at 64 (goal ≤2x: ${x <= 2 ? 'met' : 'missed'})`)
  }
}

if (chart && rows.length > 0) {
  // One panel per comparison, window and figure: ours beside the Kea it is compared with.
  const panels = []
  for (const [mine, theirs] of goals) {
    for (const window of windows) {
      const pair = [find(mine, window), find(theirs, window)].filter(Boolean)
      if (pair.length === 0) continue
      const baseline = pair.find((r) => !r.server.ours)?.server.name
      const bars = (pick) => pair.map((r) => ({ label: r.server.name, value: pick(r), ours: r.server.ours === true }))
      panels.push({ title: `DORA/s, ${window} in flight`, unit: '/s', better: 'higher', baseline, bars: bars((r) => r.rate.median) })
      panels.push({ title: `p99 exchange latency, ${window} in flight`, unit: 'ms', better: 'lower', baseline, bars: bars((r) => r.p99.median) })
    }
  }
  writeChart(chart, {
    title: "DHCPv4 server: @lab/dhcp4 'none' vs Kea memfile, 'commit' vs Kea PostgreSQL",
    subtitle: `relayed DORA exchanges, ${clients} clients per round, median of ${rounds} interleaved round(s)`,
    panels,
  })
  console.log(`chart: ${chart}`)
}
