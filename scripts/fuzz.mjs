#!/usr/bin/env node
// `npm run fuzz [-- RUNS] [-- PROJECT=RUNS ...] [-- --only PROJECT,...] [-- --jobs N] [-- --split K]
// [-- --grep REGEX]` (only the tests whose name, "describe > it", matches):
// the long property-test campaign, outside CI. Every decoder's property tests run with RUNS inputs
// per property (default 1 000 000; PROJECT=RUNS sets one file's count); prints each property's
// inputs and time, and a summary table per file at the end.
//
// Not under vitest: each property file is bundled with esbuild (the package's own src; other
// @lab/* packages from their dist) and run in plain node with scripts/fuzz-harness.mjs standing in
// for vitest's describe/it (`expect` is vitest's own). The same property ran 2 to 2.5 times slower
// inside a vitest worker (its module runner), which at 1 000 000 inputs is the difference between
// minutes and most of an hour. Every property (every `it`) is a job of its own, N jobs at a time
// (--jobs, default 2: this machine's cores); --split K runs each property as K parts of RUNS/K
// inputs with different seeds, so the parts of one long property can run side by side.
// Bounded: every job stops after LAB_FUZZ_MINUTES (default 30) minutes, and all at LAB_FUZZ_END (a
// date) if set, with the inputs it got through (fast-check's interruptAfterTimeLimit), reported as
// "cut by the time bound".
// CI runs the same files under vitest with their small default counts; LAB_FUZZ_RUNS only changes
// the count.
//
// Where the time goes (CPU profiles of single properties at 2 000 to 20 000 inputs, plain node):
// fast-check's generators 10 to 30 %; vitest's toEqual a third of a round-trip property (dhcp6,
// ndp), so round trips compare with node's isDeepStrictEqual first; garbage collection about 10 %;
// the decoders themselves 10 to 20 %, a good part of it the stack of every typed error they throw on
// random input; for topology files the YAML library, two thirds of the time. Shrinking costs
// nothing unless a property fails.
import { spawn } from 'node:child_process'
import { rmSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { basename, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const root = fileURLToPath(new URL('..', import.meta.url))
const harness = fileURLToPath(new URL('./fuzz-harness.mjs', import.meta.url))

const files = [
  ['netlink-native', 'packages/netlink-native/test/fuzz.test.ts', 'netlink messages, attributes, nlmsgerr, link/addr/route/neigh/rule/qdisc, events'],
  ['nft', 'packages/nft/test/fuzz.test.ts', 'nf_tables tables, chains, rules, sets, elements, every expression, monitor events'],
  ['dhcp4', 'packages/dhcp4/test/fuzz.test.ts', 'DHCPv4 messages and options, server config files'],
  ['dhcp6', 'packages/dhcp6/test/codec.test.ts', 'DHCPv6 messages, relay messages, options, DUIDs'],
  ['ndp', 'packages/ndp/test/fuzz.test.ts', 'ND messages and options, ICMPv6 in IPv6 packets'],
  ['arp', 'packages/arp/test/fuzz.test.ts', 'ARP frames'],
  ['nanoswitch', 'packages/nanoswitch/test/socks5-fuzz.test.ts', 'SOCKS5 greetings and requests'],
  ['launch', 'packages/launch/test/qmp-fuzz.test.ts', 'QMP lines'],
  ['slots', 'packages/slots/test/cni-fuzz.test.ts', 'CNI plugin stdin (network configs)'],
  ['topology', 'packages/topology/test/topology-fuzz.test.ts', 'topology files (ours and containerlab)'],
]

let runs = '1000000'
const perProject = new Map()
let only
let jobs = Math.min(2, availableParallelism())
let split = 1
let grep
const args = process.argv.slice(2)
for (let i = 0; i < args.length; i++) {
  const arg = args[i]
  if (arg === '--only') only = new Set(args[++i].split(','))
  else if (arg === '--jobs') jobs = Number(args[++i])
  else if (arg === '--split') split = Number(args[++i])
  else if (arg === '--grep') grep = new RegExp(args[++i])
  else if (/^[a-z0-9-]+=\d+$/.test(arg)) perProject.set(arg.split('=')[0], arg.split('=')[1])
  else if (/^\d+$/.test(arg)) runs = arg
  else {
    console.error(`fuzz: unknown argument ${arg} (expected RUNS, PROJECT=RUNS, --only PROJECT,..., --jobs N, --split K or --grep REGEX)`)
    process.exit(2)
  }
}
for (const name of [...perProject.keys(), ...(only ?? [])]) {
  if (!files.some(([project]) => project === name)) {
    console.error(`fuzz: no property file for ${name} (known: ${files.map(([p]) => p).join(', ')})`)
    process.exit(2)
  }
}
if (!(jobs >= 1) || !(split >= 1)) {
  console.error('fuzz: --jobs and --split take a whole number of 1 or more')
  process.exit(2)
}

const minutes = Number(process.env.LAB_FUZZ_MINUTES ?? 30)
// LAB_FUZZ_END (a date, e.g. 2026-12-03T10:50Z): no job runs past it, whatever its own bound.
const end = process.env.LAB_FUZZ_END ? Date.parse(process.env.LAB_FUZZ_END) : Infinity
if (Number.isNaN(end)) {
  console.error(`fuzz: LAB_FUZZ_END ${process.env.LAB_FUZZ_END} is not a date`)
  process.exit(2)
}
const selected = files.filter(([project]) => !only || only.has(project))

// Bundles sit next to their test file (the file reads its testdata relative to import.meta.url).
const bundles = []
const removeBundles = () => {
  for (const b of bundles) rmSync(b, { force: true })
}
process.on('exit', removeBundles)
for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => process.exit(130))

async function bundle(file) {
  const source = join(root, file)
  const out = join(dirname(source), `.fuzz-${process.pid}-${basename(file, '.test.ts')}.mjs`)
  bundles.push(out)
  await build({
    entryPoints: [source],
    outfile: out,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: 'inline',
    logLevel: 'error',
    external: ['fast-check', '@lab/*', '*.node'],
    plugins: [{ name: 'vitest-harness', setup: (b) => b.onResolve({ filter: /^vitest$/ }, () => ({ path: harness, external: true })) }],
    banner: { js: "import { createRequire as __fuzzRequire } from 'node:module'; const require = __fuzzRequire(import.meta.url);" },
    footer: { js: `import { runSelected as __fuzzRun } from ${JSON.stringify(harness)}; await __fuzzRun();` },
  })
  return out
}

/** Runs a bundle with `env`; its RESULT/TESTS line parsed, everything else passed through. */
function runBundle(out, env, label) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [out], { cwd: dirname(out), env: { ...process.env, NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let parsed
    let buffered = ''
    const other = []
    child.stdout.on('data', (chunk) => {
      buffered += chunk
      let nl
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl)
        buffered = buffered.slice(nl + 1)
        const m = /^(RESULT|TESTS) (.*)$/.exec(line)
        if (m) parsed = JSON.parse(m[2])
        else other.push(line)
      }
    })
    child.stderr.on('data', (chunk) => other.push(String(chunk)))
    // The job stops itself at its deadline; this is the backstop if it hangs.
    const guard = setTimeout(() => child.kill('SIGKILL'), (env.LAB_FUZZ_DEADLINE ? Number(env.LAB_FUZZ_DEADLINE) - Date.now() : minutes * 60_000) + 120_000)
    child.on('exit', (code, signal) => {
      clearTimeout(guard)
      if (other.length > 0 && (code !== 0 || !parsed?.ok)) console.log(`fuzz: ${label}: output:\n${other.join('\n').trimEnd()}`)
      resolve({ parsed, code, signal })
    })
  })
}

