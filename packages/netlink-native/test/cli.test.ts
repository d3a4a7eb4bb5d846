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

  it('exits 1 with errno and operation when the kernel refuses, 2 on usage errors', async () => {
    const refused = await labIp(['-n', ns.name, 'link', 'add', 'c0', 'type', 'veth', 'peer', 'c9'])
    expect(refused.code).toBe(1)
    expect(refused.stderr.trim()).toBe('lab-ip: EEXIST: link add c0')
    const usage = await labIp(['-n', ns.name, 'frobnicate'])
    expect(usage.code).toBe(2)
    expect(usage.stderr).toMatch(/unknown object frobnicate/)
    const bad = await labIp(['-n', ns.name, 'addr', 'add', '10.8.0.300/24', 'dev', 'c0'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/address: invalid IP address/)
    expect((await labIp(['--help'])).stdout).toMatch(/^lab-ip:.*\n\nusage:/)
  })
})
