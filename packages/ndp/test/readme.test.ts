// The README's examples, run as written (the first in a namespace of the test's own).
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { TestNetns, cleanupAll, isRoot, readmeBlocks, runExample } from '@lab/testkit'

const pkg = fileURLToPath(new URL('..', import.meta.url))
const blocks = () => readmeBlocks(`${pkg}README.md`).filter((b) => b.lang === 'ts')

describe.skipIf(!existsSync(`${pkg}dist/index.js`))('README (needs a build)', () => {
  afterAll(() => cleanupAll())

  it.skipIf(!isRoot())('the first example advertises in the namespace it names and hears the RA', async () => {
    const ns = await TestNetns.create('ndp-readme')
    await ns.exec(['ip', 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth1'])
    await ns.exec(['ip', 'link', 'set', 'eth0', 'up'])
    await ns.exec(['ip', 'link', 'set', 'eth1', 'up'])
    const result = await runExample(blocks()[0]!.code, { cwd: pkg, replace: { 'lab-demo': ns.name } })
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout.trim()).toBe('RA from fe80.., hop limit 255, lifetime 1800s, prefix fd00:1::/64')
  })

  it('the codec example prints what its comments say', async () => {
    const result = await runExample(blocks()[1]!.code, { cwd: pkg })
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout.trim().split('\n')).toEqual(['router solicitation; source link-address 02:00:00:00:00:02', '85000000000000000101020000000002'])
  })
})
