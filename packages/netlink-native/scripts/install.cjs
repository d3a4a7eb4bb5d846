#!/usr/bin/env node
'use strict'
// npm install hook: use a prebuild (prebuilds/<platform>-<arch>/) or an existing build when one
// loads; otherwise build from source with cmake-js. node-gyp-build's own bin always runs node-gyp,
// which has no binding.gyp to work from here.
const { spawnSync } = require('node:child_process')
const path = require('node:path')

const root = path.join(__dirname, '..')
const fromSource = process.env.npm_config_build_from_source === 'true'
if (!fromSource) {
  try {
    require('node-gyp-build')(root)
    process.exit(0)
  } catch {
    // No usable binary: build one.
  }
}
const cmakeJs = require.resolve('cmake-js/bin/cmake-js')
const result = spawnSync(process.execPath, [cmakeJs, 'rebuild', '--log-level', 'warn'], { cwd: root, stdio: 'inherit' })
if (result.status !== 0) {
  console.error('@lab/netlink-native: building the addon from source failed; it needs cmake, make and g++ (Debian: apt-get install cmake g++ make)')
  process.exit(result.status ?? 1)
}
