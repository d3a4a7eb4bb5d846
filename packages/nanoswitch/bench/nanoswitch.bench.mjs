#!/usr/bin/env node
// `npm run bench -w @lab/nanoswitch`: (1) start to healthy, no uplink, two ports: `nanoswitch run`
// (a fresh process), the switch started in a running process, and the shell way (ip commands for
// the bridge and ports, then dnsmasq until it serves); (2) TCP throughput from an upstream
// namespace to a VM namespace through `nanoswitch run --forward` (kernel DNAT, and the proxy) vs the same two namespaces
// routed directly through the switch namespace by the kernel. Same run, throwaway namespaces.
// Usage: nanoswitch.bench.mjs [startRuns=7] [megabytes=512] [--chart FILE.svg] (--chart: the
// figures as a bar chart as well)
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createProgress } from '@lab/cli-kit/progress'
import { chartOption, writeChart } from '../../../scripts/bench-chart.mjs'

const packages = fileURLToPath(new URL('../../', import.meta.url))
const { Netlink, Netns, Sysctl, listenTcp, connectTcp } = await import(join(packages, 'netlink-native/dist/index.js'))
const { RunningSwitch, readControl } = await import(join(packages, 'nanoswitch/dist/index.js'))
const { default: pino } = await import('pino')
const cli = join(packages, 'nanoswitch/dist/cli.js')
const bundle = join(packages, 'nanoswitch/bundle/nanoswitch.mjs')
const { chart, args } = chartOption()
const startRuns = Number(args[0] ?? 7)
const megabytes = Number(args[1] ?? 512)
// One status line per run, written between the timed parts.
const progress = createProgress()

if (process.getuid?.() !== 0) {
  console.error('nanoswitch.bench: needs root (network namespaces)')
  process.exit(2)
}
const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0
const tag = `labb-${process.pid}`
const dir = mkdtempSync(join(tmpdir(), 'lab-nanoswitch-bench-'))
const made = new Set()
const children = new Set()
async function cleanup() {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL')
  for (const name of made) if (Netns.exists(name)) await Netns.del(name).catch(() => undefined)
  rmSync(dir, { recursive: true, force: true })
}
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => void cleanup().then(() => process.exit(130)))

async function namespace(name) {
  await Netns.add(name)
  made.add(name)
  const nl = await Netlink.open({ netns: name })
  await nl.link.set('lo', { up: true })
  nl.close()
  return name
}
async function dropNamespace(name) {
  await Netns.del(name)
  made.delete(name)
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

/** A switch namespace with two ports (veths to two VM namespaces), nothing configured. */
async function switchWithPorts(run) {
  const sw = await namespace(`${tag}-s${run}`)
  const vms = [await namespace(`${tag}-a${run}`), await namespace(`${tag}-b${run}`)]
  const nl = await Netlink.open({ netns: sw })
  for (const [i, vm] of vms.entries()) await nl.link.add({ name: `port${i + 1}`, kind: 'veth', peer: { name: 'eth0', netns: vm } })
  nl.close()
  return { sw, drop: async () => { for (const n of [sw, ...vms]) await dropNamespace(n) } }
}

function processStarter(name, script) {
  return {
    name,
    async start(sw, run) {
      const t0 = performance.now()
      const child = spawn(process.execPath, [script, 'run', '--netns', sw, '--socket', join(dir, `c${run}.sock`)], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, LOG_LEVEL: 'info' } })
      children.add(child)
      await new Promise((resolve, reject) => {
        let out = ''
        child.stdout.on('data', (c) => {
          out += c
          if (out.includes('switch healthy')) resolve()
        })
        child.once('exit', (code) => reject(new Error(`nanoswitch exited ${code}: ${out}`)))
      })
      const elapsed = performance.now() - t0
      child.kill('SIGTERM')
      await new Promise((r) => child.once('exit', r))
      return elapsed
    },
  }
}

