#!/usr/bin/env node
// `npm run soak [-- OPTIONS]`: the soak runs, outside CI. Each part runs in a child process of its
// own (so its memory figures are its own), bounded by a count and by time, and reports RSS, V8 heap
// (after a full GC), open fds and its kernel objects (links, namespaces) or journal size at the
// start, after warm-up (10 %), in the middle, at the end and after its clean-up.
//
//   dhcp4       leases bound, renewed, released and expired in a LeaseDatabase with a real journal
//               file in a temp dir (fake clock; the journal compacts itself as it grows)
//   netlink     veth pair create/delete cycles in a namespace of its own (netlink-native)
//   slots       slot create/destroy (Slots with a host namespace of its own and an uplink veth)
//   nanoswitch  port hotplug: a veth port added to a running switch's namespace, enslaved by the
//               switch, and removed again
//
// Options: --only PART,...  PART=COUNT (dhcp4=1000000 netlink=100000 slots=10000 nanoswitch=10000
// by default)  --minutes M (time bound per part, default 20; a part that reaches it stops and says
// how far it got)  --json FILE (all samples). Needs root for everything but dhcp4. Namespaces are
// named labt-<pid>-soak-…, removed at the end (and by the test harness's stale sweep after a crash).
// LAB_SOAK_SMAPS=DIR writes /proc/self/smaps at every sample (what holds the RSS: V8's 256 KiB
// heap pages, malloc's [heap] and its mmapped chunks).
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const DEFAULTS = { dhcp4: 1_000_000, netlink: 100_000, slots: 10_000, nanoswitch: 10_000 }
const NETNS_DIR = '/run/netns'

function parseArgs(argv) {
  const o = { counts: { ...DEFAULTS }, only: Object.keys(DEFAULTS), minutes: 20, json: undefined, part: undefined, tag: undefined }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const m = /^([a-z0-9]+)=(\d+)$/.exec(a)
    if (m && m[1] in DEFAULTS) o.counts[m[1]] = Number(m[2])
    else if (a === '--only') o.only = argv[++i].split(',')
    else if (a === '--minutes') o.minutes = Number(argv[++i])
    else if (a === '--json') o.json = argv[++i]
    else if (a === '--part') o.part = argv[++i]
    else if (a === '--tag') o.tag = argv[++i]
    else usage(`unknown argument ${a}`)
  }
  for (const p of o.only) if (!(p in DEFAULTS)) usage(`unknown part ${p}`)
  if (!(o.minutes > 0)) usage('--minutes must be a positive number')
  return o
}

function usage(message) {
  console.error(`soak: ${message} (usage: npm run soak -- [--only ${Object.keys(DEFAULTS).join(',')}] [PART=COUNT ...] [--minutes M] [--json FILE])`)
  process.exit(2)
}


// ---------------------------------------------------------------- parent: runs each part, prints tables

async function parent(o) {
  const results = []
  const tag = `labt-${process.pid}-soak`
  for (const part of o.only) {
    if (part !== 'dhcp4' && process.getuid?.() !== 0) {
      console.log(`soak: ${part}: skipped (needs root)`)
      continue
    }
    const count = o.counts[part]
    console.log(`soak: ${part}: ${count.toLocaleString('en')} within ${o.minutes} min …`)
    const started = Date.now()
    const result = await runChild(part, count, o.minutes, tag)
    result.seconds = Math.round((Date.now() - started) / 1000)
    result.leftoverNamespaces = namespacesWith(tag)
    results.push(result)
    print(result)
  }
  if (o.json) writeFileSync(o.json, JSON.stringify(results, null, 2) + '\n')
  const failed = results.some((r) => r.error || r.leftoverNamespaces.length > 0)
  process.exit(failed ? 1 : 0)
}

