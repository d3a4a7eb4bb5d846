import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { Daemon, TestNetns, cleanupAll, deferCleanup, hasCommand, isRoot, run, vethPair } from '@lab/testkit'
import { ConfigError, parseConfig } from '../src/index.js'

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url))

describe('configuration file', () => {
  it('accepts the documented shape and names the bad field otherwise', () => {
    const good = parseConfig(JSON.stringify({ interfaces: ['vs'], leaseFile: '/tmp/x', leaseTime: 43200, subnets: [{ subnet: '10.78.0.0/16', range: ['10.78.0.10', '10.78.250.250'], router: '10.78.0.1', dns: ['10.78.0.1'], reservations: [{ mac: '02:00:00:00:00:05', address: '10.78.0.5' }] }] }))
    expect(good.subnets[0]).toMatchObject({ leaseTime: 43200, reservations: { 'mac:02:00:00:00:00:05': '10.78.0.5' } })
    const bad: Array<[unknown, string]> = [
      [{ interfaces: [], subnets: [] }, 'interfaces'],
      [{ interfaces: ['a'], subnets: [{ subnet: '10.0.0.0/8', range: ['10.0.0.1'] }] }, 'subnets[0].range'],
      [{ interfaces: ['a'], subnets: [{ subnet: '10.0.0.0/8', range: ['10.0.0.1', '10.0.0.9'], dns: ['x'] }] }, 'subnets[0].dns'],
      [{ interfaces: ['a'], subnets: [{ subnet: '10.0.0.0/8', range: ['10.0.0.1', '10.0.0.9'], reservations: [{ address: '10.0.0.5' }] }] }, 'subnets[0].reservations[0]'],
    ]
    for (const [config, field] of bad) {
      expect(() => parseConfig(JSON.stringify(config))).toThrow(ConfigError)
      try {
        parseConfig(JSON.stringify(config))
      } catch (e) {
        expect((e as ConfigError).field).toBe(field)
      }
    }
  })
})

describe.skipIf(!isRoot() || !existsSync(cli) || !hasCommand('udhcpc'))('lab-dhcp4 CLI (needs root and a build)', () => {
  afterAll(() => cleanupAll())

  it('serves with quick flags, and lists the lease from the lease file after it stops', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lab-dhcp4-cli-'))
    deferCleanup('lease dir', () => rmSync(dir, { recursive: true, force: true }))
    const leaseFile = join(dir, 'leases.jsonl')
    const sw = await TestNetns.create('d4cli-sw')
    const client = await TestNetns.create('d4cli-c')
    await vethPair({ netns: sw, ifname: 'br0', address: '10.3.0.1/24' }, { netns: client, ifname: 'eth0' })
    const server = await Daemon.start({
      name: 'lab-dhcp4',
      argv: ['node', cli, 'server', '--netns', sw.name, '--interface', 'br0', '--subnet', '10.3.0.0/24', '--range', '10.3.0.50-10.3.0.60', '--router', '10.3.0.1', '--lease-file', leaseFile],
      ready: /"msg":"serving"/,
    })
    const udhcpc = await Daemon.start({ name: 'udhcpc', netns: client.name, argv: ['udhcpc', '-f', '-q', '-i', 'eth0', '-t', '5', '-T', '1', '-n'] })
    await udhcpc.waitFor(/lease of 10\.3\.0\.50 obtained/, 20_000)
    await udhcpc.stop()
    expect(await server.stop()).toBe(0)
    const listed = await run(['node', cli, 'leases', '--lease-file', leaseFile, '--json'])
    expect(JSON.parse(listed.stdout)).toEqual([expect.objectContaining({ address: '10.3.0.50', state: 'bound' })])
    writeFileSync(join(dir, 'bad.json'), JSON.stringify({ interfaces: ['br0'], subnets: [{ subnet: '10.3.0.0/24', range: ['10.3.0.1'] }] }))
    const bad = await run(['node', cli, 'server', '--config', join(dir, 'bad.json')], { allowFailure: true })
    expect(bad.code).toBe(2)
    expect(bad.stderr.trim()).toBe('lab-dhcp4: subnets[0].range: [first, last] addresses')
  })
})
