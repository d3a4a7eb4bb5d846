// The repository carries the linux-x64 addon prebuilt, so a clone installs without a compiler. It
// must be the build of the sources beside it: build-native.mjs records their hash when it builds.
import { existsSync, readFileSync } from 'node:fs'
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
// @ts-expect-error: a plain .mjs build script without types
import { sourcesHash } from '../scripts/build-native.mjs'

const root = fileURLToPath(new URL('..', import.meta.url))

describe('the committed prebuild', () => {
  it('was built from the C++ sources in the tree', () => {
    const recorded = readFileSync(`${root}prebuilds/linux-x64/sources.sha256`, 'utf8').trim()
    expect(recorded, 'src/native changed without a rebuild: run `npm run build -w @lab/netlink-native` and commit prebuilds/').toBe(sourcesHash())
  })

  it('is tracked by git, so a clone has it', () => {
    const tracked = execFileSync('git', ['ls-files', 'prebuilds/linux-x64'], { cwd: root, encoding: 'utf8' })
    expect(tracked).toContain('@lab+netlink-native.node')
    expect(tracked).toContain('sources.sha256')
    expect(existsSync(`${root}prebuilds/linux-x64/@lab+netlink-native.node`)).toBe(true)
  })
})
