import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TestNetns, cleanupAll, isRoot, run } from '@lab/testkit'

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url))
const labIp = (args: string[]) => run(['node', cli, ...args], { allowFailure: true })

// The CLI is tested as users run it: the built file (npm test builds before testing).
describe.skipIf(!isRoot() || !existsSync(cli))('lab-ip (needs root and a build)', () => {
  let ns: TestNetns
  beforeAll(async () => {
    ns = await TestNetns.create('cli')
  })
  afterAll(() => cleanupAll())

  it('creates, configures and lists like ip, with --json', async () => {
    expect((await labIp(['-n', ns.name, 'link', 'add', 'c0', 'type', 'veth', 'peer', 'c1'])).code).toBe(0)
    expect((await labIp(['-n', ns.name, 'addr', 'add', '10.8.0.1/24', 'dev', 'c0'])).code).toBe(0)
    expect((await labIp(['-n', ns.name, 'link', 'set', 'c0', 'up', 'mtu', '1300'])).code).toBe(0)
    const links = JSON.parse((await labIp(['-n', ns.name, '--json', 'link'])).stdout) as Array<{ name: string; mtu: number; up: boolean }>
    expect(links.find((l) => l.name === 'c0')).toMatchObject({ mtu: 1300, up: true })
    const ip = await ns.ip<Array<{ ifname: string; mtu: number }>>(['link', 'show', 'c0'])
    expect(ip[0]!.mtu).toBe(1300)
    const routes = await labIp(['-n', ns.name, 'route'])
    expect(routes.stdout).toContain('10.8.0.0/24 dev c0')
  })

  it('prints routes as ip -j route does: link names, tables, protocols and scopes by name, in either family', async () => {
    await ns.exec(['ip', 'link', 'set', 'lo', 'up'])
    await ns.exec(['ip', 'route', 'add', '10.9.0.0/16', 'via', '10.8.0.254', 'metric', '7'])
    await ns.exec(['ip', 'route', 'add', '192.0.2.1', 'dev', 'c0', 'table', '100'])
    await ns.exec(['ip', '-6', 'addr', 'add', 'fd08::1/64', 'dev', 'c0', 'nodad'])
    for (const args of [['route'], ['route', 'show', 'table', '100'], ['route', 'show', 'table', 'all'], ['-6', 'route'], ['route', 'show', 'dev', 'c0']]) {
      const ours = await labIp(['-n', ns.name, '--json', ...args])
      expect(ours.code, ours.stderr).toBe(0)
      const ip = await ns.ip<unknown[]>(args)
      expect(JSON.parse(ours.stdout), args.join(' ')).toEqual(ip)
    }
    expect(JSON.parse((await labIp(['-n', ns.name, '--json', 'route'])).stdout)).toContainEqual(expect.objectContaining({ dst: '10.8.0.0/24', dev: 'c0' }))
  })

  it('shows IPv4 rules by default and IPv6 rules with -6, with ip -j rule\'s fields', async () => {
    await ns.exec(['ip', 'rule', 'add', 'from', '10.0.0.0/8', 'fwmark', '0x5', 'table', '100', 'pref', '100'])
    await ns.exec(['ip', 'rule', 'add', 'to', '10.1.2.3', 'lookup', '101', 'pref', '101'])
    await ns.exec(['ip', 'rule', 'add', 'iif', 'c0', 'fwmark', '0x10/0xff', 'blackhole', 'pref', '102'])
    await ns.exec(['ip', '-6', 'rule', 'add', 'from', 'fd00::/8', 'table', '200', 'pref', '200'])
    for (const family of [[], ['-4'], ['-6']]) {
      const ours = await labIp(['-n', ns.name, ...family, '--json', 'rule'])
      expect(ours.code, ours.stderr).toBe(0)
      expect(JSON.parse(ours.stdout), family.join('')).toEqual(await ns.ip<unknown[]>([...family, 'rule']))
    }
    const text = await labIp(['-n', ns.name, 'rule'])
    expect(text.stdout.trim()).toBe((await ns.exec(['ip', 'rule'])).stdout.trim())
    expect((await labIp(['-n', ns.name, '-6', 'rule'])).stdout).toContain('200:\tfrom fd00::/8 lookup 200')
  })

  it('link add takes ip link add\'s creation options for the link and its peer (index, numtxqueues, numrxqueues, mtu, address), read back with ip -j', async () => {
    const made = await labIp(['-n', ns.name, 'link', 'add', 'name', 'q0', 'index', '301', 'numtxqueues', '3', 'numrxqueues', '2', 'mtu', '1400', 'address', '02:00:00:00:03:01', 'type', 'veth', 'peer', 'name', 'q1', 'index', '302', 'numtxqueues', '4'])
    expect(made.code, made.stderr).toBe(0)
    const [q0] = await ns.ip<Array<Record<string, unknown>>>(['-d', 'link', 'show', 'q0'])
    const [q1] = await ns.ip<Array<Record<string, unknown>>>(['-d', 'link', 'show', 'q1'])
    expect(q0).toMatchObject({ ifindex: 301, mtu: 1400, address: '02:00:00:00:03:01', num_tx_queues: 3, num_rx_queues: 2 })
    // The peer's own options; what it does not name (MTU, rx queues) it takes from this end, as the library documents.
    expect(q1).toMatchObject({ ifindex: 302, mtu: 1400, num_tx_queues: 4, num_rx_queues: 2 })
    const bad = await labIp(['-n', ns.name, 'link', 'add', 'q2', 'index', 'x', 'type', 'veth', 'peer', 'q3'])
    expect(bad.code).toBe(2)
    expect(bad.stderr.trim()).toBe('lab-ip: index: expected a whole number, got "x" (see lab-ip --help)')
    await ns.exec(['ip', 'link', 'del', 'q0'])
  })

  it('exits 1 with errno and operation when the kernel refuses, 2 on usage errors, with one stderr line', async () => {
    const refused = await labIp(['-n', ns.name, 'link', 'add', 'c0', 'type', 'veth', 'peer', 'c9'])
    expect(refused.code).toBe(1)
    expect(refused.stderr.trim()).toBe('lab-ip: EEXIST: link add c0')
    const usage = await labIp(['-n', ns.name, 'frobnicate'])
    expect(usage.code).toBe(2)
    expect(usage.stderr.trim()).toBe('lab-ip: unknown command "frobnicate" (see lab-ip --help)')
    const verb = await labIp(['-n', ns.name, 'route', 'ad', '10.0.0.0/8', 'dev', 'c0'])
    expect(verb.code).toBe(2)
    expect(verb.stderr.trim()).toBe('lab-ip: unknown route command "ad" (did you mean "add"?) (see lab-ip --help)')
    const bad = await labIp(['-n', ns.name, 'addr', 'add', '10.8.0.300/24', 'dev', 'c0'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toBe('lab-ip: address: invalid IP address "10.8.0.300" (see lab-ip --help)\n')
    const extra = await labIp(['-n', ns.name, 'link', 'del', 'c0', 'now'])
    expect(extra.code).toBe(2)
    expect(extra.stderr.trim()).toBe('lab-ip: unexpected argument "now" (see lab-ip --help)')
    const both = await labIp(['-n', ns.name, '-4', '-6', 'rule'])
    expect(both.code).toBe(2)
    const help = await labIp(['--help'])
    expect(help.code).toBe(0)
    expect(help.stdout).toMatch(/^lab-ip:.*\n\nusage:/)
    expect(help.stdout.trimEnd().split('\n').at(-1)).toMatch(/^  lab-ip -n sw1 /)
  })

  it('prints its help to stderr and exits 2 when given no command', async () => {
    const bare = await labIp([])
    expect(bare.code).toBe(2)
    expect(bare.stdout).toBe('')
    expect(bare.stderr).toMatch(/^lab-ip:.*\n\nusage:\n {2}lab-ip link /)
  })

  it('adds and deletes named namespaces that ip netns sees', async () => {
    const name = `${ns.name}-x`
    expect((await labIp(['netns', 'add', name])).code).toBe(0)
    try {
      expect((await run(['ip', 'netns', 'list'])).stdout).toContain(name)
      expect(JSON.parse((await labIp(['--json', 'netns'])).stdout)).toContain(name)
    } finally {
      expect((await labIp(['netns', 'del', name])).code).toBe(0)
    }
    const gone = await labIp(['netns', 'del', name])
    expect(gone.code).toBe(1)
    expect(gone.stderr.trim()).toBe(`lab-ip: ENOENT: netns del ${name}`)
  })
})