const jobList = []
const perFile = new Map()
for (const [project, file, what] of selected) {
  const out = await bundle(file)
  const { parsed: names } = await runBundle(out, { LAB_FUZZ_LIST: '1' }, file)
  if (!Array.isArray(names)) {
    console.error(`fuzz: ${file}: could not list its tests`)
    process.exit(1)
  }
  const count = Number(perProject.get(project) ?? runs)
  perFile.set(file, { project, file, what, count, properties: 0, inputs: 0, cpuSeconds: 0, started: undefined, ended: 0, cut: 0, findings: [] })
  names.forEach((name, index) => {
    if (grep && !grep.test(name)) return
    // Parts get disjoint seeds; a single part keeps fast-check's own random seed (printed on a failure).
    for (let part = 0; part < split; part++) {
      const partRuns = Math.floor(count / split) + (part < count % split ? 1 : 0)
      jobList.push({ project, file, out, index, name, part, runs: partRuns, seed: split > 1 ? (Date.now() ^ (index * 7919 + part * 104729)) >>> 0 : undefined })
    }
  })
}
console.log(`fuzz: ${jobList.length} jobs (${selected.length} files), ${jobs} at a time, up to ${minutes} min each`)

let next = 0
async function worker() {
  while (next < jobList.length) {
    const job = jobList[next++]
    const f = perFile.get(job.file)
    const started = Date.now()
    f.started ??= started
    if (started >= end) {
      f.cut++
      console.log(`fuzz: ${job.project}: ${job.name}: not started, LAB_FUZZ_END has passed`)
      continue
    }
    const env = { LAB_FUZZ_RUNS: String(job.runs), LAB_FUZZ_TEST: String(job.index), LAB_FUZZ_DEADLINE: String(Math.min(started + minutes * 60_000, end)) }
    if (job.seed !== undefined) env.LAB_FUZZ_SEED = String(job.seed)
    const label = `${job.project}: ${job.name}${split > 1 ? ` (part ${job.part + 1}/${split})` : ''}`
    const { parsed, code, signal } = await runBundle(job.out, env, label)
    const seconds = (Date.now() - started) / 1000
    f.ended = Math.max(f.ended, Date.now())
    f.cpuSeconds += seconds
    if (!parsed) {
      f.findings.push(`${job.name}: no result (exit ${signal ?? code})`)
      console.log(`fuzz: ${label}: NO RESULT (exit ${signal ?? code}) after ${seconds.toFixed(0)} s`)
      continue
    }
    if (parsed.asserts > 0) f.properties += job.part === 0 ? 1 : 0
    f.inputs += parsed.runs
    if (parsed.interrupted) f.cut++
    if (!parsed.ok) f.findings.push(`${job.name}: ${parsed.error.split('\n').slice(0, 12).join(' / ')}`)
    // Plain tests (golden rows and such) in a property file: only a failure is worth a line.
    if (parsed.asserts === 0 && parsed.ok) continue
    const inputs = `${parsed.runs.toLocaleString('en')} inputs (${parsed.asserts} assert${parsed.asserts === 1 ? '' : 's'})`
    console.log(`fuzz: ${label}: ${parsed.ok ? 'ok' : 'FINDING'}, ${inputs} in ${seconds.toFixed(0)} s${parsed.interrupted ? ', cut by the time bound' : ''}`)
    if (!parsed.ok) console.log(parsed.error)
  }
}
await Promise.all(Array.from({ length: jobs }, () => worker()))

let failed = 0
console.log('\n| package | property file | properties | inputs per property | inputs in all | wall time | job time | result |\n| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |')
for (const f of perFile.values()) {
  const result = f.findings.length > 0 ? `FINDINGS: ${f.findings.join('; ')}` : f.cut > 0 ? `no findings; ${f.cut} job(s) cut by the time bound` : 'no findings'
  if (f.findings.length > 0 || f.cut > 0) failed++
  console.log(`| ${f.project} | ${f.file} | ${f.properties} | ${f.count.toLocaleString('en')} | ${f.inputs.toLocaleString('en')} | ${f.started ? Math.round((f.ended - f.started) / 1000) : 0} s | ${Math.round(f.cpuSeconds)} s | ${result} |`)
}
process.exit(failed > 0 ? 1 : 0)
