// Seed 000 as it runs for real: nanoswitch from its one-file bundle is PID 1 of a microVM (node,
// its libraries and the addon in the initramfs); two microVMs are on socketpair cables to it; its
// uplink is SLIRP (the well-known uplink MAC), in a throwaway namespace. Both VMs lease from the
// switch, ping each other and the uplink's gateway through the switch's NAT, and a SLIRP forward
// to the switch's --forward reaches VM 1.
import { existsSync, readFileSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { TestNetns, cleanupAll, deferCleanup, isRoot, readToEnd } from '@lab/testkit'
import { connectTcp, socketpair } from '@lab/netlink-native'
import { PortMap, guestImage, hostProgramFiles, isStaticElf, microVM, type VirtualMachine } from '@lab/launch'

const bundleDir = fileURLToPath(new URL('../../packages/nanoswitch/bundle/', import.meta.url))
const UPLINK_MAC = '02:72:82:bf:c3:56'
const staticBusybox = existsSync('/bin/busybox') && isStaticElf(readFileSync('/bin/busybox'))
const qemu = spawnSync('sh', ['-c', 'command -v qemu-system-x86_64 && command -v ldd']).status === 0

afterEach(() => cleanupAll())
afterAll(() => cleanupAll())

describe.skipIf(!isRoot() || !existsSync(`${bundleDir}nanoswitch.mjs`) || !qemu || !staticBusybox)('nanoswitch as PID 1 of a microVM, two VMs on cables (needs root, a build, qemu, busybox-static)', () => {
  it('serves both VMs: leases, ping across and out through NAT, the forward reaches VM 1', async () => {
    const t0 = Date.now()
    const files = [
      ...hostProgramFiles([{ source: process.execPath, as: '/usr/bin/node' }, { source: `${bundleDir}lab_netlink_native.node`, as: '/opt/nanoswitch/lab_netlink_native.node' }]),
      { path: '/opt/nanoswitch/nanoswitch.mjs', source: `${bundleDir}nanoswitch.mjs` },
    ]
    const switchImage = await guestImage({
      extraModules: ['bridge', 'nft_masq', 'nft_nat', 'nft_chain_nat', 'nft_ct'],
      files,
      then: { exec: '/usr/bin/node /opt/nanoswitch/nanoswitch.mjs run --init --forward 8080:10.1.0.2:80' },
    })
    const vmImage = await guestImage({ interfaces: [{ name: 'eth0', dhcp: true }], commands: ['mkdir -p /www && hostname > /www/index.html && httpd -p 80 -h /www'], then: 'shell' })
    const slirp = await TestNetns.create('e2e-slirp')
    await slirp.exec(['ip', 'link', 'set', 'lo', 'up'])
    const ports = new PortMap([{ guest: 8080, host: 18080, hostAddress: '127.0.0.1' }])
    const cables = [socketpair('dgram'), socketpair('dgram')]
    const track = (vm: VirtualMachine) => {
      deferCleanup(`qemu ${vm.pid}`, () => vm.kill())
      return vm
    }
    const sw = track(await microVM({
      ...switchImage,
      memoryMiB: 768,
      netns: slirp.name,
      nics: [{ type: 'socket', fd: cables[0]![0] }, { type: 'socket', fd: cables[1]![0] }, { type: 'user', ports, mac: UPLINK_MAC }],
    }))
    const vms = await Promise.all(cables.map(async ([, end]) => track(await microVM({ ...vmImage, nics: [{ type: 'socket', fd: end }] }))))
    await sw.console.waitFor(/switch healthy/, { timeoutMs: 120_000 })
    const healthyAt = Date.now() - t0
    const leases = await Promise.all(vms.map(async (vm) => (await vm.console.waitFor(/LAB:lease eth0 (10\.1\.0\.\d+)\/24 10\.1\.0\.1/, { timeoutMs: 120_000 }))[1]!))
    const leasedAt = Date.now() - t0
    expect(new Set(leases).size).toBe(2)
    for (const vm of vms) await vm.console.waitFor('LAB:ready', { timeoutMs: 30_000 })
    expect((await vms[0]!.console.run(`ping -c 1 -W 5 ${leases[1]}`)).status).toBe(0)
    expect((await vms[1]!.console.run(`ping -c 1 -W 5 ${leases[0]}`)).status).toBe(0)
    // SLIRP's gateway answers pings; from the VMs it is reached through the switch's NAT.
    for (const vm of vms) expect((await vm.console.run('ping -c 1 -W 5 10.0.2.2')).status).toBe(0)
    // The VMs ran without a hostname of their own: the page says which one holds 10.1.0.2.
    const holder = leases.indexOf('10.1.0.2')
    expect(holder).toBeGreaterThanOrEqual(0)
    await vms[holder]!.console.run(`echo vm${holder + 1} > /www/index.html`)
    const conn = await connectTcp({ netns: slirp.name, host: '127.0.0.1', port: 18080 })
    conn.write('GET / HTTP/1.0\r\n\r\n')
    const page = await readToEnd(conn)
    expect(page).toMatch(/^HTTP\/1\.[01] 200/)
    expect(page.trim().endsWith(`vm${holder + 1}`)).toBe(true)
    console.log(`nanoswitch microVM healthy after ${healthyAt} ms, both VMs leased after ${leasedAt} ms, test done after ${Date.now() - t0} ms`)
    await Promise.all([...vms, sw].map((vm) => vm.stop()))
  }, 240_000)
})