const starters = [
  processStarter('nanoswitch run (new process)', cli),
  ...(existsSync(bundle) ? [processStarter('bundle/nanoswitch.mjs run (new process)', bundle)] : []),
  {
    name: 'RunningSwitch.start() (in a process)',
    async start(sw) {
      const t0 = performance.now()
      const s = await RunningSwitch.start({ netns: sw, controlSocket: false, logger: pino({ level: 'silent' }) })
      const elapsed = performance.now() - t0
      await s.stop()
      return elapsed
    },
  },
  {
    name: 'shell: ip (bridge, ports) + dnsmasq',
    needs: ['ip', 'dnsmasq'],
    async start(sw, run) {
      const t0 = performance.now()
      const ip = (...args) => execFileSync('ip', ['-n', sw, ...args])
      ip('link', 'add', 'vmbridge', 'type', 'bridge', 'forward_delay', '0', 'stp_state', '0')
      ip('addr', 'add', '10.1.0.1/24', 'dev', 'vmbridge')
      ip('link', 'set', 'vmbridge', 'up')
      for (const p of ['port1', 'port2']) ip('link', 'set', p, 'master', 'vmbridge', 'up')
      const child = spawn('ip', ['netns', 'exec', sw, 'dnsmasq', '--keep-in-foreground', '--port=0', '--interface=vmbridge', '--bind-interfaces', '--conf-file=/dev/null', '--log-facility=-',
        '--dhcp-range=10.1.0.2,10.1.0.254,255.255.255.0,12h', `--dhcp-leasefile=${join(dir, `d${run}.leases`)}`, `--pid-file=${join(dir, `d${run}.pid`)}`], { stdio: ['ignore', 'ignore', 'pipe'] })
      children.add(child)
      await new Promise((resolve, reject) => {
        let out = ''
        child.stderr.on('data', (c) => {
          out += c
          if (out.includes('DHCP, sockets bound')) resolve()
        })
        child.once('exit', (code) => reject(new Error(`dnsmasq exited ${code}: ${out}`)))
      })
      const elapsed = performance.now() - t0
      child.kill('SIGTERM')
      await new Promise((r) => child.once('exit', r))
      return elapsed
    },
  },
].filter((s) => !s.needs || s.needs.every(has) || (console.log(`${s.name}: ${s.needs.join(', ')} not installed, skipped`), false))

const startTimes = new Map(starters.map((s) => [s.name, []]))
for (let run = 0; run <= startRuns; run++) {
  for (const s of starters) {
    progress.update(`start to healthy, run ${run + 1}/${startRuns + 1}${run === 0 ? ' (warm-up)' : ''}: ${s.name}`)
    const { sw, drop } = await switchWithPorts(run)
    try {
      const t = await s.start(sw, run)
      if (run > 0) startTimes.get(s.name).push(t) // run 0 warms caches
    } finally {
      await drop()
    }
  }
}

// Throughput: upstream namespace -> VM namespace, through the forward or routed by the kernel.
const up = await namespace(`${tag}-up`)
const sw = await namespace(`${tag}-sw`)
const vm = await namespace(`${tag}-vm`)
{
  const nl = await Netlink.open({ netns: sw })
  await nl.link.add({ name: 'uplink0', kind: 'veth', peer: { name: 'u0', netns: up } })
  await nl.link.add({ name: 'port1', kind: 'veth', peer: { name: 'eth0', netns: vm } })
  await nl.addr.add('uplink0', '10.99.0.2/24')
  await nl.link.set('uplink0', { up: true })
  nl.close()
  const u = await Netlink.open({ netns: up })
  await u.addr.add('u0', '10.99.0.1/24')
  await u.link.set('u0', { up: true })
  await u.route.add({ dst: '10.1.0.0/24', gateway: '10.99.0.2' })
  u.close()
  const v = await Netlink.open({ netns: vm })
  await v.addr.add('eth0', '10.1.0.2/24')
  await v.link.set('eth0', { up: true })
  await v.route.add({ dst: 'default', gateway: '10.1.0.1' })
  v.close()
  await new Sysctl(sw).set('net.ipv4.ip_forward', 1)
}
let received = 0
const sink = await listenTcp({ netns: vm, host: '0.0.0.0', port: 9000 }, (s) => {
  s.on('data', (c) => (received += c.length))
  s.on('error', () => undefined)
})
const chunk = Buffer.alloc(256 * 1024, 0x5a)
async function transfer(host) {
  received = 0
  const total = megabytes * 1024 * 1024
  const conn = await connectTcp({ netns: up, host, port: 9000 })
  const t0 = performance.now()
  let sent = 0
  await new Promise((resolve, reject) => {
    conn.on('error', reject)
    const pump = () => {
      while (sent < total) {
        sent += chunk.length
        if (!conn.write(chunk)) return void conn.once('drain', pump)
      }
      conn.end()
    }
    pump()
    const check = setInterval(() => {
      if (received >= total) {
        clearInterval(check)
        resolve()
      }
    }, 1)
  })
  const seconds = (performance.now() - t0) / 1000
  conn.destroy()
  return (received * 8) / seconds / 1e9
}
async function startSwitch(mode) {
  const socket = join(dir, `fwd-${mode}.sock`)
  const child = spawn(process.execPath, [cli, 'run', '--netns', sw, '--uplink', 'uplink0', '--forward', '9000:10.1.0.2', '--forward-mode', mode, '--socket', socket], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, LOG_LEVEL: 'warn' } })
  children.add(child)
  for (let i = 0; !(await readControl(socket, 500).catch(() => undefined)); i++) {
    if (i > 200) throw new Error('nanoswitch did not come up')
    await new Promise((r) => setTimeout(r, 20))
  }
  return async () => {
    child.kill('SIGTERM')
    await new Promise((r) => child.once('exit', r))
  }
}
const rates = { kernel: [], proxy: [], direct: [] }
for (const mode of ['kernel', 'proxy']) {
  const stop = await startSwitch(mode)
  for (let round = 0; round < 3; round++) {
    progress.update(`TCP ${megabytes} MiB, ${mode} forward and direct, round ${round + 1}/3`)
    rates[mode].push(await transfer('10.99.0.2'))
    rates.direct.push(await transfer('10.1.0.2'))
  }
  await stop()
}
sink.close()
progress.done()

