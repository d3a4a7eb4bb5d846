#!/usr/bin/env node
// `npm run build:native`: the addon is committed prebuilt for linux-x64 (prebuilds/), so a machine
// with only Node.js can install and build the workspace. It is rebuilt (cmake-js through
// prebuildify, which needs cmake, make and g++) only when the C++ sources differ from those it was
// built from, recorded as a hash beside it; LAB_BUILD_NATIVE=1 forces a rebuild.
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const prebuildDir = join(root, 'prebuilds', `${process.platform}-${process.arch}`)
const hashFile = join(prebuildDir, 'sources.sha256')

/** A hash over the addon's sources: every file under src/native plus CMakeLists.txt, in name order. */
export function sourcesHash() {
  const hash = createHash('sha256')
  const files = readdirSync(join(root, 'src/native')).sort().map((f) => join('src/native', f))
  for (const file of [...files, 'CMakeLists.txt']) {
    hash.update(`${file}\0`)
    hash.update(readFileSync(join(root, file)))
  }
  return hash.digest('hex')
}

const isMain = process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]
if (isMain) {
  const current = sourcesHash()
  const recorded = existsSync(hashFile) ? readFileSync(hashFile, 'utf8').trim() : undefined
  if (process.env.LAB_BUILD_NATIVE !== '1' && recorded === current && existsSync(join(prebuildDir, '@lab+netlink-native.node'))) {
    console.log('netlink-native: the prebuilt addon matches the sources; not rebuilding (LAB_BUILD_NATIVE=1 forces it)')
    process.exit(0)
  }
  const prebuildify = join(root, 'node_modules/.bin/prebuildify')
  const bin = [prebuildify, join(root, '../../node_modules/.bin/prebuildify')].find(existsSync) ?? 'prebuildify'
  const run = spawnSync(bin, ['--napi', '--strip', '--node-gyp', './scripts/node-gyp-shim.sh'], { cwd: root, stdio: 'inherit' })
  if (run.status !== 0) {
    console.error('netlink-native: building the addon failed; it needs cmake, make and g++ (Debian: apt-get install cmake g++ make)')
    process.exit(run.status ?? 1)
  }
  writeFileSync(hashFile, `${current}\n`)
}
