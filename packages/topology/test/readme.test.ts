// The README's program example, run as written (with a lab name of the test's own), and its
// printed output compared with what the README says it prints.
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { deferCleanup, isRoot, readmeBlocks, runExample, runSync } from '@lab/testkit'

const pkg = fileURLToPath(new URL('..', import.meta.url))

describe.skipIf(!isRoot() || !existsSync(`${pkg}dist/index.js`))('README (needs root and a build)', () => {
  const runDir = mkdtempSync(join(tmpdir(), 'lab-readme-'))
  const name = `r${(process.pid % 10000).toString(36)}`
  const undo = deferCleanup(`lab ${name}`, () => runSync([process.execPath, `${pkg}bin/lab.js`, 'down', name], true))
  afterAll(() => {
    process.env.LAB_RUN_DIR = runDir
    undo()
    delete process.env.LAB_RUN_DIR
    rmSync(runDir, { recursive: true, force: true })
  })

  it('the program example builds, reads, converges and removes a lab, printing what the README shows', async () => {
    const blocks = readmeBlocks(`${pkg}README.md`)
    const example = blocks.find((b) => b.lang === 'js')!
    const printed = blocks[blocks.indexOf(example) + 1]!
    process.env.LAB_RUN_DIR = runDir
    try {
      const result = await runExample(example.code, { cwd: pkg, replace: { demo: name } })
      expect(result.code, result.stderr).toBe(0)
      expect(result.stdout.trim()).toBe(printed.code.trim())
    } finally {
      delete process.env.LAB_RUN_DIR
    }
    expect(runSync(['ip', 'netns', 'list'])).not.toMatch(new RegExp(`^${name}-`, 'm'))
  })
})
