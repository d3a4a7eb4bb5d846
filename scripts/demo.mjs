#!/usr/bin/env node
// `npm run demo`: the main job on built-in defaults: packages/nanoswitch/demo/run.mjs (a switch,
// two VMs and an upstream in throwaway namespaces). Builds the packages first if they are not built.
import { existsSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const needed = ['netlink-native', 'nft', 'dhcp4', 'dhcp6', 'ndp', 'arp', 'supervisor', 'nanoswitch'].map((p) => `${root}packages/${p}/dist/index.js`)
if (needed.some((f) => !existsSync(f))) {
  console.log('lab demo: building the packages first (once)...')
  const build = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] })
  if (build.status !== 0) {
    console.error('lab demo: the build failed (see above); try `npm run build`')
    process.exit(1)
  }
}
const demo = `${root}packages/nanoswitch/demo/run.mjs`
const result = spawnSync(process.execPath, [demo, ...process.argv.slice(2)], { stdio: 'inherit' })
process.exit(result.status ?? 1)
