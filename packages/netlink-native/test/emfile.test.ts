// Out of file descriptors on purpose: with RLIMIT_NOFILE lowered in a child process, opening a
// socket fails with a SystemError whose code is EMFILE and whose message names the operation, every
// other resource fails the same way, and opening works again once a few fds are closed.
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { hasCommand, run } from '@lab/testkit'

const pkg = fileURLToPath(new URL('..', import.meta.url))

describe.skipIf(!hasCommand('prlimit') || !existsSync(`${pkg}dist/index.js`))('EMFILE (needs prlimit and a build)', () => {
  it('is a typed error naming the operation, for every kind of socket, and recovers', async () => {
    const result = await run(['prlimit', '--nofile=64', process.execPath, `${pkg}testdata/emfile-child.mjs`], { cwd: pkg, allowFailure: true })
    expect(result.code, result.stderr).toBe(0)
    const report = JSON.parse(result.stdout) as { opened: number; name: string; code: string; op: string; message: string; others: Record<string, string>; again: string }
    expect(report.opened).toBeGreaterThan(20)
    expect(report).toMatchObject({ name: 'SystemError', code: 'EMFILE' })
    expect(report.message).toMatch(/^EMFILE: \w/)
    for (const [kind, outcome] of Object.entries(report.others)) expect(outcome, kind).toMatch(/^\w*Error EMFILE EMFILE: \w/)
    expect(report.again).toBe('opened')
  })
})
