// A dynamically linked host program inside an image: the binary and every shared library the
// dynamic loader resolves for it (as ldd reports), at the same paths, plus the loader itself.
import { execFileSync } from 'node:child_process'
import { realpathSync } from 'node:fs'
import type { ExtraFile } from './initramfs.js'

/** Parses ldd's output into the library paths it resolved. */
export function parseLdd(output: string): string[] {
  const paths: string[] = []
  for (const line of output.split('\n')) {
    const arrow = /=>\s*(\/\S+)\s+\(/.exec(line)
    const bare = /^\s*(\/\S+)\s+\(/.exec(line)
    if (/=>\s*not found/.test(line)) throw new Error(`shared library missing: ${line.trim()}`)
    const path = arrow?.[1] ?? bare?.[1]
    if (path) paths.push(path)
  }
  return paths
}

/** Image files for `binaries` (placed at `as` or their own path) and the libraries they need. */
export function hostProgramFiles(binaries: ReadonlyArray<string | { source: string; as: string }>): ExtraFile[] {
  const files = new Map<string, ExtraFile>()
  for (const binary of binaries) {
    const source = typeof binary === 'string' ? binary : binary.source
    const target = typeof binary === 'string' ? binary : binary.as
    files.set(target, { path: target, source: realpathSync(source), mode: 0o755 })
    for (const lib of parseLdd(execFileSync('ldd', [source], { encoding: 'utf8' }))) {
      if (!files.has(lib)) files.set(lib, { path: lib, source: realpathSync(lib), mode: 0o755 })
    }
  }
  return [...files.values()]
}