console.log(`\nnanoswitch: start to healthy, no uplink, 2 ports; median of ${startRuns} runs, interleaved`)
console.log('how'.padEnd(42) + 'median ms'.padStart(12))
for (const [name, xs] of startTimes) console.log(name.padEnd(42) + median(xs).toFixed(1).padStart(12))
const shell = startTimes.get('shell: ip (bridge, ports) + dnsmasq')
if (shell) {
  console.log(`nanoswitch run vs shell: ${(median(shell) / median(startTimes.get('nanoswitch run (new process)'))).toFixed(2)}x as fast; in a process: ${(median(shell) / median(startTimes.get('RunningSwitch.start() (in a process)'))).toFixed(2)}x`)
}
console.log(`\nTCP ${megabytes} MiB upstream -> VM, median of 3 rounds each (Gbit/s), interleaved with direct`)
const pct = (xs) => `${((100 * median(xs)) / median(rates.direct)).toFixed(0)}%`
console.log(`routed by the kernel (direct): ${median(rates.direct).toFixed(2)}`)
console.log(`--forward (kernel DNAT, default): ${median(rates.kernel).toFixed(2)}   of direct: ${pct(rates.kernel)}`)
console.log(`--forward-mode proxy (splice relay): ${median(rates.proxy).toFixed(2)}   of direct: ${pct(rates.proxy)}`)
if (chart) {
  writeChart(chart, {
    title: 'nanoswitch: start to healthy, and TCP through a forward',
    subtitle: `start: no uplink, 2 ports, median of ${startRuns} interleaved runs; TCP: ${megabytes} MiB upstream to a VM namespace, median of 3`,
    panels: [
      {
        title: 'start to healthy',
        unit: 'ms',
        better: 'lower',
        ...(shell ? { baseline: 'shell: ip (bridge, ports) + dnsmasq' } : {}),
        bars: [...startTimes].map(([name, xs]) => ({ label: name, value: median(xs), ours: !name.startsWith('shell') })),
      },
      {
        title: 'TCP throughput upstream -> VM',
        unit: 'Gbit/s',
        better: 'higher',
        baseline: 'routed by the kernel (direct)',
        bars: [
          { label: 'routed by the kernel (direct)', value: median(rates.direct) },
          { label: '--forward (kernel DNAT)', value: median(rates.kernel), ours: true },
          { label: '--forward-mode proxy (splice)', value: median(rates.proxy), ours: true },
        ],
      },
    ],
  })
  console.log(`chart: ${chart}`)
}
await cleanup()
