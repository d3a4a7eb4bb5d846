// What DhcpServer.start() refuses, and what it prepares: a second DHCP server on an interface
// (ours or dnsmasq) and a lease file whose directory cannot be made are errors at start; a lease
// file in a directory that does not exist yet gets its directory.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { Daemon, TestNetns, cleanupAll, deferCleanup, isRoot, run, vethPair } from '@lab/testkit'
import { DhcpError, DhcpServer } from '../src/index.js'
import { dnsmasq, network } from './helpers/servers.js'

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url))
const subnets = [{ subnet: '10.7.0.0/24', range: ['10.7.0.10', '10.7.0.50'] as [string, string] }]

function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'lab-dhcp4-start-'))
  deferCleanup(`rm ${dir}`, () => rmSync(dir, { recursive: true, force: true }))
  return dir
}

async function segment(tag: string): Promise<TestNetns> {
  const srv = await TestNetns.create(`${tag}-s`)
  const cl = await TestNetns.create(`${tag}-c`)
  await vethPair({ netns: srv, ifname: 's0', address: '10.7.0.1/24' }, { netns: cl, ifname: 'c0' })
  await vethPair({ netns: srv, ifname: 's1', address: '10.8.0.1/24' }, { netns: cl, ifname: 'c1' })
  return srv
}

describe.skipIf(!isRoot())('DhcpServer.start (needs root)', () => {
  afterAll(() => cleanupAll())

  it('refuses a second server on an interface that one of ours serves, and still serves another interface', async () => {
    const srv = await segment('d4two')
    const first = await DhcpServer.start({ netns: srv.name, interface: 's0', subnets })
    deferCleanup('first', () => void first.stop())
    const second = DhcpServer.start({ netns: srv.name, interface: 's0', subnets })
    await expect(second).rejects.toBeInstanceOf(DhcpError)
    await expect(second).rejects.toMatchObject({ code: 'LAB_ERR_DHCP_INTERFACE_BUSY', message: `another DHCP server already serves s0 in netns ${srv.name} (UDP port 67 there is taken)` })
    // One interface busy among several: nothing of the new server is left open.
    await expect(DhcpServer.start({ netns: srv.name, interface: ['s1', 's0'], subnets: [...subnets, { subnet: '10.8.0.0/24', range: ['10.8.0.10', '10.8.0.50'] }] })).rejects.toMatchObject({ code: 'LAB_ERR_DHCP_INTERFACE_BUSY' })
    const other = await DhcpServer.start({ netns: srv.name, interface: 's1', subnets: [{ subnet: '10.8.0.0/24', range: ['10.8.0.10', '10.8.0.50'] }] })
    await other.stop()
    await first.stop()
    // Once the first has stopped, the interface is free again.
    const again = await DhcpServer.start({ netns: srv.name, interface: 's0', subnets })
    await again.stop()
  })

  it.skipIf(!dnsmasq.available)('refuses to start where dnsmasq already serves the interface', async () => {
    const srv = await segment('d4dnsm')
    const running = await dnsmasq.start({ netns: srv, interface: 's0', net: { ...network(7) }, range: ['10.7.0.10', '10.7.0.50'] })
    deferCleanup('dnsmasq', () => void running.stop())
    await expect(DhcpServer.start({ netns: srv.name, interface: 's0', subnets })).rejects.toMatchObject({ code: 'LAB_ERR_DHCP_INTERFACE_BUSY' })
    await running.stop()
  })

  it.skipIf(!existsSync(cli))('lab-dhcp4 server: exits 1 with one line when the interface is served already', async () => {
    const srv = await segment('d4twocli')
    const first = await DhcpServer.start({ netns: srv.name, interface: 's0', subnets })
    deferCleanup('first', () => void first.stop())
    const result = await run(['node', cli, 'server', '--netns', srv.name, '--interface', 's0', '--subnet', '10.7.0.0/24', '--range', '10.7.0.10-10.7.0.50'], { allowFailure: true })
    expect(result.code).toBe(1)
    expect(result.stderr).toBe(`lab-dhcp4: another DHCP server already serves s0 in netns ${srv.name} (UDP port 67 there is taken)\n`)
    await first.stop()
  })

  it('creates the lease file’s directory; fails at start, naming the path, when it cannot', async () => {
    const srv = await segment('d4dir')
    const dir = scratch()
    const leaseFile = join(dir, 'state', 'dhcp', 'leases.jsonl')
    const server = await DhcpServer.start({ netns: srv.name, interface: 's0', subnets, leaseFile })
    await server.stop()
    expect(existsSync(leaseFile)).toBe(true)
    writeFileSync(join(dir, 'file'), '')
    const blocked = join(dir, 'file', 'dhcp', 'leases.jsonl')
    await expect(DhcpServer.start({ netns: srv.name, interface: 's0', subnets, leaseFile: blocked })).rejects.toMatchObject({
      code: 'LAB_ERR_DHCP_LEASE_FILE',
      message: `lease file ${blocked}: cannot create its directory ${join(dir, 'file', 'dhcp')} (ENOTDIR)`,
    })
    if (!existsSync(cli)) return
    // The CLI: a missing directory is made, one that cannot be is one line and exit 1.
    const viaCli = join(dir, 'cli', 'leases')
    const daemon = await Daemon.start({ name: 'lab-dhcp4', argv: ['node', cli, 'server', '--netns', srv.name, '--interface', 's0', '--subnet', '10.7.0.0/24', '--range', '10.7.0.10-10.7.0.50', '--lease-file', viaCli], ready: /"msg":"serving"/ })
    expect(await daemon.stop()).toBe(0)
    expect(existsSync(viaCli)).toBe(true)
    const result = await run(['node', cli, 'server', '--netns', srv.name, '--interface', 's0', '--subnet', '10.7.0.0/24', '--range', '10.7.0.10-10.7.0.50', '--lease-file', blocked], { allowFailure: true })
    expect(result.code).toBe(1)
    expect(result.stderr).toBe(`lab-dhcp4: lease file ${blocked}: cannot create its directory ${join(dir, 'file', 'dhcp')} (ENOTDIR)\n`)
  })
})
