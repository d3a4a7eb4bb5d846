#!/usr/bin/env node
// `npm run bench -w @lab/nanoswitch`, fabric section: the same three-host fabric (three namespaces
// on an underlay bridge, a VM namespace with a fixed address on hosts 1 and 3), side by side in
// one run, interleaved (each run starts with the next variant; a pause after each, untimed):
//   (a) three `nanoswitch run --fabric` processes, from their start to every switch healthy (all
//       BGP sessions Established, every neighbor's routes in) and a first ping vm1 -> vm3 answered;
//   (b) a shell script of ip/bridge commands with FRR's zebra and bgpd started by hand (the
//       configuration FRR's EVPN guides give, default timers), polling `vtysh -c 'show bgp l2vpn
//       evpn summary json'` until every session is Established; then the same first ping.
//   (c) the same script with the FRR knobs nanoswitch writes (coalesce-time 0, timers 3 9,
//       timers connect 1, advertisement-interval 0), waiting for every flood list, not just
//       Established: how much of (a) is FRR and how much is nanoswitch.
// (a') is (a) started from the one-file bundle (bundle/nanoswitch.mjs), when it was built.
// And once per nanoswitch run: a new VM on host 2 takes a lease (udhcpc), then pings vm1 on host 1:
// the time from its lease to the first answer.
// Every step is bounded; everything made is removed, also on failure or SIGINT.
// Usage: fabric.bench.mjs [runs=5] [--chart FILE.svg] (the figures as a bar chart as well)
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createProgress } from '@lab/cli-kit/progress'
import { chartOption, writeChart } from '../../../scripts/bench-chart.mjs'

const pkg = fileURLToPath(new URL('..', import.meta.url))
const cli = join(pkg, 'dist/cli.js')
// The one-file bundle `npm run build` also writes: the same switch, less module loading at start.
const bundle = join(pkg, 'bundle/nanoswitch.mjs')
const { chart, args } = chartOption()
const runs = Number(args[0] ?? 5)
// One status line per run, written between the timed parts.
const progress = createProgress()
const FRR = '/usr/lib/frr'

if (process.getuid?.() !== 0) {
  console.error('fabric.bench: needs root (network namespaces)')
  process.exit(2)
}
const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0
if (!existsSync(`${FRR}/bgpd`) || !has('vtysh') || !has('udhcpc') || !existsSync(cli)) {
  console.log('fabric bench: needs frr, udhcpc and a build (npm run build -w @lab/nanoswitch); skipped')
  process.exit(0)
}

const tag = `labb-${process.pid}`
const dir = mkdtempSync(join(tmpdir(), 'lab-fabric-bench-'))
const namespaces = new Set()
const children = new Set()
const frrDirs = new Set()

function cleanup() {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
  for (const d of frrDirs) killFrrDir(d)
  for (const ns of namespaces) spawnSync('ip', ['netns', 'del', ns])
  for (const ns of namespaces) rmSync(`/etc/netns/${ns}`, { recursive: true, force: true })
  namespaces.clear()
  rmSync(dir, { recursive: true, force: true })
}
/** FRR started by hand (or left by a killed switch): its daemons by their pid files, then its directory. */
function killFrrDir(d) {
  for (const daemon of ['bgpd', 'zebra']) {
    try {
      process.kill(Number(readFileSync(join(d, `${daemon}.pid`), 'utf8')), 'SIGKILL')
    } catch {
      // No pid file, or the daemon is gone: nothing to kill.
    }
  }
  rmSync(d, { recursive: true, force: true })
  frrDirs.delete(d)
}
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => (cleanup(), process.exit(130)))
process.on('exit', cleanup)

const ip = (...args) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] })
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const vtep = (i) => `192.168.50.${i}`

