// Routed mode (seed 001): `nanoswitch run --mode routed` with two uplinks to two dnsmasq upstreams,
// client VMs on point-to-point links whose MACs carry their /31s, attached before and after start.
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { Daemon, TestNetns, cleanupAll, deferCleanup, hasCommand, isRoot } from '@lab/testkit'
import { Netlink, PacketSocket } from '@lab/netlink-native'
import { DhcpClient, compose, manageIP, manageRoutes } from '@lab/dhcp4'
import { clientMacFor, readControl, type SwitchStatus } from '@lab/nanoswitch'

const cli = fileURLToPath(new URL('../../packages/nanoswitch/dist/cli.js', import.meta.url))

afterAll(() => cleanupAll())

describe.skipIf(!isRoot() || !existsSync(cli) || !['dnsmasq', 'udhcpc', 'ping'].every(hasCommand))('nanoswitch --mode routed (needs root, a build, dnsmasq, udhcpc, ping)', () => {
  it('gives client links their /31s, routes between them and out through NAT on two uplinks, follows hotplug, refuses a wrong-parity MAC', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lab-e2e-routed-'))
    deferCleanup(`rm ${dir}`, () => rmSync(dir, { recursive: true, force: true }))
    const rt = await TestNetns.create('e2e-rt')
    const nl = await Netlink.open({ netns: rt.name })
    deferCleanup('netlink', () => nl.close())

    // Two upstream networks, each with dnsmasq, each behind one uplink of the router.
    const upstreams: Array<{ ns: TestNetns; net: string }> = []
    for (const [i, net] of ['10.99.0', '10.98.0'].entries()) {
      const up = await TestNetns.create(`e2e-up${i}`)
      await nl.link.add({ name: `wan${i}`, kind: 'veth', peer: { name: 'u0', netns: up.name } })
      await up.exec(['ip', 'addr', 'add', `${net}.1/24`, 'dev', 'u0'])
      await up.exec(['ip', 'link', 'set', 'u0', 'up'])
      await Daemon.start({
        name: `dnsmasq ${net}`,
        netns: up.name,
        argv: ['dnsmasq', '--keep-in-foreground', '--port=0', '--interface=u0', '--bind-interfaces', '--no-ping', '--conf-file=/dev/null', '--log-facility=-', `--dhcp-leasefile=${join(dir, `up${i}.leases`)}`,
          `--pid-file=${join(dir, `up${i}.pid`)}`, `--dhcp-range=${net}.10,${net}.50,255.255.255.0,1h`, `--dhcp-option=option:router,${net}.1`],
        ready: /DHCP, IP range/,
      })
      upstreams.push({ ns: up, net })
    }

    // Client A is attached before the router starts: router side MAC encodes 100.0.0.2/31.
    const vmA = await TestNetns.create('e2e-vma')
    const macA = clientMacFor('100.0.0.2/31')
    expect(macA).toBe('0a:b3:ec:00:00:02')
    await nl.link.add({ name: 'cA', kind: 'veth', address: macA, peer: { name: 'eth0', netns: vmA.name } })
    // A link with the client OUI that encodes a high address: refused.
    const vmBad = await TestNetns.create('e2e-vmx')
    await nl.link.add({ name: 'cBad', kind: 'veth', address: '0a:b3:ec:00:00:07', peer: { name: 'eth0', netns: vmBad.name } })

    const socket = join(dir, 'control.sock')
    const router = await Daemon.start({ name: 'nanoswitch routed', argv: [process.execPath, cli, 'run', '--mode', 'routed', '--netns', rt.name, '--socket', socket], ready: /switch healthy/ })
    const status = () => readControl(socket) as Promise<SwitchStatus>

    // udhcpc's script writes resolv.conf: into vmA's own (TestNetns), not the host's.
    const udhcpc = await Daemon.start({ name: 'udhcpc A', netns: vmA.name, argv: ['udhcpc', '-f', '-i', 'eth0', '-t', '10', '-T', '1', '-s', '/etc/udhcpc/default.script'] })
    expect((await udhcpc.waitFor(/lease of (100\.\d+\.\d+\.\d+) obtained/, 15_000))[1]).toBe('100.0.0.3')

    // Client B arrives while the router runs; our client, configuring itself, is served at once.
    const vmB = await TestNetns.create('e2e-vmb')
    await nl.link.add({ name: 'cB', kind: 'veth', address: clientMacFor('100.0.1.5/31'), peer: { name: 'eth0', netns: vmB.name } })
    const clientB = await DhcpClient.start({ interface: 'eth0', netns: vmB.name, retransmit: { initialMs: 250, jitterMs: 0 }, onLease: compose(manageIP({ netns: vmB.name }), manageRoutes({ netns: vmB.name })) })
    deferCleanup('client B', () => clientB.stop())
    const leaseB = await clientB.waitForLease(1000)
    expect(leaseB).toMatchObject({ address: '100.0.1.5', prefixLength: 31, router: '100.0.1.4' })

    let s = await status()
    for (let i = 0; s.uplinks!.some((u) => !u.address) && i < 200; i++) {
      await new Promise((r) => setTimeout(r, 50))
      s = await status()
    }
    expect(s.mode).toBe('routed')
    expect(s.clients!.map((c) => [c.link, c.router, c.client]).sort()).toEqual([['cA', '100.0.0.2/31', '100.0.0.3'], ['cB', '100.0.1.4/31', '100.0.1.5']])
    expect(s.refused).toEqual([{ link: 'cBad', mac: '0a:b3:ec:00:00:07', reason: expect.stringContaining('high address of a /31') }])
    expect(router.log).toMatch(/client link refused/)
    expect((await rt.ip<Array<{ addr_info: unknown[] }>>(['addr', 'show', 'dev', 'cBad']))[0]!.addr_info).toEqual([])
    expect(s.uplinks!.map((u) => u.name).sort()).toEqual(['wan0', 'wan1'])
    const wan0 = s.uplinks!.find((u) => u.name === 'wan0')!.address!.split('/')[0]!
    expect(wan0).toMatch(/^10\.99\.0\.\d+$/)
    expect(s.uplinks!.find((u) => u.name === 'wan1')!.address).toMatch(/^10\.98\.0\.\d+\/24$/)

    // Between clients, through the router.
    expect((await vmA.exec(['ping', '-c', '1', '-W', '2', '100.0.1.5'], { allowFailure: true })).code).toBe(0)
    // Out through NAT: upstream 0 sees the router's wan0 address.
    const seen: string[] = []
    const sniffer = await PacketSocket.open({ netns: upstreams[0]!.ns.name, interface: 'u0', protocol: 'ipv4', outgoing: false })
    sniffer.on('message', (f) => {
      if (f.data[23] === 1) seen.push(`${f.data[26]}.${f.data[27]}.${f.data[28]}.${f.data[29]}`)
    })
    for (const vm of [vmA, vmB]) expect((await vm.exec(['ping', '-c', '1', '-W', '2', '10.99.0.1'], { allowFailure: true })).code).toBe(0)
    sniffer.close()
    expect(seen.length).toBeGreaterThanOrEqual(2)
    expect(new Set(seen)).toEqual(new Set([wan0]))
    // The second upstream is reached through wan1, masqueraded as well.
    expect((await vmB.exec(['ping', '-c', '1', '-W', '2', '10.98.0.1'], { allowFailure: true })).code).toBe(0)
    const { stdout } = await rt.exec(['nft', '-j', 'list', 'set', 'ip', 'nanoswitch-routed', 'uplinks'])
    expect(stdout).toContain('"wan0"')
    expect(stdout).toContain('"wan1"')

    // Detaching a client removes its state.
    await udhcpc.stop()
    await nl.link.del('cA')
    for (let i = 0; (await status()).clients!.length !== 1 && i < 100; i++) await new Promise((r) => setTimeout(r, 20))
    s = await status()
    expect(s.clients!.map((c) => c.link)).toEqual(['cB'])
    await clientB.stop()
    await router.stop()
  })
})
