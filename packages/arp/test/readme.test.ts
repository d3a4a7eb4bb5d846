// The README's first example, run as written in a namespace of the test's own.
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { TestNetns, cleanupAll, isRoot, readmeBlocks, runExample } from '@lab/testkit'

const pkg = fileURLToPath(new URL('..', import.meta.url))

describe.skipIf(!isRoot() || !existsSync(`${pkg}dist/index.js`))('README (needs root and a build)', () => {
  afterAll(() => cleanupAll())

  it('the first example announces and probes inside the namespace it names', async () => {
    const ns = await TestNetns.create('arp-readme')
    await ns.exec(['ip', 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth1'])
    await ns.exec(['ip', 'link', 'set', 'eth0', 'up'])
    await ns.exec(['ip', 'link', 'set', 'eth1', 'up'])
    const example = readmeBlocks(`${pkg}README.md`)[0]!
    const result = await runExample(example.code, { cwd: pkg, replace: { 'lab-demo': ns.name } })
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout.trim()).toBe('10.0.0.7 is free')
  })
})
