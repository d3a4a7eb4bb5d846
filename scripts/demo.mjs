#!/usr/bin/env node
// `npm run demo`: the main job on built-in defaults. It runs the nanoswitch demo once that package
// provides one (packages/nanoswitch/demo/run.mjs); until then it says what the demo will be.
import { existsSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const demo = fileURLToPath(new URL('../packages/nanoswitch/demo/run.mjs', import.meta.url))
if (existsSync(demo)) {
  const result = spawnSync(process.execPath, [demo, ...process.argv.slice(2)], { stdio: 'inherit' })
  process.exit(result.status ?? 1)
}
console.log(`lab demo: not built yet.
When @lab/nanoswitch lands, this command will create throwaway network namespaces, start a
nanoswitch (bridge + DHCP server + NAT) in one of them, attach two "VMs" (namespaces running a DHCP
client), show their leases, ping between them and through the switch, and remove everything.`)
