// Seed 000's `switched-multi2`: nanoswitch in a namespace with an uplink to an upstream network
// (dnsmasq), two QEMU microVMs on TAPs in the switch's namespace. Both lease from the switch, ping
// each other and the upstream through NAT, and a port forward on the uplink reaches VM 1.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { Daemon, TestNetns, cleanupAll, deferCleanup, hasCommand, isRoot, readToEnd } from '@lab/testkit'
import { Netlink, Tap, connectTcp } from '@lab/netlink-native'
import { readControl, type SwitchStatus } from '@lab/nanoswitch'
import { guestImage, isStaticElf, microVM } from '@lab/launch'

const cli = fileURLToPath(new URL('../../packages/nanoswitch/dist/cli.js', import.meta.url))
const UPLINK_MAC = '02:72:82:bf:c3:56'
const staticBusybox = existsSync('/bin/busybox') && isStaticElf(readFileSync('/bin/busybox'))
const qemu = spawnSync('sh', ['-c', 'command -v qemu-system-x86_64']).status === 0

afterEach(() => cleanupAll())
afterAll(() => cleanupAll())

async function get(netns: string, host: string, port: number): Promise<string> {
  const conn = await connectTcp({ netns, host, port })
  conn.write(`GET / HTTP/1.0\r\nHost: ${host}\r\n\r\n`)
  return readToEnd(conn)
}

describe.skipIf(!isRoot() || !existsSync(cli) || !hasCommand('dnsmasq') || !qemu || !staticBusybox)('two microVMs behind nanoswitch (needs root, a build, dnsmasq, qemu-system-x86, busybox-static)', () => {
  it('both lease from the switch, ping each other and the upstream through NAT; the forward reaches VM 1', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lab-e2e-vms-'))
    deferCleanup(`rm ${dir}`, () => rmSync(dir, { recursive: true, force: true }))
    const sw = await TestNetns.create('e2e-vsw')
    const up = await TestNetns.create('e2e-vup')
    const nl = await Netlink.open({ netns: sw.name })
    deferCleanup('netlink', () => nl.close())
    await nl.link.add({ name: 'uplink0', kind: 'veth', address: UPLINK_MAC, peer: { name: 'u0', netns: up.name } })
    await up.exec(['ip', 'addr', 'add', '10.99.0.1/24', 'dev', 'u0'])
    await up.exec(['ip', 'link', 'set', 'u0', 'up'])
    await Daemon.start({
      name: 'dnsmasq (upstream)',
      netns: up.name,
      argv: ['dnsmasq', '--keep-in-foreground', '--port=0', '--interface=u0', '--bind-interfaces', '--no-ping', '--conf-file=/dev/null', '--log-facility=-', `--dhcp-leasefile=${join(dir, 'upstream.leases')}`,
        `--pid-file=${join(dir, 'dnsmasq.pid')}`, '--dhcp-range=10.99.0.10,10.99.0.50,255.255.255.0,1h', '--dhcp-option=option:router,10.99.0.1'],
      ready: /DHCP, IP range/,
    })
    const socket = join(dir, 'control.sock')
    const nanoswitch = await Daemon.start({ name: 'nanoswitch', argv: [process.execPath, cli, 'run', '--netns', sw.name, '--socket', socket, '--lease-file', join(dir, 'leases'), '--forward', '8080:10.1.0.2:80'], ready: /switch healthy/ })

    // Each VM: a TAP in the switch's namespace (a new port the switch bridges), DHCP, a web page with its name, then a shell.
    const vms: Array<Awaited<ReturnType<typeof microVM>>> = []
    await Promise.all(['vm1', 'vm2'].map(async (name) => {
      const tap = await Tap.open({ netns: sw.name, interface: name })
      const image = await guestImage({ hostname: name, interfaces: [{ name: 'eth0', dhcp: true }], commands: [`mkdir -p /www && echo ${name} > /www/index.html && httpd -p 80 -h /www`], then: 'shell' })
      const vm = await microVM({ ...image, nics: [{ type: 'tap', fd: tap.handOff() }] })
      deferCleanup(`qemu ${name}`, () => vm.kill())
      vms[name === 'vm1' ? 0 : 1] = vm
    }))
    const leases = await Promise.all(vms.map(async (vm) => (await vm.console.waitFor(/LAB:lease eth0 (10\.1\.0\.\d+)\/24 10\.1\.0\.1/, { timeoutMs: 60_000 }))[1]!))
    expect(new Set(leases).size).toBe(2)
    await Promise.all(vms.map((vm) => vm.console.waitFor('LAB:ready', { timeoutMs: 30_000 })))

    const status = (await readControl(socket)) as SwitchStatus
    expect(status.bridge!.ports.sort()).toEqual(['vm1', 'vm2'])
    expect(status.leases.map((l) => l.address).sort()).toEqual([...leases].sort())
    expect(status.leases.map((l) => l.mac).sort()).toEqual(vms.map((vm) => vm.macs[0]).sort())

    // VM to VM across the bridge, and out to the upstream through the switch's NAT.
    expect((await vms[0]!.console.run(`ping -c 1 -W 5 ${leases[1]}`)).status).toBe(0)
    expect((await vms[1]!.console.run(`ping -c 1 -W 5 ${leases[0]}`)).status).toBe(0)
    for (const vm of vms) expect((await vm.console.run('ping -c 1 -W 5 10.99.0.1')).status).toBe(0)

    // The forward on the uplink address reaches whichever VM holds 10.1.0.2 (the pool's first address): "VM 1".
    let uplink = status.uplink?.address
    for (let i = 0; !uplink && i < 100; i++) {
      await new Promise((r) => setTimeout(r, 50))
      uplink = ((await readControl(socket)) as SwitchStatus).uplink?.address
    }
    const first = leases.indexOf('10.1.0.2')
    expect(first).toBeGreaterThanOrEqual(0)
    const page = await get(up.name, uplink!.split('/')[0]!, 8080)
    expect(page).toMatch(/^HTTP\/1\.[01] 200/)
    expect(page.trim().endsWith(`vm${first + 1}`)).toBe(true)

    await Promise.all(vms.map((vm) => vm.stop()))
    await nanoswitch.stop()
  }, 120_000)
})