function runChild(part, count, minutes, tag) {
  return new Promise((resolve) => {
    const script = fileURLToPath(import.meta.url)
    const c = spawn(process.execPath, ['--expose-gc', script, '--part', part, '--tag', tag, `${part}=${count}`, '--minutes', String(minutes)], { stdio: ['ignore', 'pipe', 'inherit'] })
    const result = { part, samples: [] }
    let buffered = ''
    c.stdout.on('data', (chunk) => {
      buffered += chunk
      let nl
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl)
        buffered = buffered.slice(nl + 1)
        if (line.startsWith('SAMPLE ')) {
          const s = JSON.parse(line.slice(7))
          result.samples.push(s)
          console.log(`  ${s.label.padEnd(9)} ${String(s.done).padStart(9)} done  rss ${s.rssMiB} MiB  heap ${s.heapMiB} MiB (committed ${s.heapTotalMiB})  Buffers ${s.externalMiB} MiB  (anon ${s.rssAnonMiB}, file ${s.rssFileMiB})  anon outside the heap ${s.outsideHeapMiB} MiB  fds ${s.fds}${Object.entries(s.kernel ?? {}).map(([k, v]) => `  ${k} ${v}`).join('')}`)
        } else if (line.startsWith('RESULT ')) Object.assign(result, JSON.parse(line.slice(7)))
        else console.log(`  ${line}`)
      }
    })
    // The child stops itself at its time bound; this is the backstop if it hangs.
    const guard = setTimeout(() => c.kill('SIGTERM'), (minutes + 5) * 60_000)
    c.on('exit', (code, signal) => {
      clearTimeout(guard)
      if (code !== 0 && !result.error) result.error = `exited with ${signal ?? code}`
      resolve(result)
    })
  })
}

function print(r) {
  if (r.error) console.log(`soak: ${r.part}: ERROR ${r.error}`)
  console.log(`soak: ${r.part}: ${r.done?.toLocaleString('en')} of ${r.requested?.toLocaleString('en')} ${r.unit ?? ''} in ${r.seconds} s${r.stoppedByTime ? ' (stopped by the time bound)' : ''}`)
  if (r.counters) console.log(`  ${Object.entries(r.counters).map(([k, v]) => `${k} ${v.toLocaleString('en')}`).join(', ')}`)
  const warm = r.samples.find((s) => s.label === 'warm-up')
  const end = r.samples.find((s) => s.label === 'end')
  if (warm && end) {
    const pct = (k) => (warm[k] === 0 ? 'n/a' : `${(((end[k] - warm[k]) / warm[k]) * 100).toFixed(1)} %`)
    console.log(`  end vs warm-up: rss ${pct('rssMiB')} (anonymous ${pct('rssAnonMiB')}), heap ${pct('heapMiB')}, fds ${end.fds - warm.fds}`)
    // Every sample from warm-up to the end, not just the two ends: a climb, or a spike, shows.
    const after = r.samples.slice(r.samples.indexOf(warm), r.samples.indexOf(end) + 1)
    const range = (k) => `${Math.min(...after.map((s) => s[k]))} to ${Math.max(...after.map((s) => s[k]))} MiB (${(((Math.max(...after.map((s) => s[k])) - warm[k]) / warm[k]) * 100).toFixed(1)} % above warm-up at most)`
    console.log(`  from warm-up to the end: rss ${range('rssMiB')}, heap ${range('heapMiB')}`)
  }
  console.log(`  leftover namespaces: ${r.leftoverNamespaces.length === 0 ? 'none' : r.leftoverNamespaces.join(' ')}`)
  const kernelKeys = [...new Set(r.samples.flatMap((s) => Object.keys(s.kernel ?? {})))]
  console.log(`\n| ${r.part} | done | RSS MiB | RSS anonymous | V8 heap MiB (after GC) | V8 heap committed | Buffers MiB | fds | ${kernelKeys.join(' | ')} |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |${kernelKeys.map(() => ' ---: |').join('')}`)
  for (const s of r.samples) console.log(`| ${s.label} | ${s.done.toLocaleString('en')} | ${s.rssMiB} | ${s.rssAnonMiB ?? ''} | ${s.heapMiB} | ${s.heapTotalMiB} | ${s.externalMiB} | ${s.fds} | ${kernelKeys.map((k) => s.kernel?.[k] ?? '').join(' | ')} |`)
  console.log('')
}

function namespacesWith(prefix) {
  return existsSync(NETNS_DIR) ? readdirSync(NETNS_DIR).filter((n) => n.startsWith(prefix)) : []
}

