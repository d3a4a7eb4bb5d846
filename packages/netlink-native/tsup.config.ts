import { defineConfig } from 'tsup'
import { packageBuild } from '../../tsup.shared.js'

export default defineConfig(
  packageBuild(['src/index.ts', 'src/cli.ts'], {
    shims: true,
    // The addon loader stays a CommonJS file beside dist/ so node-gyp-build resolves prebuilds/ from it.
    external: [/binding\.cjs$/],
  }),
)
