// What every CLI of the repository keeps (CONTRIBUTING.md, "CLIs"): linked by `npm ci` through a
// committed shim, `--help` on stdout ending in an example, no command = help on stderr and exit 2,
// an unknown flag = one line on stderr and exit 2.
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync, readdirSync, realpathSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { run } from '@lab/testkit'

const root = fileURLToPath(new URL('../..', import.meta.url))
const packages = readdirSync(join(root, 'packages')).map((name) => ({ name, dir: join(root, 'packages', name), json: JSON.parse(readFileSync(join(root, 'packages', name, 'package.json'), 'utf8')) as { bin?: Record<string, string> } }))
const clis = packages.flatMap((p) => Object.entries(p.json.bin ?? {}).map(([command, target]) => ({ pkg: p.name, dir: p.dir, command, target })))
// The CNI plugin speaks the CNI protocol (environment + stdin), not a command line.
const commandLines = clis.filter((c) => c.command !== 'lab-slots-cni')
const tracked = new Set(execFileSync('git', ['ls-files', 'packages'], { cwd: root, encoding: 'utf8' }).split('\n'))

describe('every CLI', () => {
  it.each(clis)('$command is a committed shim that npm links', ({ dir, command, target }) => {
    expect(target).toBe(`./bin/${command}.js`)
    const shim = join(dir, 'bin', `${command}.js`)
    expect(tracked.has(shim.slice(root.length))).toBe(true)
    expect(realpathSync(join(root, 'node_modules/.bin', command))).toBe(realpathSync(shim))
  })

  describe.skipIf(!commandLines.every((c) => existsSync(join(c.dir, 'dist'))))('(built)', () => {
    it.each(commandLines)('$command --help ends with an example; no command is exit 2; bad flags are exit 2', async ({ command }) => {
      const bin = join(root, 'node_modules/.bin', command)
      const help = await run([bin, '--help'], { allowFailure: true })
      expect(help.code, help.stderr).toBe(0)
      const lines = help.stdout.trimEnd().split('\n')
      const examples = lines.slice(lines.lastIndexOf('example:') + 1)
      expect(lines).toContain('example:')
      expect(examples.length).toBeGreaterThan(0)
      for (const line of examples) expect(line).toMatch(new RegExp(`^  ${command} `))
      const bare = await run([bin], { allowFailure: true })
      expect(bare.code).toBe(2)
      expect(bare.stdout).toBe('')
      expect(bare.stderr).toContain('usage:')
      const bad = await run([bin, '--no-such-flag'], { allowFailure: true })
      expect(bad.code).toBe(2)
      expect(bad.stderr.trim().split('\n')).toHaveLength(1)
    })
  })
})
