#!/usr/bin/env node
// `npm run bench -w @lab/dhcp6`: whole relayed Solicit-Advertise-Request-Reply exchanges per second
// and their latency, for our server (its journal: durability commit, and none), Kea dhcp6 (memfile,
// multi-threaded) and dnsmasq, on the same relayed pool, in the same run, rounds interleaved (round
// 1 of each server, then round 2 of each, ...). The load generator (LoadGenerator6) plays clients
// behind a relay in one namespace; each server runs alone in another. Everything lives in
// namespaces made here and a temporary directory, removed at exit.
// Usage: dhcp6.bench.mjs [clients=10000] [rounds=5] [window=64] [--chart FILE.svg]
// (--chart: the figures as a bar chart as well)
// BENCH_NODE_FLAGS (e.g. --trace-gc) go to our server's node; BENCH_PROFILE=DIR writes a CPU
// profile of our server per round there (--cpu-prof); BENCH_STDOUT=1 shows its stdout;
// BENCH_NO_JOURNAL=1 runs ours without a lease file (not durable: an ablation, not a result);
// BENCH_TRACE=prefix writes each exchange's start, latency and Advertise time per server and round;
// BENCH_ONLY=lab (or lab-none, kea, dnsmasq; comma-separated) runs only the servers whose key starts so;
// BENCH_DNSMASQ_CLIENTS (default 2000) bounds dnsmasq's rounds, which are slow.
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir, loadavg } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createProgress } from '@lab/cli-kit/progress'
import { chartOption, writeChart } from '../../../scripts/bench-chart.mjs'
import { stealMeter } from '../../../scripts/host-steal.mjs'

const dist = fileURLToPath(new URL('../dist/', import.meta.url))
const { LoadGenerator6 } = await import(join(dist, 'index.js'))

const { chart, args } = chartOption()
const clients = Number(args[0] ?? 10_000)
const rounds = Number(args[1] ?? 5)
const window = Number(args[2] ?? 64)
// One status line per server and round, written before it starts (on a terminal only).
const progress = createProgress()
const say = (line) => (progress.enabled ? progress.log(line) : console.log(line))
const WARMUP = Math.min(10_000, clients)
const DNSMASQ_CLIENTS = Number(process.env.BENCH_DNSMASQ_CLIENTS ?? 2000)

if (process.getuid?.() !== 0) {
  console.error('dhcp6.bench: needs root (network namespaces)')
  process.exit(2)
}
const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0

const srv = `labb-${process.pid}-d6s`
const rel = `labb-${process.pid}-d6r`
const dir = mkdtempSync(join(tmpdir(), 'lab-dhcp6-bench-'))
let child
function cleanup() {
  if (child && child.exitCode === null) child.kill('SIGKILL')
  for (const ns of [srv, rel]) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' })
  rmSync(dir, { recursive: true, force: true })
}
process.on('exit', cleanup)
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130))

// Server s0 fd00:b::1 <-> relay r0 fd00:b::2; the clients' link is fd00:10::/64 behind the relay
// (the Relay-Forward's link-address fd00:10::1 picks the subnet). No DAD: addresses usable at once.
const SERVER = 'fd00:b::1'
const RELAY = 'fd00:b::2'
const LINK = 'fd00:10::1'
const PREFIX = 'fd00:10::/64'
const FIRST = 'fd00:10::1:0'
const LAST = 'fd00:10::1:ffff'
const DNS = 'fd00:10::53'
const ip = (...args) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'inherit'] })
for (const ns of [srv, rel]) {
  ip('netns', 'add', ns)
  ip('netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0')
}
ip('link', 'add', 's0', 'netns', srv, 'type', 'veth', 'peer', 'name', 'r0', 'netns', rel)
ip('-n', srv, 'addr', 'add', `${SERVER}/64`, 'dev', 's0', 'nodad')
ip('-n', rel, 'addr', 'add', `${RELAY}/64`, 'dev', 'r0', 'nodad')
for (const [ns, dev] of [[srv, 's0'], [rel, 'r0'], [srv, 'lo'], [rel, 'lo']]) ip('-n', ns, 'link', 'set', dev, 'up')

