// What every package's tsup build shares: ESM + CJS with types for Node 20, and the private
// @lab/cli-kit compiled into each CLI (it is never published, so nothing may import it at run time).
import type { Options } from 'tsup'

export const sharedBuild = {
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  noExternal: ['@lab/cli-kit'],
} satisfies Options

/** A package's build: its entry points (the library's index first, then any CLIs). */
export function packageBuild(entry: string[], extra: Options = {}): Options {
  return { ...sharedBuild, entry, ...extra }
}
