import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { Daemon, TestNetns, cleanupAll, deferCleanup, hasCommand, isRoot, run, vethPair } from '@lab/testkit'
import { ConfigError, parseConfig } from '../src/index.js'
import { network, ours } from './helpers/servers.js'

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url))

describe('configuration file', () => {
  it('accepts the documented shape, reservations as the JS API takes them or as a list', () => {
    const subnet = { subnet: '10.78.0.0/16', range: ['10.78.0.10', '10.78.250.250'], router: '10.78.0.1', dns: ['10.78.0.1'] }
    const listed = parseConfig(JSON.stringify({ interface: ['vs'], leaseFile: '/tmp/x', leaseTime: 43200, subnets: [{ ...subnet, reservations: [{ mac: '02:00:00:00:00:05', address: '10.78.0.5' }, { clientId: '01:02:00:00:00:00:06', address: '10.78.0.6' }] }] }))
    expect(listed.subnets[0]).toMatchObject({ leaseTime: 43200, reservations: { 'mac:02:00:00:00:00:05': '10.78.0.5', 'id:01020000000006': '10.78.0.6' } })
    const keyed = parseConfig(JSON.stringify({ interface: 'vs', subnets: [{ ...subnet, reservations: { '02:00:00:00:00:05': '10.78.0.5', 'id:01:02:00:00:00:00:06': '10.78.0.6' } }] }))
    expect(keyed).toMatchObject({ interface: ['vs'], subnets: [{ reservations: { 'mac:02:00:00:00:00:05': '10.78.0.5', 'id:01020000000006': '10.78.0.6' } }] })
  })

  it.each([
    [{ interface: [], subnets: [] }, 'interface', 'interface: expected an interface name or a non-empty list of them'],
    [{ interface: 'a', subnets: [{ subnet: '10.0.0.0/8', range: ['10.0.0.1'] }] }, 'subnets[0].range', 'subnets[0].range: expected [first, last] addresses'],
    [{ interface: 'a', subnets: [{ subnet: '10.0.0.0/8', range: ['10.0.0.1', '10.0.0.9'], dns: ['x'] }] }, 'subnets[0].dns[0]', 'subnets[0].dns[0]: expected an IPv4 address, got "x"'],
    [{ interface: 'a', subnets: [{ subnet: '10.0.0.0/8', range: ['10.0.0.1', '10.0.0.9'], router: '010.0.0.1' }] }, 'subnets[0].router', 'subnets[0].router: expected an IPv4 address, got "010.0.0.1"'],
    [{ interface: 'a', subnets: [{ subnet: '10.0.0.0/8', range: ['10.0.0.1', '10.0.0.9'], reservations: [{ address: '10.0.0.5' }] }] }, 'subnets[0].reservations[0]', 'subnets[0].reservations[0]: needs mac or clientId'],
    [{ interface: 'a', subnets: [{ subnet: '10.0.0.0/24', range: ['10.0.0.1', '10.0.1.9'] }] }, 'subnets[0].range', 'subnets[0].range: 10.0.0.1-10.0.1.9 is not inside 10.0.0.0/24'],
    [{ interface: 'a', subnet: [] }, '', 'unknown key "subnet", did you mean "subnets"?'],
    [{ interfaces: ['a'], subnets: [] }, '', 'unknown key "interfaces", did you mean "interface"?'],
    [{ interface: 'a', subnets: [{ subnet: '10.0.0.0/8', rnage: ['10.0.0.1', '10.0.0.9'] }] }, 'subnets[0]', 'subnets[0]: unknown key "rnage", did you mean "range"?'],
    [{ interface: 'a', subnets: [{ subnet: '10.0.0.0/8', range: ['10.0.0.1', '10.0.0.9'], leasetime: 60 }] }, 'subnets[0]', 'subnets[0]: unknown key "leasetime", did you mean "leaseTime"?'],
    [{ interface: 'a', subnets: [{ subnet: '10.0.0.0/8', range: ['10.0.0.1', '10.0.0.9'], reservations: { '02:00:00:00:00:zz': '10.0.0.5' } }] }, 'subnets[0].reservations["02:00:00:00:00:zz"]', /^subnets\[0\]\.reservations\["02:00:00:00:00:zz"\]: expected a MAC address/],
  ])('names the bad field: %j', (config, field, message) => {
    const error = (() => {
      try {
        parseConfig(JSON.stringify(config))
      } catch (e) {
        return e
      }
    })()
    expect(error).toBeInstanceOf(ConfigError)
    expect(error).toMatchObject({ field, code: 'LAB_ERR_DHCP_CONFIG' })
    expect((error as Error).message).toMatch(message)
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
    // Config errors: exit 2 and one line naming the file and the field.
    const bad = join(dir, 'bad.json')
    const configs: Array<[unknown, string]> = [
      [{ interface: 'br0', subnets: [{ subnet: '10.3.0.0/24', range: ['10.3.0.1'] }] }, 'subnets[0].range: expected [first, last] addresses'],
      [{ interface: 'br0', subnet: [{ subnet: '10.3.0.0/24', range: ['10.3.0.2', '10.3.0.9'] }] }, 'unknown key "subnet", did you mean "subnets"?'],
      [{ interface: 'br0', subnets: [{ subnet: '10.3.0.0/24', range: ['10.3.0.2', '10.3.0.9'], reservations: { '02:00:00:00:00:05': '10.4.0.5' } }] }, 'subnets[0].reservations: 10.4.0.5 is outside 10.3.0.0/24'],
    ]
    for (const [config, message] of configs) {
      writeFileSync(bad, JSON.stringify(config))
      const result = await run(['node', cli, 'server', '--config', bad], { allowFailure: true })
      expect(result.code).toBe(2)
      expect(result.stderr).toBe(`lab-dhcp4: --config ${bad}: ${message}\n`)
    }
    // The form the JS API takes (reservations keyed by MAC) is served, not a crash.
    const keyed = join(dir, 'keyed.json')
    writeFileSync(keyed, JSON.stringify({ interface: 'br0', leaseFile: join(dir, 'keyed', 'leases'), subnets: [{ subnet: '10.3.0.0/24', range: ['10.3.0.50', '10.3.0.60'], reservations: { '02:00:00:00:00:05': '10.3.0.5' } }] }))
    const served = await Daemon.start({ name: 'lab-dhcp4', argv: ['node', cli, 'server', '--config', keyed, '--netns', sw.name], ready: /"msg":"serving"/ })
    expect(await served.stop()).toBe(0)
  })
})

