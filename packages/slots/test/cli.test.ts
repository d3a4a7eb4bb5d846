import { existsSync, readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TestNetns, cleanupAll, deferCleanup, isRoot, run, runSync, vethPair } from '@lab/testkit'
import { Slots } from '../src/index.js'

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

  it('adds, lists and removes slots, with --json and exit codes 0/1/2', async () => {
    const added = await labSlots('add', '--json', ...args)
    expect(added.code, added.stderr).toBe(0)
    expect(JSON.parse(added.stdout)).toMatchObject({ index: 1, vethName: 'lc1', guestIP: '169.254.0.21', hostReachableIP: '10.11.0.1' })
    const list = await labSlots('list', '--json', ...args)
    expect(JSON.parse(list.stdout).map((s: { index: number }) => s.index)).toEqual([1])
    expect((await labSlots('del', '1', ...args)).code).toBe(0)
    expect(JSON.parse((await labSlots('list', '--json', ...args)).stdout)).toEqual([])
    // del of a slot that is not there fails; destroy of one does not.
    const absent = await labSlots('del', '1', ...args)
    expect(absent.code).toBe(1)
    expect(absent.stderr).toBe('lab-slots: ENOENT: slot del 1 (no such slot)\n')
    expect((await labSlots('destroy', '1', ...args)).code).toBe(0)
    expect((await labSlots('add', ...args)).code).toBe(0)
    expect((await labSlots('destroy', '--all', ...args)).code).toBe(0)
    expect(JSON.parse((await labSlots('list', '--json', ...args)).stdout)).toEqual([])
    const usage = await labSlots('frob', ...args)
    expect(usage.code).toBe(2)
    expect(usage.stderr).toMatch(/unknown command "frob"/)
    expect((await labSlots('del', 'x', ...args)).code).toBe(2)
    expect((await labSlots()).code).toBe(2)
    const refused = await labSlots('add', '--host-netns', host.name, '--uplink', 'nope0')
    expect(refused.code).toBe(1)
    expect(refused.stderr).toMatch(/^lab-slots: ENODEV: link get nope0/)
    const help = (await labSlots('--help')).stdout
    expect(help).toMatch(/^lab-slots: per-sandbox network slots/)
    expect(help.trimEnd()).toMatch(/example:\n  lab-slots add --host-netns lab-host --uplink uplink0 --json$/)
  })
  it('--ipv6 gives new slots IPv6, shown by add and list', async () => {
    const added = await labSlots('add', '--ipv6', '--json', ...args)
    expect(added.code, added.stderr).toBe(0)
    expect(JSON.parse(added.stdout)).toMatchObject({ index: 1, ipv6: { hostReachableIP: 'fd0a:b3ec:11::1', guestIP: 'fd0a:b3ec:fc::2', peerAddress: 'fd0a:b3ec:12::3' } })
    expect((await labSlots('add', '--ipv6', ...args)).stdout).toBe(
      'slot 2: netns ' + `${host.name}-s2` + ', guest 169.254.0.21 and fd0a:b3ec:fc::2 (02:fc:00:00:00:05) on tap0, reachable from the host at 10.11.0.2 and fd0a:b3ec:11::2\n',
    )
    // Listing needs no --ipv6: the slots' IPv6 is found on their veths.
    expect((await labSlots('list', ...args)).stdout).toBe(`1\t${host.name}-s1\tlc1\t10.11.0.1 -> 169.254.0.21\tfd0a:b3ec:11::1 -> fd0a:b3ec:fc::2\n2\t${host.name}-s2\tlc2\t10.11.0.2 -> 169.254.0.21\tfd0a:b3ec:11::2 -> fd0a:b3ec:fc::2\n`)
    expect((await labSlots('destroy', '--all', ...args)).code).toBe(0)
    expect((await host.exec(['nft', 'list', 'set', 'ip6', 'lab-slots', 'slot_sources'])).stdout).not.toContain('fd0a:b3ec:')
  })

  it('pool shows the idle pool slots another process left, and listing leaves them alone', async () => {
    const owner = await Slots.open({ hostNetns: host.name, uplink: 'up0', netnsPrefix: `${host.name}-s`, vethPrefix: 'lc', pool: { size: 2 } })
    while (owner.status().pool!.idle < 2) await new Promise((r) => setTimeout(r, 20))
    const taken = await owner.acquire()
    await owner.close() // stops refilling: one idle, one in use
    expect((await labSlots('list', ...args)).code).toBe(0)
    const shown = await labSlots('pool', '--json', ...args)
    expect(shown.code, shown.stderr).toBe(0)
    const status = JSON.parse(shown.stdout) as { slots: number; idle: number[]; inUse: number[] }
    expect(status).toMatchObject({ slots: 2, inUse: [taken.index] })
    expect(status.idle.length).toBe(1)
    expect((await labSlots('pool', ...args)).stdout).toMatch(/^2 slots \(of 4000\): 1 idle in a pool \(\d+\), 1 in use \(\d+\)\n$/)
    expect((await labSlots('destroy', '--all', ...args)).code).toBe(0)
    expect(JSON.parse((await labSlots('list', '--json', ...args)).stdout)).toEqual([])
  })
})
