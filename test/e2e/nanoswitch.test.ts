// Seed 000's scenario end to end: `nanoswitch run` (the built CLI) in a switch namespace with an
// uplink to an upstream network served by dnsmasq, and VMs (namespaces) on its ports running
// udhcpc, dhclient and dhcpcd. Checked with ping, `ip -j`, packets seen upstream, the status
// socket, and a kill -9 of the switch.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { Daemon, cleanupAll, deferCleanup, hasCommand, isRoot, readToEnd, run } from '@lab/testkit'
import { PacketSocket, connectTcp, listenTcp } from '@lab/netlink-native'
import { readControl, type SwitchStatus } from '@lab/nanoswitch'

import { CLIENTS, cli, peers, scenario } from './switch-scenario.js'

afterEach(() => cleanupAll())
afterAll(() => cleanupAll())

describe.skipIf(!isRoot() || !existsSync(cli) || !peers)('nanoswitch end to end (needs root, a build, dnsmasq, udhcpc, dhclient, dhcpcd, ping)', () => {
  it('serves udhcpc, dhclient and dhcpcd; they reach each other, and the upstream through NAT from the uplink address; a forward reaches VM 1', async () => {
    const t = await scenario()
    // VM 1 gets the pool's first address (.2), which the forward points at.
    const sw = await t.startSwitch(['--forward', '8080:10.1.0.2'])
    const vm1 = await t.vm('udhcpc')
    expect(vm1.address).toBe('10.1.0.2')
    const [vm2, vm3] = await Promise.all([t.vm('dhclient'), t.vm('dhcpcd')])
    for (const v of [vm1, vm2, vm3]) expect(await t.inet(v.ns)).toEqual([`${v.address}/24`])
    expect(new Set([vm1.address, vm2.address, vm3.address]).size).toBe(3)
    const defaults = await vm2.ns.ip<Array<{ dst: string; gateway?: string }>>(['route', 'show', 'default'])
    expect(defaults[0]?.gateway).toBe('10.1.0.1')

    let status = await t.status()
    for (let i = 0; !status.uplink?.address && i < 100; i++) {
      await new Promise((r) => setTimeout(r, 50))
      status = await t.status()
    }
    const uplink = status.uplink!.address!.split('/')[0]!
    expect(uplink).toMatch(/^10\.99\.0\.\d+$/)
    expect(status.bridge!.ports.sort()).toEqual(['port1', 'port2', 'port3'])
    expect(status.leases.map((l) => l.address).sort()).toEqual([vm1.address, vm2.address, vm3.address].sort())

    // Across the bridge.
    expect(await t.ping(vm1.ns, vm2.address)).toBe(true)
    expect(await t.ping(vm3.ns, vm1.address)).toBe(true)
    // Out through NAT: upstream sees the switch's uplink address, never a VM's.
    const seen: string[] = []
    const sniffer = await PacketSocket.open({ netns: t.up.name, interface: 'u0', protocol: 'ipv4', outgoing: false })
    sniffer.on('message', (f) => {
      if (f.data[23] === 1) seen.push(`${f.data[26]}.${f.data[27]}.${f.data[28]}.${f.data[29]}`)
    })
    for (const v of [vm1, vm2, vm3]) expect(await t.ping(v.ns, '10.99.0.1')).toBe(true)
    sniffer.close()
    expect(seen.length).toBeGreaterThanOrEqual(3)
    expect(new Set(seen)).toEqual(new Set([uplink]))

    // The forward: upstream connects to the switch's uplink address, VM 1 answers.
    const web = await listenTcp({ netns: vm1.ns.name, host: '0.0.0.0', port: 8080 }, (s) => s.end('vm1 here\n'))
    const conn = await connectTcp({ netns: t.up.name, host: uplink, port: 8080 })
    const text = await readToEnd(conn)
    web.close()
    expect(text).toBe('vm1 here\n')
    status = await t.status()
    expect(status.forwards).toMatchObject([{ spec: '8080:10.1.0.2:8080', mode: 'kernel', total: 1 }])
    // Bytes each way from the forward chain's counters: at least the SYN, and the reply's text back.
    expect(status.forwards[0]!.bytesIn).toBeGreaterThanOrEqual(40)
    expect(status.forwards[0]!.bytesOut).toBeGreaterThanOrEqual(40 + text.length)
    expect(status.forwards[0]!.bytes).toBe(status.forwards[0]!.bytesIn! + status.forwards[0]!.bytesOut!)
    // nftables as nft sees it: the masquerade rule in the switch's namespace.
    const { stdout } = await t.sw.exec(['nft', '-j', 'list', 'table', 'ip', 'nanoswitch'])
    expect(stdout).toContain('"masquerade"')
    await sw.stop()
  })

  it('takes in a port that appears after start (hotplug)', async () => {
    const t = await scenario()
    const sw = await t.startSwitch()
    const before = await t.status()
    expect(before.bridge!.ports).toEqual([])
    const late = await t.vm('udhcpc')
    expect(late.address).toMatch(/^10\.1\.0\.\d+$/)
    expect((await t.status()).bridge!.ports).toEqual(['port1'])
    await sw.stop()
  })

  it('keeps leases across a kill -9 and restart of the switch: a VM gets its address back', async () => {
    const t = await scenario({ uplink: false })
    let sw = await t.startSwitch()
    const a = await t.vm('udhcpc')
    const b = await t.vm('dhclient')
    sw.child.kill('SIGKILL')
    await sw.stop()
    sw = await t.startSwitch()
    const status = await t.status()
    expect(status.leases.map((l) => l.address).sort()).toEqual([a.address, b.address].sort())
    // A fresh udhcpc on VM A (same MAC, no memory of its own): the switch gives the same address.
    await a.client.stop()
    await a.ns.exec(['ip', 'addr', 'flush', 'dev', 'eth0'])
    const again = await Daemon.start({ name: 'udhcpc again', netns: a.ns.name, argv: CLIENTS.udhcpc.argv(t.dir) })
    expect((await again.waitFor(CLIENTS.udhcpc.leased, 20_000))[1]).toBe(a.address)
    await again.stop()
    await sw.stop()
  })

  it('after a kill -9, a restart adopts the bridge, addresses and masquerade table without duplicates; SIGTERM then removes them', async () => {
    const t = await scenario()
    const bridges = async () => (await t.sw.ip<Array<{ ifname: string; linkinfo?: { info_kind?: string } }>>(['-d', 'link', 'show'])).filter((l) => l.linkinfo?.info_kind === 'bridge').map((l) => l.ifname)
    const inet = async (dev: string) => (await t.sw.ip<Array<{ addr_info: Array<{ family: string; local: string }> }>>(['addr', 'show', 'dev', dev])).flatMap((l) => l.addr_info.filter((a) => a.family === 'inet').map((a) => a.local))
    const ruleset = async () => JSON.parse((await t.sw.exec(['nft', '-j', 'list', 'ruleset'])).stdout) as { nftables: Array<{ table?: { family: string; name: string }; rule?: { family: string; table: string; expr: object[] } }> }
    const waitForUplinkLease = async () => {
      for (let i = 0; !(await t.status()).uplink?.address && i < 200; i++) await new Promise((r) => setTimeout(r, 50))
    }
    let sw = await t.startSwitch()
    await waitForUplinkLease()
    sw.child.kill('SIGKILL')
    await sw.stop()
    sw = await t.startSwitch()
    await waitForUplinkLease()
    expect(await bridges()).toEqual(['vmbridge'])
    expect(await inet('vmbridge')).toEqual(['10.1.0.1'])
    expect(await inet('uplink0')).toHaveLength(1)
    const rs = await ruleset()
    // One table and one masquerade rule per family: the bridge subnet (ip) and its IPv6 /64 (ip6, NAT66).
    expect(rs.nftables.flatMap((o) => (o.table ? [`${o.table.family} ${o.table.name}`] : []))).toEqual(['ip nanoswitch', 'ip6 nanoswitch'])
    expect(rs.nftables.flatMap((o) => (o.rule && JSON.stringify(o.rule.expr).includes('masquerade') ? [o.rule.family] : []))).toEqual(['ip', 'ip6'])
    // A clean stop (SIGTERM): nothing of the switch's is left.
    await sw.stop()
    expect(await bridges()).toEqual([])
    expect(await inet('uplink0')).toEqual([])
    expect((await ruleset()).nftables.filter((o) => o.table)).toEqual([])
  })

  it('without an uplink still serves its bridge, and says so in its status; a proxy forward works from the bridge side', async () => {
    const t = await scenario({ uplink: false })
    const sw = await t.startSwitch(['--forward-mode', 'proxy', '--forward', '8081:10.1.0.2:9000'])
    const v = await t.vm('dhcpcd')
    expect(v.address).toBe('10.1.0.2')
    // The VM dials the switch's bridge address; the switch's relay dials the VM back.
    const web = await listenTcp({ netns: v.ns.name, host: '0.0.0.0', port: 9000 }, (s) => s.end('through the proxy\n'))
    const conn = await connectTcp({ netns: v.ns.name, host: '10.1.0.1', port: 8081 })
    const text = await readToEnd(conn)
    web.close()
    expect(text).toBe('through the proxy\n')
    expect((await t.status()).forwards).toMatchObject([{ spec: '8081:10.1.0.2:9000', mode: 'proxy', total: 1, failed: 0 }])
    const status = await t.status()
    expect(status.uplink).toBeNull()
    expect(status.supervisor.children.map((c) => c.name).sort()).toEqual(['dhcp-server', 'dhcp6-server', 'forward-8081', 'ports', 'ra'])
    expect(status.supervisor.children.every((c) => c.state === 'healthy')).toBe(true)
    const { stdout } = await run([process.execPath, cli, 'status', '--socket', join(t.dir, 'control.sock')])
    expect(stdout).toContain('uplink: none')
    expect(stdout).toContain(`${v.address}`)
    await sw.stop()
  })
})