describe.skipIf(!isRoot() || !existsSync(cli))('lab-dhcp4 client (needs root and a build)', () => {
  afterAll(() => cleanupAll())

  const setup = async (serve = true) => {
    const srv = await TestNetns.create('d4cc-s')
    const cl = await TestNetns.create('d4cc-c')
    await vethPair({ netns: srv, ifname: 's0', address: '10.1.0.1/24' }, { netns: cl, ifname: 'c0' })
    const net = network(1)
    const server = serve ? await ours.start({ netns: srv, interface: 's0', net, range: ['10.1.0.10', '10.1.0.50'] }) : undefined
    deferCleanup('server', () => void server?.stop())
    const inet = async () => (await cl.ip<Array<{ addr_info: Array<{ family: string; local: string }> }>>(['addr', 'show', 'dev', 'c0'])).flatMap((l) => l.addr_info.filter((a) => a.family === 'inet').map((a) => a.local))
    return { srv, cl, server, inet }
  }

  it('--once --json: prints the lease and leaves the interface configured', async () => {
    const t = await setup()
    const { stdout, code } = await run(['node', cli, 'client', '--interface', 'c0', '--netns', t.cl.name, '--once', '--json', '--hostname', 'vm7', '--vendor-class', 'lab'])
    expect(code).toBe(0)
    const printed = JSON.parse(stdout.trim()) as { event: string; lease: { address: string; prefixLength: number; routes: unknown[]; dns: string[]; serverId: string } }
    expect(printed.event).toBe('acquire')
    expect(printed.lease).toMatchObject({ prefixLength: 24, serverId: '10.1.0.1', dns: ['10.1.0.53'] })
    expect(await t.inet()).toEqual([printed.lease.address])
    const routes = await t.cl.ip<Array<{ dst: string; gateway?: string; protocol?: string }>>(['route', 'show', 'dev', 'c0'])
    expect(routes.filter((r) => r.protocol === 'dhcp').map((r) => `${r.dst} via ${r.gateway}`).sort()).toEqual(['10.9.0.0/16 via 10.1.0.254', 'default via 10.1.0.1'])
    await t.server!.stop()
  })

  it('--no-configure only prints the lease (and takes a --client-id)', async () => {
    const t = await setup()
    const { stdout, code } = await run(['node', cli, 'client', '--interface', 'c0', '--netns', t.cl.name, '--once', '--no-configure', '--client-id', '01:02:03:04:05:06:07'])
    expect(code).toBe(0)
    expect(stdout).toMatch(/^c0: 10\.1\.0\.\d+\/24 from 10\.1\.0\.1, lease 8 s \(renew 4 s, rebind 7 s\)/)
    expect(stdout).toMatch(/route default via 10\.1\.0\.1/)
    expect(await t.inet()).toEqual([])
    await t.server!.stop()
  })

  it('keeps running until SIGTERM, then releases with --release-on-exit', async () => {
    const t = await setup()
    const d = await Daemon.start({ name: 'lab-dhcp4 client', argv: ['node', cli, 'client', '--interface', 'c0', '--netns', t.cl.name, '--json', '--release-on-exit'] })
    const [line] = await d.waitFor(/\{"event":"acquire".*\}/)
    const address = (JSON.parse(line) as { lease: { address: string } }).lease.address
    expect(await t.inet()).toEqual([address])
    expect(await d.stop(5_000)).toBe(0)
    expect(await t.inet()).toEqual([])
    await t.server!.stop()
  })

  it('exits 1 with a clear message when no lease comes in time, 2 on usage errors', async () => {
    const t = await setup(false)
    const r = await run(['node', cli, 'client', '--interface', 'c0', '--netns', t.cl.name, '--once', '--timeout', '1'], { allowFailure: true })
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('no lease from any DHCP server on c0 within 1 s')
    const usage = await run(['node', cli, 'client'], { allowFailure: true })
    expect(usage.code).toBe(2)
    expect(usage.stderr).toContain('--interface is required')
    const help = await run(['node', cli, 'client', '--help'])
    expect(help.stdout).toContain('lab-dhcp4 client --netns vm1 --interface eth0')
    expect(help.stdout).toContain('--release-on-exit')
  })
})
