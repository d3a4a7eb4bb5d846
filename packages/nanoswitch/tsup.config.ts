import { copyFileSync, cpSync, mkdirSync } from 'node:fs'
import { createRequire } from 'node:module'
import { defineConfig } from 'tsup'
import { packageBuild } from '../../tsup.shared.js'

const ADDON = 'lab_netlink_native.node'

export default defineConfig([
  packageBuild(['src/index.ts', 'src/cli.ts']),
  {
    // The self-contained switch for a VM image: bundle/nanoswitch.mjs plus the addon beside it,
    // run with `node nanoswitch.mjs run ...`; nothing else needed.
    entry: { nanoswitch: 'src/cli.ts' },
    outDir: 'bundle',
    format: ['esm'],
    outExtension: () => ({ js: '.mjs' }),
    platform: 'node',
    target: 'node20',
    clean: true,
    noExternal: [/.*/],
    define: { __LAB_BUNDLED_ADDON__: JSON.stringify(ADDON) },
    // CommonJS dependencies (pino) call require(); give the ES module one.
    banner: { js: "import { createRequire as __labCreateRequire } from 'node:module'; const require = __labCreateRequire(import.meta.url);" },
    async onSuccess() {
      const require = createRequire(import.meta.url)
      const addonDir = require.resolve('@lab/netlink-native/package.json').replace(/package\.json$/, '')
      const nodeGypBuild = require(require.resolve('node-gyp-build', { paths: [addonDir] })) as { path(dir: string): string }
      mkdirSync('bundle', { recursive: true })
      copyFileSync(nodeGypBuild.path(addonDir), `bundle/${ADDON}`)
      // The status page (--http) beside the bundle, where it looks for it.
      cpSync('web', 'bundle/web', { recursive: true })
    },
  },
])