/** Our server; 'commit': a Reply that binds leaves once its bindings are on disk (O_DSYNC journal). */
function labServer(key, name, durability) {
  return {
    key,
    name,
    clients,
    start(round) {
      const journal = process.env.BENCH_NO_JOURNAL ? [] : ['--lease-file', join(dir, `${key}-${round}.leases`), '--durability', durability]
      const flags = [...(process.env.BENCH_NODE_FLAGS ? process.env.BENCH_NODE_FLAGS.split(' ') : []), ...(process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`, `--cpu-prof-name=${key}-${round}.cpuprofile`] : [])]
      return spawn(process.execPath, [...flags, join(dist, 'cli.js'), 'server', '--netns', srv, '--interface', 's0', '--prefix', PREFIX, '--range', `${FIRST}-${LAST}`, '--dns', DNS, ...journal],
        { stdio: ['ignore', process.env.BENCH_STDOUT ? 'inherit' : 'ignore', 'inherit'], env: { ...process.env, LOG_LEVEL: 'warn' } })
    },
  }
}

const servers = [
  labServer('lab', process.env.BENCH_NO_JOURNAL ? '@lab/dhcp6 (NO journal)' : "@lab/dhcp6 durability 'commit'", 'commit'),
  ...(process.env.BENCH_NO_JOURNAL ? [] : [labServer('lab-none', "@lab/dhcp6 durability 'none'", 'none')]),
  {
    key: 'kea',
    name: 'kea-dhcp6 (memfile, 2 threads)',
    needs: 'kea-dhcp6',
    clients,
    start(round) {
      const config = join(dir, 'kea.json')
      writeFileSync(config, JSON.stringify({
        Dhcp6: {
          // s0/ADDR: also listen on that unicast address, where the relay sends.
          'interfaces-config': { interfaces: [`s0/${SERVER}`] },
          'data-directory': dir,
          'server-id': { type: 'LL', persist: false },
          'lease-database': { type: 'memfile', persist: true, name: join(dir, `kea-${round}.csv`), 'lfc-interval': 0 },
          'multi-threading': { 'enable-multi-threading': true, 'thread-pool-size': 2, 'packet-queue-size': 256 },
          'preferred-lifetime': 3600,
          'valid-lifetime': 7200,
          subnet6: [{ id: 1, subnet: PREFIX, pools: [{ pool: `${FIRST} - ${LAST}` }], 'option-data': [{ name: 'dns-servers', data: DNS }] }],
          loggers: [{ name: 'kea-dhcp6', output_options: [{ output: 'stderr' }], severity: 'ERROR' }],
        },
      }))
      return spawn('ip', ['netns', 'exec', srv, 'kea-dhcp6', '-c', config], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, KEA_PIDFILE_DIR: dir, KEA_LOCKFILE_DIR: dir } })
    },
  },
  {
    key: 'dnsmasq',
    name: 'dnsmasq',
    needs: 'dnsmasq',
    clients: Math.min(clients, DNSMASQ_CLIENTS),
    start(round) {
      return spawn('ip', ['netns', 'exec', srv, 'dnsmasq', '--keep-in-foreground', '--port=0', '--interface=s0', '--bind-interfaces', '--quiet-dhcp6', `--dhcp-lease-max=${clients + WARMUP + 1000}`,
        `--dhcp-range=${FIRST},${LAST},64,2h`, `--dhcp-option=option6:dns-server,[${DNS}]`, `--dhcp-leasefile=${join(dir, `dnsmasq-${round}.leases`)}`, `--pid-file=${join(dir, 'dnsmasq.pid')}`, '--conf-file=/dev/null', `--log-facility=${join(dir, 'dnsmasq.log')}`],
        { stdio: ['ignore', 'ignore', 'inherit'] })
    },
  },
].filter((s) => !process.env.BENCH_ONLY || process.env.BENCH_ONLY.split(',').some((only) => s.key.startsWith(only)))

/** CPU time a process (`ip netns exec` execs the daemon: same pid) has used, user + system, in seconds. */
function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS
}
const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }))

/** One run of a fresh load generator (its relay port is free again when it returns). */
async function relayLoad(options) {
  const generator = await LoadGenerator6.open({ netns: rel, server: SERVER, relayAddress: RELAY, linkAddress: LINK, interfaceId: Buffer.from('r0') })
  try {
    return await generator.run(options)
  } finally {
    await generator.close()
  }
}

/** Waits for the server to answer, then warms it up (JIT, caches, threads) with clients not measured. */
async function ready(server, round) {
  for (let i = 0; i < 100; i++) {
    const probe = await relayLoad({ clients: 1, duidBase: 200, timeoutMs: 100, retries: 1 })
    if (probe.completed === 1) {
      await relayLoad({ clients: Math.min(WARMUP, server.clients), window, duidBase: 100 + round, timeoutMs: 1000, retries: 3, durationMs: 60_000 })
      return
    }
  }
  throw new Error(`${server.name} did not answer`)
}

for (const server of servers) {
  server.runs = []
  if (server.needs && !has(server.needs)) {
    console.log(`${server.name}: not installed, skipped`)
    server.skipped = true
  }
}
const load = () => loadavg().map((x) => x.toFixed(2)).join(' ')
const loadBefore = load()
for (let round = 0; round < rounds; round++) {
  for (const server of servers) {
    if (server.skipped) continue
    progress.count(`round ${round + 1}/${rounds}: ${server.name}`)
    child = server.start(round)
    try {
      await ready(server, round)
      const cpuBefore = cpuSeconds(child.pid)
      const steal = stealMeter()
      const trace = process.env.BENCH_TRACE ? [] : undefined
      const r = await relayLoad({ clients: server.clients, window, duidBase: round + 1, timeoutMs: 1000, retries: 3, durationMs: 120_000, ...(trace ? { onExchange: (x) => trace.push(x) } : {}) })
      if (trace) writeFileSync(`${process.env.BENCH_TRACE}-${server.key}-${round}.json`, JSON.stringify(trace))
      // The server's CPU time (all its threads, user + system) per completed exchange: less noisy
      // than rates on a shared machine, and what decides the rate once the cores are busy.
      r.cpuUs = ((cpuSeconds(child.pid) - cpuBefore) * 1e6) / r.completed
      // The hypervisor's share of the machine's CPU time during the round (it slows every server alike).
      r.stealPct = steal()
      server.runs.push(r)
      say(`round ${round + 1} ${server.name}: ${Math.round(r.rate)}/s p50 ${r.latencyMs.p50.toFixed(2)} ms p99 ${r.latencyMs.p99.toFixed(2)} ms CPU ${r.cpuUs.toFixed(0)} µs/exchange completed ${r.completed} refused ${r.refused} failed ${r.failed} retransmissions ${r.retransmissions} steal ${r.stealPct.toFixed(0)}%`)
    } finally {
      child.kill('SIGTERM')
      await new Promise((r) => (child.exitCode === null ? child.once('exit', r) : r()))
    }
  }
}

progress.done()
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
const spread = (xs, digits) => `${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)}`
const rows = servers.filter((s) => s.runs.length > 0).map((s) => {
  const rate = s.runs.map((r) => r.rate)
  const p50 = s.runs.map((r) => r.latencyMs.p50)
  const p99 = s.runs.map((r) => r.latencyMs.p99)
  return { ...s, rate, p50, p99, cpu: s.runs.map((r) => r.cpuUs), steal: s.runs.map((r) => r.stealPct), failed: s.runs.reduce((n, r) => n + r.failed + r.refused, 0) }
})
const ours = rows.find((r) => r.key === 'lab')
const cell = (xs, digits) => `${median(xs).toFixed(digits)} (${spread(xs, digits)})`

console.log(`\nDHCPv6 Solicit-Advertise-Request-Reply through a relay, ${clients} clients per round (dnsmasq ${Math.min(clients, DNSMASQ_CLIENTS)}) after up to ${WARMUP} warm-up clients, ${window} in flight,`)
console.log(`${rounds} interleaved rounds (a fresh server and lease file per round): median (min–max); load average ${loadBefore} before, ${load()} after`)
const header = ['server', 'exchanges/s', 'p50 ms', 'p99 ms', 'CPU µs/exchange', 'ours/it (rate)', 'failed', 'steal %']
const widths = [34, 24, 22, 24, 20, 22, 8, 12]
console.log(header.map((h, i) => (i === 0 ? h.padEnd(widths[i]) : h.padStart(widths[i]))).join(''))
for (const r of rows) {
  const ratio = ours && r !== ours ? `${(median(ours.rate) / median(r.rate)).toFixed(2)}x (${spread(ours.rate.map((x, i) => x / r.rate[i]), 2)})` : ''
  console.log([r.name.padEnd(widths[0]), cell(r.rate, 0).padStart(widths[1]), cell(r.p50, 2).padStart(widths[2]), cell(r.p99, 2).padStart(widths[3]), cell(r.cpu, 0).padStart(widths[4]), ratio.padStart(widths[5]), String(r.failed).padStart(widths[6]), cell(r.steal, 0).padStart(widths[7])].join(''))
}
if (ours) for (const other of rows.filter((r) => r !== ours)) console.log(`ours/${other.key}: ${(median(ours.rate) / median(other.rate)).toFixed(2)}x exchanges/s (per round ${ours.rate.map((x, i) => (x / other.rate[i]).toFixed(2)).join(', ')}), p50 ${median(ours.p50).toFixed(2)} vs ${median(other.p50).toFixed(2)} ms, p99 ${median(ours.p99).toFixed(2)} vs ${median(other.p99).toFixed(2)} ms, CPU per exchange ${(median(ours.cpu) / median(other.cpu)).toFixed(2)}x`)
if (chart && rows.length > 0) {
  const baseline = (rows.find((r) => r.key === 'kea') ?? rows.find((r) => r !== ours) ?? rows[0]).name
  const bars = (pick) => rows.map((r) => ({ label: r.name, value: median(pick(r)), ours: r === ours }))
  writeChart(chart, {
    title: 'DHCPv6 server: @lab/dhcp6 vs Kea vs dnsmasq',
    subtitle: `relayed Solicit-Advertise-Request-Reply, ${clients} clients per round, ${window} in flight, median of ${rounds} interleaved round(s)`,
    panels: [
      { title: 'exchanges per second', unit: '/s', better: 'higher', baseline, bars: bars((r) => r.rate) },
      { title: 'p99 exchange latency', unit: 'ms', better: 'lower', baseline, bars: bars((r) => r.p99) },
      { title: 'server CPU time per exchange', unit: 'µs', better: 'lower', baseline, bars: bars((r) => r.cpu) },
    ],
  })
  console.log(`chart: ${chart}`)
}
