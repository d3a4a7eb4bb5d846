import { defineConfig } from 'tsup'

export default defineConfig({
  entry: ['src/index.ts', 'src/cli.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  shims: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  // The addon loader stays a CommonJS file beside dist/ so node-gyp-build resolves prebuilds/ from it.
  external: [/binding\.cjs$/],
})