/** Runs a command to its end within `ms`, or fails. */
function exec(argv, ms, options = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], ...options })
    children.add(child)
    let out = ''
    child.stdout.on('data', (c) => (out += c))
    child.stderr.on('data', (c) => (out += c))
    const timer = setTimeout(() => child.kill('SIGKILL'), ms)
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      children.delete(child)
      if (code === 0) resolve(out)
      else reject(new Error(`${argv.join(' ')}: ${signal ?? `exit ${code}`}\n${out}`))
    })
  })
}

/** Pings every 10 ms from `ns` until the first answer (within `ms`): when it came. */
function firstReply(ns, address, ms = 10_000) {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', ns, 'ping', '-n', '-i', '0.01', '-w', String(Math.ceil(ms / 1000)), address], { stdio: ['ignore', 'pipe', 'ignore'] })
    children.add(child)
    let out = ''
    child.stdout.on('data', (c) => {
      out += c
      if (/bytes from/.test(out)) {
        const t = performance.now()
        child.kill('SIGKILL')
        resolve(t)
      }
    })
    child.once('exit', () => {
      children.delete(child)
      reject(new Error(`no answer from ${address} in ${ns} within ${ms} ms`))
    })
  })
}

/** Three hosts on an underlay bridge; vm1 on host 1 (10.1.0.10), vm3 on host 3 (10.1.0.30). */
function topology(name) {
  const n = (s) => {
    const ns = `${tag}-${name}-${s}`
    ip('netns', 'add', ns)
    namespaces.add(ns)
    ip('-n', ns, 'link', 'set', 'lo', 'up')
    return ns
  }
  const ul = n('ul')
  ip('-n', ul, 'link', 'add', 'ulbr', 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0')
  ip('-n', ul, 'link', 'set', 'ulbr', 'up')
  const hosts = [1, 2, 3].map((i) => {
    const h = n(`h${i}`)
    ip('link', 'add', 'ul0', 'netns', h, 'type', 'veth', 'peer', 'name', `ul${i}`, 'netns', ul)
    ip('-n', ul, 'link', 'set', `ul${i}`, 'master', 'ulbr', 'up')
    ip('-n', h, 'addr', 'add', `${vtep(i)}/24`, 'dev', 'ul0')
    ip('-n', h, 'link', 'set', 'ul0', 'up')
    return h
  })
  const vms = [[1, '10.1.0.10'], [3, '10.1.0.30']].map(([i, address]) => {
    const vm = n(`vm${i}`)
    ip('link', 'add', 'eth0', 'netns', vm, 'type', 'veth', 'peer', 'name', 'port1', 'netns', hosts[i - 1])
    ip('-n', vm, 'addr', 'add', `${address}/24`, 'dev', 'eth0')
    ip('-n', vm, 'link', 'set', 'eth0', 'up')
    return vm
  })
  return { ul, hosts, vms, drop: () => { for (const ns of [...vms, ...hosts, ul]) { spawnSync('ip', ['netns', 'del', ns]); namespaces.delete(ns) } } }
}

/** (a) nanoswitch: three processes; resolves when all three logged `switch healthy`. */
async function nanoswitchFabric(t, run, entry = cli) {
  const procs = t.hosts.map((h, i) => {
    const file = join(dir, `${run}-h${i + 1}.json`)
    const neighbors = [1, 2, 3].filter((j) => j !== i + 1).map(vtep)
    writeFileSync(file, JSON.stringify({ vni: 4242, local: vtep(i + 1), underlay: 'ul0', asn: 65000, neighbors, range: [`10.1.0.${i + 1}1`, `10.1.0.${i + 1}9`] }))
    return { h, file }
  })
  const t0 = performance.now()
  const started = procs.map(({ h, file }) => {
    const child = spawn(process.execPath, [entry, 'run', '--netns', h, '--fabric', file, '--socket', join(dir, `${h}.sock`)], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LOG_LEVEL: 'info' } })
    children.add(child)
    frrDirs.add(`/var/run/frr/${h}`)
    let log = ''
    const healthy = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${h}: not healthy within 30 s\n${log}`)), 30_000)
      child.stdout.on('data', (c) => {
        log += c
        if (log.includes('switch healthy')) (clearTimeout(timer), resolve(performance.now()))
      })
      child.stderr.on('data', (c) => (log += c))
      child.once('exit', (code) => (clearTimeout(timer), reject(new Error(`${h}: nanoswitch exited ${code}\n${log}`))))
    })
    return { child, healthy, log: () => log }
  })
  const healthyAt = Math.max(...(await Promise.all(started.map((s) => s.healthy))))
  // Where the time went, from the switches' own log lines (pino's epoch ms): the latest host's.
  const epoch0 = Date.now() - (performance.now() - t0)
  const phase = (msg) => Math.max(...started.map((s) => s.log().split('\n').filter((l) => l.startsWith('{') && l.endsWith('}')).map((l) => JSON.parse(l)).find((o) => o.msg === msg)?.time ?? NaN)) - epoch0
  const pingAt = await firstReply(t.vms[0], '10.1.0.30')
  // A new VM on host 2: its lease, then its first answer from vm1 on host 1.
  const vm = `${tag}-${run}n-vm2`
  ip('netns', 'add', vm)
  namespaces.add(vm)
  ip('link', 'add', 'eth0', 'netns', vm, 'type', 'veth', 'peer', 'name', 'port1', 'netns', t.hosts[1])
  ip('-n', vm, 'link', 'set', 'eth0', 'up')
  const script = join(dir, 'udhcpc.sh')
  writeFileSync(script, '#!/bin/sh\n[ "$1" = bound ] && ip addr add "$ip/$mask" dev "$interface"\nexit 0\n')
  chmodSync(script, 0o755)
  await exec(['ip', 'netns', 'exec', vm, 'udhcpc', '-q', '-n', '-i', 'eth0', '-T', '1', '-t', '5', '-s', script], 10_000)
  const leaseAt = performance.now()
  const newVmPingAt = await firstReply(vm, '10.1.0.10')
  spawnSync('ip', ['netns', 'del', vm])
  namespaces.delete(vm)
  // Stop: SIGTERM, as a user would; each switch stops its FRR.
  const t1 = performance.now()
  await Promise.all(started.map(({ child }) => new Promise((r) => {
    child.once('exit', r)
    child.kill('SIGTERM')
    setTimeout(() => child.kill('SIGKILL'), 10_000).unref()
  })))
  for (const { h } of procs) frrDirs.delete(`/var/run/frr/${h}`)
  return { bridge: phase('bridge ready'), bgpd: phase('bgpd started'), established: healthyAt - t0, ping: pingAt - t0, newVm: newVmPingAt - leaseAt, stop: performance.now() - t1 }
}

/** (b) the script: what FRR's EVPN guides and topotests do by hand, for three hosts. */
function shellScript(t, tuned = false) {
  const lines = ['set -e', `FRR=${FRR}`]
  t.hosts.forEach((h, k) => {
    const i = k + 1
    const d = `/var/run/frr/${h}`
    const neighbors = [1, 2, 3].filter((j) => j !== i).map(vtep)
    lines.push(
      `# host ${i}`,
      `ip -n ${h} link add br0 type bridge stp_state 0 forward_delay 0`,
      `ip -n ${h} link add vx4242 type vxlan id 4242 local ${vtep(i)} dstport 4789 nolearning`,
      `ip -n ${h} link set vx4242 master br0 mtu 1450`,
      ...(i === 2 ? [] : [`ip -n ${h} link set port1 master br0 up`]),
      `bridge -n ${h} link set dev vx4242 learning off neigh_suppress on`,
      `ip -n ${h} addr add 10.1.0.1/24 dev br0 && ip -n ${h} link set br0 mtu 1450`,
      `ip -n ${h} link set vx4242 up && ip -n ${h} link set br0 up`,
      // FRR's daemons drop to user frr: their directory (the one `vtysh -N` looks in) is theirs.
      `mkdir -p ${d} && chown frr:frr ${d}`,
      `cat > ${d}/bgpd.conf <<EOF`,
      'router bgp 65000',
      ` bgp router-id ${vtep(i)}`,
      ' no bgp default ipv4-unicast',
      ...(tuned ? [' coalesce-time 0'] : []),
      ...neighbors.map((n) => ` neighbor ${n} remote-as 65000`),
      ...(tuned ? neighbors.flatMap((n) => [` neighbor ${n} timers 3 9`, ` neighbor ${n} timers connect 1`, ` neighbor ${n} advertisement-interval 0`]) : []),
      ' address-family l2vpn evpn',
      ...neighbors.map((n) => `  neighbor ${n} activate`),
      '  advertise-all-vni',
      ' exit-address-family',
      'EOF',
      `touch ${d}/zebra.conf ${d}/vtysh.conf`,
      `ip netns exec ${h} $FRR/zebra -d -N ${h} -f ${d}/zebra.conf -i ${d}/zebra.pid -z ${d}/zserv.api --vty_socket ${d} -A 127.0.0.1 -P 0`,
      `ip netns exec ${h} $FRR/bgpd -d -N ${h} -f ${d}/bgpd.conf -i ${d}/bgpd.pid -z ${d}/zserv.api --vty_socket ${d} -A 127.0.0.1 -P 0`,
    )
  })
  lines.push('# until every session is Established')
  // Tuned: until every host's flood list names both others (what nanoswitch waits for).
  if (tuned) for (const h of t.hosts) lines.push(`until [ "$(bridge -n ${h} fdb show dev vx4242 | grep -c '^00:00:00:00:00:00')" = 2 ]; do sleep 0.05; done`)
  for (const h of t.hosts) {
    const d = `/var/run/frr/${h}`
    lines.push(`until [ "$(vtysh --vty_socket ${d} -c 'show bgp l2vpn evpn summary json' 2>/dev/null | grep -c '"state":"Established"')" = 2 ]; do sleep 0.1; done`)
  }
  return { script: lines.join('\n') + '\n', dirs: t.hosts.map((h) => `/var/run/frr/${h}`) }
}