// ---------------------------------------------------------------- child: one part

async function child(o) {
  const part = o.part
  const count = o.counts[part]
  const deadline = Date.now() + o.minutes * 60_000
  const cleanups = []
  let cleaning
  const cleanup = () =>
    (cleaning ??= (async () => {
      for (const f of cleanups.reverse()) {
        try {
          await f()
        } catch (error) {
          console.error(`soak: ${part}: clean-up: ${error?.message ?? error}`)
        }
      }
    })())
  for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => void cleanup().then(() => process.exit(1)))
  const run = { dhcp4: soakDhcp4, netlink: soakNetlink, slots: soakSlots, nanoswitch: soakNanoswitch }[part]
  try {
    const result = await run({ count, deadline, tag: o.tag, defer: (f) => cleanups.push(f) })
    await cleanup()
    result.samples = undefined
    emit('RESULT', result)
    // The clean-up is done: what is left now is what the part would leak.
    process.exitCode = 0
  } catch (error) {
    await cleanup()
    emit('RESULT', { error: error?.stack ?? String(error) })
    process.exitCode = 1
  }
}

function emit(kind, value) {
  process.stdout.write(`${kind} ${JSON.stringify(value)}\n`)
}

const MiB = (n) => Math.round((n / 2 ** 20) * 10) / 10

/**
 * RSS split as the kernel counts it: anonymous pages (V8's heap, malloc: what a leak would grow)
 * and file pages (node's own binary and libraries, which come and go with the page cache under
 * memory pressure), and the anonymous memory outside V8's heap (malloc: Buffers, strings turned
 * into bytes for a write, libuv), which is the anonymous part minus the heap's committed pages.
 */
function rssParts() {
  try {
    const status = readFileSync('/proc/self/status', 'utf8')
    const kB = (name) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024
    const anon = kB('RssAnon')
    return { rssAnonMiB: MiB(anon), rssFileMiB: MiB(kB('RssFile')), outsideHeapMiB: MiB(anon - process.memoryUsage().heapTotal) }
  } catch {
    return {}
  }
}

/** RSS, heap after a full GC, memory outside the heap (Buffers), open fds, and the part's own figures. */
async function sample(label, done, kernel) {
  globalThis.gc?.()
  // V8 hands the pages that GC freed back to the system from a thread of its own, a little later:
  // read RSS once that is done, not while it is still counted.
  await new Promise((resolve) => setTimeout(resolve, 200))
  const m = process.memoryUsage()
  // LAB_SOAK_SMAPS=DIR: the process's memory map at every sample, for finding what holds RSS.
  if (process.env.LAB_SOAK_SMAPS) writeFileSync(join(process.env.LAB_SOAK_SMAPS, `${label.replace(/\W+/g, '-')}.smaps`), readFileSync('/proc/self/smaps', 'utf8'))
  emit('SAMPLE', { label, done, rssMiB: MiB(m.rss), heapMiB: MiB(m.heapUsed), heapTotalMiB: MiB(m.heapTotal), externalMiB: MiB(m.external), ...rssParts(), fds: readdirSync('/proc/self/fd').length, kernel })
}

/**
 * Calls `step(i)` for i in [0, count) until the deadline; samples at 0, 10 %, 50 % and 100 %
 * (`per` units of work per step, for the samples' `done`).
 */
async function loop(count, deadline, step, kernel, per = 1) {
  // Every tenth of the run, so a slow climb shows; the 10 % and 50 % marks have names.
  const marks = new Map([1, 2, 3, 4, 5, 6, 7, 8, 9].map((t) => [Math.floor((count * t) / 10), t === 1 ? 'warm-up' : t === 5 ? 'middle' : `${t * 10} %`]))
  await sample('start', 0, await kernel())
  let i = 0
  for (; i < count; i++) {
    if (marks.has(i)) await sample(marks.get(i), i * per, await kernel())
    if (Date.now() > deadline) break
    await step(i)
  }
  await sample('end', i * per, await kernel())
  return { done: i, stoppedByTime: i < count }
}

