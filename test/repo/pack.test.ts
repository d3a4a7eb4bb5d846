// Every published package installs and works on its own from `npm pack`, as a user would get it
// from the registry: all tarballs installed together in an empty project outside the monorepo,
// each imported as ESM and as CommonJS, each CLI answering --help.
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { run } from '@lab/testkit'

const root = fileURLToPath(new URL('../..', import.meta.url))
interface Manifest {
  name: string
  private?: boolean
  bin?: Record<string, string>
}
const published = readdirSync(join(root, 'packages'))
  .map((dir) => ({ dir: join(root, 'packages', dir), json: JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8')) as Manifest }))
  .filter((p) => !p.json.private)
const built = published.every((p) => existsSync(join(p.dir, 'dist')))

describe.skipIf(!built)('npm pack (after a build)', () => {
  const work = mkdtempSync(join(tmpdir(), 'lab-pack-'))
  afterAll(() => rmSync(work, { recursive: true, force: true }))

  it('installs every published package together from its tarball; each imports as ESM and CJS and its CLIs answer --help', { timeout: 180_000 }, async () => {
    const tarballs = join(work, 'tarballs')
    const project = join(work, 'project')
    execFileSync('mkdir', ['-p', tarballs, project])
    for (const p of published) await run(['npm', 'pack', '--silent', '--pack-destination', tarballs], { cwd: p.dir })
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'lab-pack-check', private: true, type: 'module' }))
    const files = readdirSync(tarballs).map((f) => join(tarballs, f))
    expect(files).toHaveLength(published.length)
    await run(['npm', 'install', '--no-audit', '--no-fund', '--prefer-offline', ...files], { cwd: project })
    for (const p of published) {
      const esm = await run([process.execPath, '--input-type=module', '-e', `const m = await import(${JSON.stringify(p.json.name)}); if (Object.keys(m).length === 0) process.exit(3)`], { cwd: project, allowFailure: true })
      expect(esm.code, `${p.json.name} as ESM: ${esm.stderr}`).toBe(0)
      const cjs = await run([process.execPath, '-e', `const m = require(${JSON.stringify(p.json.name)}); if (Object.keys(m).length === 0) process.exit(3)`], { cwd: project, allowFailure: true })
      expect(cjs.code, `${p.json.name} as CJS: ${cjs.stderr}`).toBe(0)
      for (const command of Object.keys(p.json.bin ?? {})) {
        if (command === 'lab-slots-cni') continue // speaks CNI (environment + stdin), not flags
        const help = await run([join(project, 'node_modules/.bin', command), '--help'], { cwd: project, allowFailure: true })
        expect(help.code, `${command} --help: ${help.stderr}`).toBe(0)
      }
    }
    // The CLI kit is compiled into the CLIs: nothing installed depends on the private package.
    expect(existsSync(join(project, 'node_modules/@lab/cli-kit'))).toBe(false)
  })
})