async function scriptFabric(t, run, tuned = false) {
  const { script, dirs } = shellScript(t, tuned)
  const file = join(dir, `fabric-${run}.sh`)
  writeFileSync(file, script)
  for (const d of dirs) frrDirs.add(d)
  const t0 = performance.now()
  await exec(['sh', file], 60_000)
  const establishedAt = performance.now()
  const pingAt = await firstReply(t.vms[0], '10.1.0.30')
  for (const d of dirs) killFrrDir(d)
  return { established: establishedAt - t0, ping: pingAt - t0 }
}

const results = { nanoswitch: [], bundle: [], script: [], tuned: [] }
// The machine may be shared: the load average (1 min) before and after goes with the figures.
const loadBefore = loadavg()[0]
try {
  const variants = [['nanoswitch', nanoswitchFabric], ['script', scriptFabric], ['tuned', (t, run) => scriptFabric(t, run, true)], ...(existsSync(bundle) ? [['bundle', (t, run) => nanoswitchFabric(t, run, bundle)]] : [])]
  for (let run = 0; run < runs; run++) {
    // Each run starts with another variant, so none always goes first (or always follows the same one).
    const k = run % variants.length
    for (const [name, method] of [...variants.slice(k), ...variants.slice(0, k)]) {
      progress.update(`run ${run + 1}/${runs}: ${name}`)
      const t = topology(`${run}${name.slice(0, 2)}`)
      try {
        const r = await method(t, run)
        results[name].push(r)
        const line = `run ${run} ${name}: ${JSON.stringify(Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Math.round(v)])))}`
        if (progress.enabled) progress.log(line)
        else console.error(line)
      } finally {
        t.drop()
      }
      // The kernel tears a deleted namespace down afterwards, holding the lock every link change
      // takes: the next variant's start would wait for this one's teardown. A pause, not timed.
      await sleep(1_500)
    }
  }
} finally {
  progress.done()
  cleanup()
}
const m = (name, key) => median(results[name].map((r) => r[key]))
console.log(`\nnanoswitch fabric: 3 hosts, VNI 4242; median of ${runs} interleaved runs (ms); load average ${loadBefore.toFixed(1)} before, ${loadavg()[0].toFixed(1)} after`)
console.log('how'.padEnd(52) + 'Established'.padStart(12) + 'first ping'.padStart(12))
console.log('nanoswitch run --fabric (3 processes)'.padEnd(52) + m('nanoswitch', 'established').toFixed(0).padStart(12) + m('nanoswitch', 'ping').toFixed(0).padStart(12))
if (results.bundle.length > 0) console.log('node bundle/nanoswitch.mjs run --fabric (3 processes)'.padEnd(52) + m('bundle', 'established').toFixed(0).padStart(12) + m('bundle', 'ping').toFixed(0).padStart(12))
console.log('shell: ip/bridge + zebra/bgpd by hand + vtysh polling'.padEnd(52) + m('script', 'established').toFixed(0).padStart(12) + m('script', 'ping').toFixed(0).padStart(12))
console.log('shell, nanoswitch\'s FRR knobs, waits for flood list'.padEnd(52) + m('tuned', 'established').toFixed(0).padStart(12) + m('tuned', 'ping').toFixed(0).padStart(12))
console.log(`nanoswitch phases (latest host, from its log): bridge ready ${m('nanoswitch', 'bridge').toFixed(0)}, bgpd started ${m('nanoswitch', 'bgpd').toFixed(0)}, healthy ${m('nanoswitch', 'established').toFixed(0)}`)
console.log(`nanoswitch vs script (first ping): ${(m('script', 'ping') / m('nanoswitch', 'ping')).toFixed(2)}x as fast; vs the tuned script: ${(m('tuned', 'ping') / m('nanoswitch', 'ping')).toFixed(2)}x`)
if (results.bundle.length > 0) console.log(`the bundle vs script (first ping): ${(m('script', 'ping') / m('bundle', 'ping')).toFixed(2)}x as fast; bundle phases: bridge ready ${m('bundle', 'bridge').toFixed(0)}, healthy ${m('bundle', 'established').toFixed(0)}`)
console.log(`new VM on host 2, lease to first answer from host 1: ${m('nanoswitch', 'newVm').toFixed(0)} ms (median; max ${Math.max(...results.nanoswitch.map((r) => r.newVm)).toFixed(0)})`)
if (chart) {
  const bars = (key) => [
    { label: 'nanoswitch run --fabric (3 processes)', value: m('nanoswitch', key), ours: true },
    ...(results.bundle.length > 0 ? [{ label: 'node bundle/nanoswitch.mjs run --fabric', value: m('bundle', key), ours: true }] : []),
    { label: 'shell: ip/bridge + zebra/bgpd by hand', value: m('script', key) },
    { label: "shell with nanoswitch's FRR knobs", value: m('tuned', key) },
  ]
  writeChart(chart, {
    title: 'nanoswitch fabric: 3 hosts, VNI 4242, from start',
    subtitle: `median of ${runs} interleaved runs, load average ${loadBefore.toFixed(1)} at the start`,
    panels: [
      { title: 'to the first ping answered vm1 -> vm3', unit: 'ms', better: 'lower', baseline: 'shell: ip/bridge + zebra/bgpd by hand', bars: bars('ping') },
      { title: 'to every BGP session Established (nanoswitch: healthy)', unit: 'ms', better: 'lower', baseline: 'shell: ip/bridge + zebra/bgpd by hand', bars: bars('established') },
    ],
  })
  console.log(`chart: ${chart}`)
}
