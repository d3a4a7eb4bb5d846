// The README's client example, run as written in a namespace of the test's own: our server on
// eth0, our client on eth1, an address and a delegated prefix, then a Release.
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { TestNetns, cleanupAll, isRoot, readmeBlocks, runExample } from '@lab/testkit'

const pkg = fileURLToPath(new URL('..', import.meta.url))

describe.skipIf(!isRoot() || !existsSync(`${pkg}dist/index.js`))('README client example (needs root and a build)', () => {
  afterAll(() => cleanupAll())

  it('gets an address and a prefix from our server and releases them', async () => {
    const ns = await TestNetns.create('d6c-readme')
    // As the first example's comment says: no DAD for the server's side; the client waits out its own.
    await ns.exec(['sysctl', '-qw', 'net.ipv6.conf.default.accept_dad=0'])
    await ns.exec(['ip', 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth1'])
    await ns.exec(['ip', 'link', 'set', 'eth0', 'up'])
    await ns.exec(['ip', 'link', 'set', 'eth1', 'up'])
    const example = readmeBlocks(`${pkg}README.md`).find((b) => b.code.includes('DhcpV6Client.start'))!
    expect(example, 'a README block that starts a DhcpV6Client').toBeDefined()
    const result = await runExample(example.code, { cwd: pkg, replace: { 'lab-demo': ns.name } })
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout.trim()).toBe('fd00:1::1000 fd00:100::/56 fd00:1::53')
    // release() took the address off again.
    const addrs = await ns.ip<Array<{ addr_info: Array<{ local: string }> }>>(['-6', 'addr', 'show', 'dev', 'eth1'])
    expect(addrs.flatMap((l) => l.addr_info.map((a) => a.local))).not.toContain('fd00:1::1000')
    expect(existsSync(`/tmp/${ns.name}-resolv.conf`)).toBe(false)
  })
})
