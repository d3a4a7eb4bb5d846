#!/usr/bin/env node
// `npm run bench -w @lab/dhcp4` (second part): time from starting a DHCP client to the leased
// address being on the interface, on a veth against dnsmasq, for our client (as a library call and
// as the lab-dhcp4 CLI) and udhcpc, dhclient and dhcpcd, each configuring the address itself.
// Rounds interleave the clients; the address appearing is seen through a netlink address watch.
// Everything lives in namespaces made here and removed at exit.
// Usage: client.bench.mjs [runs=15] [--chart FILE.svg] (the figures as a bar chart as well)
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createProgress } from '@lab/cli-kit/progress'
import { chartOption, writeChart } from '../../../scripts/bench-chart.mjs'

const dist = fileURLToPath(new URL('../dist/', import.meta.url))
const { DhcpClient, compose, manageIP, manageRoutes } = await import(join(dist, 'index.js'))
const { Netlink } = await import('@lab/netlink-native')
const { chart, args } = chartOption()
const runs = Number(args[0] ?? 15)
// One status line per run, written between the timed parts.
const progress = createProgress()

if (process.getuid?.() !== 0) {
  console.error('client.bench: needs root (network namespaces)')
  process.exit(2)
}
const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0
if (!has('dnsmasq')) {
  console.error('client.bench: needs dnsmasq (apt-get install dnsmasq-base)')
  process.exit(2)
}

const srv = `labb-${process.pid}-dcs`
const cli = `labb-${process.pid}-dcc`
const dir = mkdtempSync(join(tmpdir(), 'lab-dhcp-client-bench-'))
// Each client runs in a process group of its own, killed whole: dhcpcd's privilege-separation
// helpers outlive a killed dhcpcd otherwise.
const groups = new Set()
const killGroup = (pid) => {
  try {
    process.kill(-pid, 'SIGKILL')
  } catch {
    // already gone
  }
}
// The clients' scripts rewrite resolv.conf from the lease: `ip netns exec` mounts this one over
// /etc/resolv.conf, so that they do not rewrite the host's.
const cliEtc = `/etc/netns/${cli}`
function cleanup() {
  for (const pid of groups) killGroup(pid)
  for (const ns of [srv, cli]) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' })
  rmSync(dir, { recursive: true, force: true })
  rmSync(cliEtc, { recursive: true, force: true })
}
process.on('exit', cleanup)
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130))

const ip = (...args) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'inherit'] })
mkdirSync(cliEtc, { recursive: true })
writeFileSync(`${cliEtc}/resolv.conf`, '')
ip('netns', 'add', srv)
ip('netns', 'add', cli)
ip('link', 'add', 's0', 'netns', srv, 'type', 'veth', 'peer', 'name', 'c0', 'netns', cli)
ip('-n', srv, 'addr', 'add', '10.1.0.1/24', 'dev', 's0')
for (const [ns, dev] of [[srv, 's0'], [cli, 'c0'], [srv, 'lo'], [cli, 'lo']]) ip('-n', ns, 'link', 'set', dev, 'up')

const spawnTracked = (argv, options = {}) => {
  const c = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'ignore'], detached: true, ...options })
  groups.add(c.pid)
  return c
}
const dnsmasq = spawnTracked(['ip', 'netns', 'exec', srv, 'dnsmasq', '--keep-in-foreground', '--port=0', '--interface=s0', '--bind-interfaces', '--no-ping', '--conf-file=/dev/null',
  '--dhcp-range=10.1.0.10,10.1.0.250,255.255.255.0,1h', `--dhcp-leasefile=${join(dir, 'dnsmasq.leases')}`, `--pid-file=${join(dir, 'dnsmasq.pid')}`, '--dhcp-option=option:router,10.1.0.1'])
await new Promise((r) => setTimeout(r, 500))