async function makeNetns(name, defer) {
  const { Netns } = await import('@lab/netlink-native')
  // Like the test harness: a resolv.conf of its own, in case anything resolves names inside.
  mkdirSync(`/etc/netns/${name}`, { recursive: true })
  writeFileSync(`/etc/netns/${name}/resolv.conf`, '')
  defer(async () => {
    rmSync(`/etc/netns/${name}`, { recursive: true, force: true })
    await Netns.destroy(name)
  })
  await Netns.add(name)
}

// dhcp4: the lease database with its journal. Clients come in batches of 1000 from a population of
// 20 000 (so they come back and find their old address): each lease is offered and bound, renewed
// half-way through, then half the batch releases and the other half lets the lease expire (the fake
// clock moves past it and a sweep runs). The journal is made durable after every batch and compacts
// itself when superseded records pile up.
async function soakDhcp4({ count, deadline, defer }) {
  const { AddressPool, LeaseDatabase } = await import('@lab/dhcp4')
  const dir = mkdtempSync(join(tmpdir(), 'lab-soak-dhcp4-'))
  defer(() => rmSync(dir, { recursive: true, force: true }))
  const journalPath = join(dir, 'leases.journal')
  let now = Date.UTC(2026, 0, 1)
  const pool = new AddressPool({ subnet: '10.64.0.0/16', range: ['10.64.0.10', '10.64.255.250'] })
  const db = await LeaseDatabase.open({ pool, journalPath, now: () => now })
  defer(() => db.close())
  const LEASE_MS = 3_600_000
  const BATCH = 1000
  const POPULATION = 20_000
  const counters = { bound: 0, renewed: 0, released: 0, expired: 0, unavailable: 0, compactions: 0 }
  let lastSize = 0
  let maxSize = 0
  const journal = () => {
    const size = existsSync(journalPath) ? statSync(journalPath).size : 0
    const c = db.journalCounters()
    return { 'journal KiB': Math.round(size / 1024), 'journal records': c?.records ?? 0, leases: db.list().length }
  }
  const batches = Math.ceil(count / BATCH)
  const result = await loop(batches, deadline, async (b) => {
    const held = []
    for (let j = 0; j < BATCH && b * BATCH + j < count; j++) {
      const n = (b * BATCH + j) % POPULATION
      const client = `id:ff${n.toString(16).padStart(8, '0')}`
      const mac = `02:00:00:${((n >> 16) & 255).toString(16).padStart(2, '0')}:${((n >> 8) & 255).toString(16).padStart(2, '0')}:${(n & 255).toString(16).padStart(2, '0')}`
      const address = db.choose(client)
      if (!address) {
        counters.unavailable++
        continue
      }
      db.offer(client, mac, address)
      db.bind(client, mac, address, LEASE_MS)
      counters.bound++
      held.push({ client, mac, address })
    }
    await db.durable()
    now += LEASE_MS / 2
    for (const h of held) db.bind(h.client, h.mac, h.address, LEASE_MS)
    counters.renewed += held.length
    await db.durable()
    held.forEach((h, k) => {
      if (k % 2 === 0 && db.release(h.client, h.address)) counters.released++
    })
    await db.durable()
    now += LEASE_MS + 1000
    counters.expired += db.sweep().expired.length
    const size = statSync(journalPath).size
    if (size < lastSize) counters.compactions++
    lastSize = size
    maxSize = Math.max(maxSize, size)
  }, journal, BATCH)
  counters.maxJournalKiB = Math.round(maxSize / 1024)
  await db.close()
  await sample('after close', counters.bound, journal())
  return { ...result, done: counters.bound, requested: count, unit: 'leases bound', counters }
}

// netlink: a veth pair created and deleted, over and over, in a namespace of its own.
async function soakNetlink({ count, deadline, tag, defer }) {
  const { Netlink } = await import('@lab/netlink-native')
  const ns = `${tag}-nl`
  await makeNetns(ns, defer)
  const nl = await Netlink.open({ netns: ns })
  defer(() => nl.close())
  const kernel = async () => ({ links: (await nl.link.list()).length, 'run namespaces': namespacesWith(tag).length })
  const result = await loop(count, deadline, async () => {
    await nl.link.add({ name: 'soak0', kind: 'veth', peer: { name: 'soak1' } })
    await nl.link.del('soak0')
  }, kernel)
  return { ...result, requested: count, unit: 'veth pair create/delete cycles' }
}

