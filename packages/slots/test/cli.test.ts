import { existsSync, readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TestNetns, cleanupAll, deferCleanup, isRoot, run, runSync, vethPair } from '@lab/testkit'

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url))

describe.skipIf(!isRoot() || !existsSync(cli))('lab-slots CLI (needs root and a build)', () => {
  let host: TestNetns
  let args: string[]
  beforeAll(async () => {
    host = await TestNetns.create('slcli')
    const net = await TestNetns.create('slcli-net')
    await vethPair({ netns: host, ifname: 'up0', address: '192.0.2.1/24' }, { netns: net, ifname: 'w0', address: '192.0.2.2/24' })
    const prefix = `${host.name}-s`
    deferCleanup('cli slot namespaces', () => {
      for (const n of readdirSync('/run/netns')) if (n.startsWith(prefix)) runSync(['ip', 'netns', 'del', n], true)
    })
    args = ['--host-netns', host.name, '--uplink', 'up0', '--netns-prefix', prefix, '--veth-prefix', 'lc']
  })
  afterAll(() => cleanupAll())

  const labSlots = (...a: string[]) => run(['node', cli, ...a], { allowFailure: true })

  it('creates, lists and destroys slots, with --json and exit codes', async () => {
    const created = await labSlots('create', '--json', ...args)
    expect(created.code, created.stderr).toBe(0)
    expect(JSON.parse(created.stdout)).toMatchObject({ index: 1, vethName: 'lc1', guestIP: '169.254.0.21', hostReachableIP: '10.11.0.1' })
    const list = await labSlots('list', '--json', ...args)
    expect(JSON.parse(list.stdout).map((s: { index: number }) => s.index)).toEqual([1])
    expect((await labSlots('destroy', '1', ...args)).code).toBe(0)
    expect(JSON.parse((await labSlots('list', '--json', ...args)).stdout)).toEqual([])
    const usage = await labSlots('frob', ...args)
    expect(usage.code).toBe(2)
    expect(usage.stderr).toMatch(/unknown command frob/)
    const refused = await labSlots('create', '--host-netns', host.name, '--uplink', 'nope0')
    expect(refused.code).toBe(1)
    expect(refused.stderr).toMatch(/^lab-slots: ENODEV: link get nope0/)
    expect((await labSlots('--help')).stdout).toMatch(/^lab-slots: per-sandbox network slots/)
  })
})
