#!/usr/bin/env node
// `npm run fuzz [-- RUNS] [-- PROJECT=RUNS ...] [-- --only PROJECT,...]`: the long property-test
// campaign, outside CI. Every decoder's property tests run with RUNS inputs per property (default
// 1 000 000; PROJECT=RUNS sets one file's count); prints the time per file and a summary table.
// Bounded: each file stops after LAB_FUZZ_MINUTES (default 30) minutes, which counts as a failure.
import { spawnSync } from 'node:child_process'

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
const args = process.argv.slice(2)
for (let i = 0; i < args.length; i++) {
  const arg = args[i]
  if (arg === '--only') only = new Set(args[++i].split(','))
  else if (/^[a-z0-9-]+=\d+$/.test(arg)) perProject.set(arg.split('=')[0], arg.split('=')[1])
  else if (/^\d+$/.test(arg)) runs = arg
  else {
    console.error(`fuzz: unknown argument ${arg} (expected RUNS, PROJECT=RUNS or --only PROJECT,...)`)
    process.exit(2)
  }
}
for (const name of [...perProject.keys(), ...(only ?? [])]) {
  if (!files.some(([project]) => project === name)) {
    console.error(`fuzz: no property file for ${name} (known: ${files.map(([p]) => p).join(', ')})`)
    process.exit(2)
  }
}

const minutes = Number(process.env.LAB_FUZZ_MINUTES ?? 30)
const summary = []
let failed = 0
for (const [project, file] of files) {
  if (only && !only.has(project)) continue
  const count = perProject.get(project) ?? runs
  const started = Date.now()
  const run = spawnSync('npx', ['vitest', 'run', '--project', project, file, `--testTimeout=${minutes * 60_000}`], {
    stdio: 'inherit',
    env: { ...process.env, LAB_FUZZ_RUNS: count, NO_COLOR: '1' },
    timeout: minutes * 60_000 + 60_000,
  })
  const seconds = Math.round((Date.now() - started) / 1000)
  const result = run.status === 0 ? 'no findings' : run.signal ? `stopped (${run.signal}) after the time bound` : 'FINDINGS (see above)'
  console.log(`fuzz: ${file}: ${result} with ${count} inputs per property in ${seconds} s`)
  summary.push({ project, file, count, seconds, result })
  if (run.status !== 0) failed++
}
console.log('\n| package | property file | inputs per property | time | result |\n| --- | --- | ---: | ---: | --- |')
for (const s of summary) console.log(`| ${s.project} | ${s.file} | ${Number(s.count).toLocaleString('en')} | ${s.seconds} s | ${s.result} |`)
process.exit(failed > 0 ? 1 : 0)