const bundle = fileURLToPath(new URL('../../packages/nanoswitch/bundle/nanoswitch.mjs', import.meta.url))

describe.skipIf(!isRoot() || !existsSync(bundle) || !hasCommand('unshare'))('nanoswitch --init, from the one-file bundle (needs root, a build, unshare)', () => {
  it('runs as PID 1 (own pid, mount and network namespaces), mounts what the seed mounts, and serves', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lab-e2e-init-'))
    deferCleanup(`rm ${dir}`, () => rmSync(dir, { recursive: true, force: true }))
    const socket = join(dir, 'control.sock')
    // A new network namespace with one extra port, made by the init itself before it runs: a shell
    // as PID 1 would not reap; exec hands PID 1 to node.
    const d = await Daemon.start({
      name: 'nanoswitch --init',
      argv: ['unshare', '--pid', '--fork', '--kill-child', '--mount', '--net', 'sh', '-c', `ip link add p1 type veth peer name p2 && exec ${process.execPath} ${bundle} run --init --socket ${socket}`],
      ready: /switch healthy/,
    })
    const status = (await readControl(socket)) as SwitchStatus
    expect(status.bridge!.ports.sort()).toEqual(['p1', 'p2'])
    expect(status.supervisor.state).toBe('healthy')
    // The process is PID 1 of its namespace, and its /proc shows that namespace (the fresh proc mount).
    // unshare --fork: node is unshare's child (PID 1 inside, another number out here).
    const pid = Number(readFileSync(`/proc/${d.child.pid}/task/${d.child.pid}/children`, 'utf8').trim().split(' ')[0])
    const inner = (await run(['nsenter', '-t', String(pid), '-m', '-p', '-r', 'sh', '-c', 'cat /proc/1/comm; ls /proc | grep -c "^[0-9]"; grep -c devpts /proc/mounts'], { allowFailure: true })).stdout.trim().split('\n')
    expect(inner[0]).toBe('node')
    expect(Number(inner[1])).toBeLessThan(10)
    expect(Number(inner[2])).toBeGreaterThanOrEqual(1)
    await d.stop()
  })
})
