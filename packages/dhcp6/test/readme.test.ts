// The README's first example, run as written in a namespace of the test's own.
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { TestNetns, cleanupAll, isRoot, readmeBlocks, runExample } from '@lab/testkit'
import { waitLinkLocal } from './helpers.js'

const pkg = fileURLToPath(new URL('..', import.meta.url))

describe.skipIf(!isRoot() || !existsSync(`${pkg}dist/index.js`))('README (needs root and a build)', () => {
  afterAll(() => cleanupAll())

  it('the first example gets an address and a prefix with rapid commit in the namespace it names', async () => {
    const ns = await TestNetns.create('d6-readme')
    await ns.exec(['sysctl', '-qw', 'net.ipv6.conf.default.accept_dad=0'])
    await ns.exec(['ip', 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth1'])
    await ns.exec(['ip', 'link', 'set', 'eth0', 'up'])
    await ns.exec(['ip', 'link', 'set', 'eth1', 'up'])
    await waitLinkLocal(ns, 'eth1')
    const example = readmeBlocks(`${pkg}README.md`)[0]!
    const result = await runExample(example.code, { cwd: pkg, replace: { 'lab-demo': ns.name } })
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout.trim()).toBe('REPLY fd00:1::1000 fd00:100::/56')
  })
})