// slots: create and destroy, one at a time, with a host namespace of its own and a veth uplink.
async function soakSlots({ count, deadline, tag, defer }) {
  const { Netlink, Netns } = await import('@lab/netlink-native')
  const { Slots } = await import('@lab/slots')
  const hostNs = `${tag}-host`
  const prefix = `${tag}-slot`
  await makeNetns(hostNs, defer)
  // Slot namespaces carry the run's prefix; any left by a failure go with the host.
  defer(async () => {
    for (const n of namespacesWith(prefix)) await Netns.destroy(n)
  })
  const host = await Netlink.open({ netns: hostNs })
  defer(() => host.close())
  await host.link.add({ name: 'uplink0', kind: 'veth', peer: { name: 'uplink1' } })
  await host.link.set('uplink0', { up: true })
  const slots = await Slots.open({ hostNetns: hostNs, uplink: 'uplink0', netnsPrefix: prefix, vethPrefix: 'sv' })
  defer(() => slots.close())
  const kernel = async () => {
    await slots.settled()
    return { 'host links': (await host.link.list()).length, 'slot namespaces': namespacesWith(prefix).length, 'run namespaces': namespacesWith(tag).length }
  }
  const result = await loop(count, deadline, async () => {
    const slot = await slots.add()
    await slots.destroy(slot.index)
  }, kernel)
  await slots.flush()
  await slots.settled()
  return { ...result, requested: count, unit: 'slot create/destroy cycles' }
}

// nanoswitch: a switch runs in its namespace; a veth port appears (its peer in a "VM" namespace),
// the switch puts it on the bridge, and the port goes away again.
async function soakNanoswitch({ count, deadline, tag, defer }) {
  const { Netlink } = await import('@lab/netlink-native')
  const { RunningSwitch } = await import('@lab/nanoswitch')
  const swNs = `${tag}-sw`
  const vmNs = `${tag}-vm`
  await makeNetns(swNs, defer)
  await makeNetns(vmNs, defer)
  const dir = mkdtempSync(join(tmpdir(), 'lab-soak-sw-'))
  defer(() => rmSync(dir, { recursive: true, force: true }))
  const nl = await Netlink.open({ netns: swNs })
  defer(() => nl.close())
  const vm = await Netlink.open({ netns: vmNs })
  defer(() => vm.close())
  const sw = await RunningSwitch.start({ netns: swNs, leaseFile: join(dir, 'leases'), controlSocket: false })
  defer(() => sw.stop())
  let bridge
  for (let i = 0; !bridge; i++) {
    bridge = (await nl.link.list()).find((l) => l.name === 'vmbridge')
    if (!bridge && i > 400) throw new Error('the switch made no bridge in 10 s')
    if (!bridge) await new Promise((r) => setTimeout(r, 25))
  }
  let slow = 0
  const kernel = async () => {
    const links = await nl.link.list()
    return { 'switch links': links.length, 'bridge ports': links.filter((l) => l.master === bridge.index).length, 'vm links': (await vm.link.list()).length, 'run namespaces': namespacesWith(tag).length }
  }
  const result = await loop(count, deadline, async () => {
    await nl.link.add({ name: 'hp0', kind: 'veth', peer: { name: 'eth0', netns: vmNs } })
    // Hotplug done: the switch has seen the port and put it on the bridge.
    const started = Date.now()
    for (;;) {
      const link = await nl.link.get('hp0')
      if (link.master === bridge.index) break
      if (Date.now() - started > 10_000) throw new Error('a new port was not on the bridge within 10 s')
      await new Promise((r) => setTimeout(r, 1))
    }
    if (Date.now() - started > 1000) slow++
    await nl.link.del('hp0')
  }, kernel)
  return { ...result, requested: count, unit: 'ports added, enslaved by the switch and removed', counters: { 'ports on the bridge after more than 1 s': slow } }
}

// Last, so every constant above is initialised before a part runs.
const options = parseArgs(process.argv.slice(2))
if (options.part) await child(options)
else await parent(options)