// Every address that appears on c0, with the time it was seen.
const nl = await Netlink.open({ netns: cli })
const abort = new AbortController()
let waiter
void (async () => {
  for await (const e of nl.watch(['addr'], { signal: abort.signal })) {
    if (process.env.BENCH_DEBUG) console.log(e)
    if (e.kind === 'addr' && e.action === 'new' && e.addr.family === 4 && !e.resync) waiter?.(performance.now())
  }
})().catch(() => undefined)
const addressSeen = (timeoutMs) =>
  new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no address within ${timeoutMs} ms`)), timeoutMs)
    waiter = (at) => {
      clearTimeout(t)
      waiter = undefined
      resolve(at)
    }
  })

const killed = (c) => {
  const exited = c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise((r) => c.once('exit', r))
  // The group stays listed: the exit cleanup kills it again, catching a helper forked meanwhile.
  killGroup(c.pid)
  return exited
}
const inNs = (argv) => ['ip', 'netns', 'exec', cli, ...argv]

const clients = [
  {
    name: '@lab/dhcp4 (library)',
    async start() {
      const c = await DhcpClient.start({ interface: 'c0', netns: cli, onLease: compose(manageIP({ netns: cli }), manageRoutes({ netns: cli })) })
      return async () => c.stop()
    },
  },
  {
    name: '@lab/dhcp4 (lab-dhcp4 client --once)',
    start() {
      const c = spawnTracked([process.execPath, join(dist, 'cli.js'), 'client', '--interface', 'c0', '--netns', cli, '--once'], { env: { ...process.env, LOG_LEVEL: 'warn' } })
      return () => killed(c)
    },
  },
  {
    name: 'udhcpc',
    needs: 'udhcpc',
    start() {
      const c = spawnTracked(inNs(['udhcpc', '-f', '-q', '-i', 'c0', '-t', '5', '-T', '1', '-n']))
      return () => killed(c)
    },
  },
  {
    name: 'dhclient',
    needs: 'dhclient',
    start(run) {
      const c = spawnTracked(inNs(['dhclient', '-d', '-1', '-pf', join(dir, `dhclient-${run}.pid`), '-lf', join(dir, `dhclient-${run}.leases`), 'c0']))
      return () => killed(c)
    },
  },
  {
    // -A: no ARP probe before using the address, as the others (dhcpcd probes by default: ~1 s).
    name: 'dhcpcd (-A)',
    needs: 'dhcpcd',
    start() {
      const c = spawnTracked(inNs(['sh', '-c', 'mkdir -p /var/lib/dhcpcd /run/dhcpcd && mount -t tmpfs tmpfs /var/lib/dhcpcd && mount -t tmpfs tmpfs /run/dhcpcd && exec dhcpcd -B -1 -4 -A -t 10 -f /dev/null c0']))
      return () => killed(c)
    },
  },
].filter((c) => !c.needs || has(c.needs) || (console.log(`${c.name}: not installed, skipped`), false))

const times = new Map(clients.map((c) => [c.name, []]))
for (let run = 0; run < runs + 1; run++) {
  for (const client of clients) {
    progress.update(`run ${run + 1}/${runs + 1}${run === 0 ? ' (warm-up)' : ''}: ${client.name}`)
    ip('-n', cli, 'addr', 'flush', 'dev', 'c0')
    const seen = addressSeen(15_000)
    const t0 = performance.now()
    const stop = await client.start(run)
    let at
    try {
      at = await seen
    } catch (error) {
      throw new Error(`${client.name}: ${error.message}`)
    } finally {
      await stop()
    }
    if (run > 0) times.get(client.name).push(at - t0) // run 0 warms caches
  }
}
abort.abort()
nl.close()

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const p90 = (xs) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.9))]
progress.done()
console.log(`\nDHCP client: start to leased address on the interface, against dnsmasq on a veth; ${runs} runs each, interleaved`)
console.log('client'.padEnd(42) + 'median ms'.padStart(12) + 'p90 ms'.padStart(10))
for (const [name, xs] of times) console.log(name.padEnd(42) + median(xs).toFixed(1).padStart(12) + p90(xs).toFixed(1).padStart(10))
const ours = median(times.get(clients[0].name))
const others = [...times].filter(([name]) => !name.startsWith('@lab/'))
if (others.length) {
  const [fastestName, fastest] = others.map(([n, xs]) => [n, median(xs)]).sort((a, b) => a[1] - b[1])[0]
  console.log(`ours (library) vs the fastest other, ${fastestName}: ${(fastest / ours).toFixed(2)}x as fast (${ours.toFixed(1)} vs ${fastest.toFixed(1)} ms)`)
  const oursCli = median(times.get(clients[1].name))
  console.log(`ours (CLI, includes starting Node) vs ${fastestName}: ${(fastest / oursCli).toFixed(2)}x as fast (${oursCli.toFixed(1)} vs ${fastest.toFixed(1)} ms)`)
}
if (chart) {
  const fastestOther = others.map(([n, xs]) => [n, median(xs)]).sort((a, b) => a[1] - b[1])[0]?.[0]
  writeChart(chart, {
    title: 'DHCP client: start to leased address on the interface',
    subtitle: `against dnsmasq on a veth; median of ${runs} interleaved runs each`,
    panels: [{ title: 'start to address', unit: 'ms', better: 'lower', ...(fastestOther ? { baseline: fastestOther } : {}), bars: [...times].map(([name, xs]) => ({ label: name, value: median(xs), ours: name.startsWith('@lab/') })) }],
  })
  console.log(`chart: ${chart}`)
}
dnsmasq.kill('SIGTERM')
