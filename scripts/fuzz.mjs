#!/usr/bin/env node
// `npm run fuzz [-- RUNS]`: the long property-test campaign, outside CI. Every decoder's property
// tests run with RUNS inputs each (default 1 000 000); prints the time per file. Bounded: each file
// stops after LAB_FUZZ_MINUTES (default 30) minutes.
import { spawnSync } from 'node:child_process'

const runs = process.argv[2] ?? '1000000'
const minutes = Number(process.env.LAB_FUZZ_MINUTES ?? 30)
const files = [
  ['netlink-native', 'packages/netlink-native/test/fuzz.test.ts'],
  ['nft', 'packages/nft/test/fuzz.test.ts'],
  ['dhcp4', 'packages/dhcp4/test/fuzz.test.ts'],
  ['arp', 'packages/arp/test/fuzz.test.ts'],
  ['nanoswitch', 'packages/nanoswitch/test/socks5-fuzz.test.ts'],
]
let failed = 0
for (const [project, file] of files) {
  const started = Date.now()
  const run = spawnSync('npx', ['vitest', 'run', '--project', project, file, `--testTimeout=${minutes * 60_000}`], {
    stdio: 'inherit',
    env: { ...process.env, LAB_FUZZ_RUNS: runs, NO_COLOR: '1' },
    timeout: minutes * 60_000 + 60_000,
  })
  const seconds = ((Date.now() - started) / 1000).toFixed(0)
  console.log(`fuzz: ${file}: ${run.status === 0 ? 'no findings' : 'FINDINGS (see above)'} with ${runs} inputs per property in ${seconds} s`)
  if (run.status !== 0) failed++
}
process.exit(failed > 0 ? 1 : 0)
