// Dual stack end to end: a switch whose uplink leads to an "internet" namespace where dnsmasq
// sends RAs and serves DHCPv6 (fd99::/64), and two VM namespaces on its bridge: one configured by
// the kernel's own SLAAC from our RAs (accept_ra=2), one also by our DHCPv6 client from our server.
// They ping6 each other across the bridge and the upstream through NAT66 (the upstream sees only
// the switch's uplink addresses), again after a restart of the switch; with ipv6: false none of it.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import pino from 'pino'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { DhcpV6Client, manageIP } from '@lab/dhcp6'
import { NdSocket } from '@lab/ndp'
import { UdpSocket, connectTcp, listenTcp } from '@lab/netlink-native'
import { Daemon, TestNetns, cleanupAll, deferCleanup, hasCommand, isRoot, readToEnd, vethPair } from '@lab/testkit'
import { DEFAULT_UPLINK_MAC, RunningSwitch, clientMacFor, ipv6PrefixFromMac, readControl, type SwitchStatus } from '../src/index.js'

const silent = pino({ level: 'silent' })
const ULA = /^fd0a:b3ec:1:/

afterEach(() => cleanupAll())
afterAll(() => cleanupAll())

interface IpAddr { addr_info: Array<{ family: string; local: string; prefixlen: number; scope: string; dynamic?: boolean; tentative?: boolean }> }
interface IpRoute { dst: string; gateway?: string; protocol?: string }

async function until<T>(what: string, read: () => Promise<T>, ok: (value: T) => boolean): Promise<T> {
  for (let i = 0; ; i++) {
    const value = await read()
    if (ok(value)) return value
    if (i > 400) throw new Error(`never became true: ${what} (last: ${JSON.stringify(value)})`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

const globals6 = async (ns: TestNetns, dev: string) =>
  (await ns.ip<IpAddr[]>(['-6', 'addr', 'show', 'dev', dev, 'scope', 'global'])).flatMap((l) => l.addr_info.filter((a) => a.family === 'inet6').map((a) => `${a.local}/${a.prefixlen}`))
const defaultRoute6 = async (ns: TestNetns) => (await ns.ip<IpRoute[]>(['-6', 'route', 'show', 'default']))[0]
const ping6 = (from: TestNetns, to: string) => from.exec(['ping', '-6', '-c', '1', '-W', '2', to], { allowFailure: true }).then((r) => r.code === 0)

/** A VM namespace on a new switch port that takes RAs (and so SLAAC) as a host does. */
async function vmNamespace(sw: TestNetns, port: string): Promise<TestNetns> {
  const vm = await TestNetns.create('ns6-vm')
  // Before the link exists, so eth0 inherits them; no DAD: the test's addresses are unique.
  await vm.exec(['sysctl', '-qw', 'net.ipv6.conf.default.accept_ra=2', 'net.ipv6.conf.default.accept_dad=0'])
  await vethPair({ netns: sw, ifname: port }, { netns: vm, ifname: 'eth0' })
  return vm
}

async function scenario() {
  const dir = mkdtempSync(join(tmpdir(), 'lab-ns-ipv6-'))
  deferCleanup(`rm ${dir}`, () => rmSync(dir, { recursive: true, force: true }))
  const sw = await TestNetns.create('ns6-sw')
  const up = await TestNetns.create('ns6-up')
  // The upstream is the router there: it takes no RAs, not even its own dnsmasq's.
  await up.exec(['sysctl', '-qw', 'net.ipv6.conf.default.accept_dad=0', 'net.ipv6.conf.default.accept_ra=0'])
  await vethPair({ netns: sw, ifname: 'uplink0' }, { netns: up, ifname: 'u0', address: '10.99.0.1/24' })
  await up.exec(['ip', 'addr', 'add', 'fd99::1/64', 'dev', 'u0', 'nodad'])
  await sw.exec(['ip', 'link', 'set', 'uplink0', 'address', DEFAULT_UPLINK_MAC])
  // The upstream: RAs for fd99::/64 (SLAAC) and DHCPv6 addresses from it, by dnsmasq.
  const dnsmasq = await Daemon.start({
    name: 'dnsmasq (upstream)',
    netns: up.name,
    argv: ['dnsmasq', '--keep-in-foreground', '--port=0', '--interface=u0', '--bind-interfaces', '--no-ping', '--conf-file=/dev/null', '--log-facility=-',
      `--dhcp-leasefile=${join(dir, 'upstream.leases')}`, `--pid-file=${join(dir, 'dnsmasq.pid')}`, '--dhcp-range=10.99.0.10,10.99.0.50,255.255.255.0,1h', '--dhcp-option=option:router,10.99.0.1',
      '--enable-ra', '--dhcp-range=fd99::100,fd99::1ff,slaac,64,1h'],
    ready: /DHCPv6, IP range/,
  })
  // What the upstream sees: a UDP echo on fd99::1 that answers with the source it saw.
  // Bound to fd99::1: answers leave from the address asked (conntrack maps only those back).
  const echo = await UdpSocket.open({ netns: up.name, address: 'fd99::1', port: 7 })
  deferCleanup('echo', () => echo.close())
  echo.on('message', (d) => void echo.send({ data: Buffer.from(d.from.address), address: d.from.address, port: d.from.port }))
  return { dir, sw, up, dnsmasq, leaseFile: join(dir, 'leases') }
}

/** One datagram to the upstream's echo from `ns`; resolves with the source address the upstream saw. */
async function seenUpstream(ns: TestNetns): Promise<string> {
  const s = await UdpSocket.open({ netns: ns.name, address: '::', port: 0 })
  try {
    const answer = new Promise<string>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no echo from fd99::1 in ${ns.name}`)), 3000)
      s.on('message', (d) => (clearTimeout(t), resolve(d.data.toString())))
    })
    await s.send({ data: Buffer.from('hi'), address: 'fd99::1', port: 7 })
    return await answer
  } finally {
    s.close()
  }
}

const peers = hasCommand('dnsmasq') && hasCommand('nft') && hasCommand('ping')

describe.skipIf(!isRoot() || !peers)('dual stack (needs root, dnsmasq, nft, ping)', () => {
  it('VMs get IPv6 by SLAAC and DHCPv6, reach each other across the bridge and the upstream through NAT66, also after a restart; a forward to an IPv6 VM', async () => {
    const t = await scenario()
    // VM 2 is the only DHCPv6 client: it gets the range's first address, which the forward points at.
    const forwards = [{ listenPort: 8080, targetHost: 'fd0a:b3ec:1::1000', targetPort: 8080 }]
    const start = () => RunningSwitch.start({ netns: t.sw.name, leaseFile: t.leaseFile, forwards, controlSocket: false, logger: silent })
    let sw = await start()
    const vm1 = await vmNamespace(t.sw, 'port1')
    const vm2 = await vmNamespace(t.sw, 'port2')

    // VM 1: the kernel's SLAAC from our RA, and the switch's link-local address as its default router.
    const slaac1 = (await until('SLAAC address on vm1', () => globals6(vm1, 'eth0'), (a) => a.some((x) => ULA.test(x))))[0]!
    expect(slaac1).toMatch(/^fd0a:b3ec:1:0:[0-9a-f:]+\/64$/)
    const route = await until('default route on vm1', () => defaultRoute6(vm1), (r) => r !== undefined)
    expect(route!.protocol).toBe('ra')
    expect(route!.gateway).toMatch(/^fe80::/)

    // VM 2: our DHCPv6 client, an address from the switch's range (as a /128), SLAAC beside it.
    const client = await DhcpV6Client.start({ netns: vm2.name, interface: 'eth0', onLease: manageIP({ netns: vm2.name }) })
    deferCleanup('dhcp6 client', () => client.stop())
    const lease = await client.waitForLease(10_000)
    const dhcp2 = lease.addresses[0]!.address
    expect(BigInt(`0x${dhcp2.split(':').at(-1)}`)).toBeGreaterThanOrEqual(0x1000n)
    expect(dhcp2).toMatch(/^fd0a:b3ec:1::[0-9a-f]+$/)
    expect(await until('DHCPv6 and SLAAC addresses on vm2', () => globals6(vm2, 'eth0'), (a) => a.length === 2)).toContain(`${dhcp2}/128`)
    await until('default route on vm2', () => defaultRoute6(vm2), (r) => r !== undefined)

    // The switch's own uplink IPv6 from dnsmasq (SLAAC, and DHCPv6 through our client).
    let status: SwitchStatus = await until('uplink IPv6', () => sw.status(), (s) => (s.ipv6?.uplink?.addresses.length ?? 0) >= 2 && s.ipv6?.uplink?.router != null && s.ipv6.uplink.nat)
    const uplinkAddresses = status.ipv6!.uplink!.addresses.map((a) => a.split('/')[0])
    expect(status.ipv6!.uplink!.lease!.addresses[0]).toMatch(/^fd99::1[0-9a-f]{2}$/)
    expect(status.ipv6).toMatchObject({ address: 'fd0a:b3ec:1::1/64', prefix: 'fd0a:b3ec:1::/64', dhcp: { ok: true } })
    expect(status.leases6!.map((l) => l.address)).toEqual([dhcp2])

    const check = async () => {
      // Across the bridge, both ways, to SLAAC and to DHCPv6 addresses.
      expect(await ping6(vm1, dhcp2)).toBe(true)
      expect(await ping6(vm2, slaac1.split('/')[0]!)).toBe(true)
      // Out through NAT66: the upstream sees one of the switch's uplink addresses, never the ULA.
      for (const vm of [vm1, vm2]) {
        expect(await ping6(vm, 'fd99::1')).toBe(true)
        expect(uplinkAddresses).toContain(await seenUpstream(vm))
      }
    }
    await check()
    const { stdout } = await t.sw.exec(['nft', '-j', 'list', 'table', 'ip6', 'nanoswitch'])
    expect(stdout).toContain('"masquerade"')

    // The forward: the upstream connects to the switch's uplink IPv6 address and sends 100 000
    // bytes; VM 2 answers with what it saw (the upstream's own address: DNAT only) and 100 000
    // bytes. The forward's counters have the bytes each way (IP packets: at least the payload,
    // well under twice it), in status and in /metrics.
    expect(dhcp2).toBe('fd0a:b3ec:1::1000')
    const PAYLOAD = 100_000
    const web = await listenTcp({ netns: vm2.name, host: '::', port: 8080 }, (sock) => {
      let got = 0
      sock.on('data', (d: Buffer) => void (got += d.length))
      sock.on('end', () => sock.end(`vm2 saw ${sock.remoteAddress} after ${got} bytes\n${'y'.repeat(PAYLOAD)}`))
    })
    deferCleanup('web', () => web.close())
    const conn = await connectTcp({ netns: t.up.name, host: uplinkAddresses[0]!, port: 8080 })
    conn.end(Buffer.alloc(PAYLOAD, 'x'))
    expect(await readToEnd(conn)).toBe(`vm2 saw fd99::1 after ${PAYLOAD} bytes\n${'y'.repeat(PAYLOAD)}`)
    const [forward] = (await sw.status()).forwards
    expect(forward).toMatchObject({ spec: '8080:[fd0a:b3ec:1::1000]:8080', mode: 'kernel', total: 1 })
    expect(forward!.bytes).toBe(forward!.bytesIn! + forward!.bytesOut!)
    const inRange = (bytes: number | undefined) => expect([bytes! >= PAYLOAD, bytes! < 2 * PAYLOAD]).toEqual([true, true])
    inRange(forward!.bytesIn)
    inRange(forward!.bytesOut)
    const exported = (await sw.metrics().getMetricsAsJSON()).find((m) => m.name === 'nanoswitch_forward_bytes_total')!
    for (const direction of ['in', 'out']) inRange(exported.values.find((v) => v.labels.forward === forward!.spec && v.labels.direction === direction)?.value)
    const forwards6 = JSON.parse((await t.sw.exec(['nft', '-j', 'list', 'table', 'ip6', 'nanoswitch-forwards'])).stdout) as { nftables: Array<{ rule?: { chain: string; comment?: string } }> }
    expect(forwards6.nftables.filter((o) => o.rule?.chain === 'forward').map((o) => o.rule!.comment)).toEqual([forward!.spec, forward!.spec])

    // A restart (leaving what it made, as after a crash): the next switch adopts it, VMs go on.
    await sw.stop({ keep: true })
    sw = await start()
    await until('default route on vm1 again', () => defaultRoute6(vm1), (r) => r !== undefined)
    await until('default route on vm2 again', () => defaultRoute6(vm2), (r) => r !== undefined)
    status = await until('NAT66 again', () => sw.status(), (s) => s.ipv6?.uplink?.nat === true)
    expect(status.leases6!.map((l) => l.address)).toEqual([dhcp2])
    await check()
    await sw.stop()
    // A clean stop: no ip6 table and no bridge address left.
    const tables = JSON.parse((await t.sw.exec(['nft', '-j', 'list', 'tables'])).stdout) as { nftables: Array<{ table?: unknown }> }
    expect(tables.nftables.filter((o) => o.table)).toEqual([])
  })

  it('with ipv6: false there is no IPv6 on the bridge: no address, no RA, no DHCPv6, no ip6 table', async () => {
    const t = await scenario()
    const sw = await RunningSwitch.start({ netns: t.sw.name, ipv6: false, controlSocket: false, logger: silent })
    deferCleanup('switch', () => sw.stop())
    const vm = await vmNamespace(t.sw, 'port1')
    const status = await until('uplink lease', () => sw.status(), (s) => s.uplink?.address != null)
    expect(status.ipv6).toBeNull()
    expect(status.leases6).toEqual([])
    expect(status.supervisor.children.map((c) => c.name).sort()).toEqual(['dhcp-server', 'ports', 'uplink'])
    expect(await globals6(t.sw, 'vmbridge')).toEqual([])
    const tables = JSON.parse((await t.sw.exec(['nft', '-j', 'list', 'tables'])).stdout) as { nftables: Array<{ table?: { family: string } }> }
    expect(tables.nftables.flatMap((o) => (o.table ? [o.table.family] : []))).toEqual(['ip'])
    // A Router Solicitation from the VM is answered by nobody (RFC 4861 6.3.7: three, 4 s apart for
    // a host; one 2 s wait is the negative here), and the VM forms no global address.
    await using socket = await NdSocket.open({ netns: vm.name, interface: 'eth0', receive: ['router-advertisement'] })
    const heard = new Promise<boolean>((resolve) => {
      const t = setTimeout(() => resolve(false), 2000)
      socket.on('message', () => (clearTimeout(t), resolve(true)))
    })
    await socket.send({ type: 'router-solicitation', options: [] }, { destination: 'ff02::2', source: '::' })
    expect(await heard).toBe(false)
    expect(await globals6(vm, 'eth0')).toEqual([])
  })

  it('routed mode: a client link gets the /64 its MAC encodes, the client configures itself by SLAAC, and reaches the upstream through NAT66', async () => {
    const t = await scenario()
    // The scenario's uplink0 is routed mode's uplink; cA is a client link for 100.0.0.4/31.
    const mac = clientMacFor('100.0.0.4/31')
    expect(ipv6PrefixFromMac(mac)).toEqual({ prefix: 'fd0a:b3ec:0:4::/64', router: 'fd0a:b3ec:0:4::1' })
    const vm = await TestNetns.create('ns6-vm')
    await vm.exec(['sysctl', '-qw', 'net.ipv6.conf.default.accept_ra=2', 'net.ipv6.conf.default.accept_dad=0'])
    await t.sw.exec(['ip', 'link', 'add', 'cA', 'address', mac, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', vm.name])
    await vm.exec(['ip', 'link', 'set', 'eth0', 'up'])
    const sw = await RunningSwitch.start({ mode: 'routed', netns: t.sw.name, controlSocket: false, logger: silent })
    deferCleanup('switch', () => sw.stop())
    const address = (await until('SLAAC address in the link /64', () => globals6(vm, 'eth0'), (a) => a.some((x) => x.startsWith('fd0a:b3ec:0:4:'))))[0]!
    expect(address).toMatch(/^fd0a:b3ec:0:4:[0-9a-f:]+\/64$/)
    await until('default route', () => defaultRoute6(vm), (r) => r !== undefined)
    expect((await sw.status()).clients).toMatchObject([{ link: 'cA', router: '100.0.0.4/31', ipv6: 'fd0a:b3ec:0:4::1/64' }])
    expect(await ping6(vm, 'fd0a:b3ec:0:4::1')).toBe(true)
    // The uplink's SLAAC address from dnsmasq's RA, then out through NAT66.
    // Usable once past DAD (the router's namespace keeps DAD on), with the RA's default route.
    const usable = async () => (await t.sw.ip<IpAddr[]>(['-6', 'addr', 'show', 'dev', 'uplink0', 'scope', 'global'])).flatMap((l) => l.addr_info.filter((x) => !x.tentative).map((x) => `${x.local}/${x.prefixlen}`))
    const uplink = await until('uplink SLAAC past DAD', usable, (a) => a.some((x) => x.startsWith('fd99::')))
    await until('router default route', () => defaultRoute6(t.sw), (r) => r !== undefined)
    expect(await ping6(vm, 'fd99::1')).toBe(true)
    expect(uplink.map((a) => a.split('/')[0])).toContain(await seenUpstream(vm))
    await sw.stop()
    expect(await globals6(t.sw, 'cA')).toEqual([])
    const tables = JSON.parse((await t.sw.exec(['nft', '-j', 'list', 'tables'])).stdout) as { nftables: Array<{ table?: unknown }> }
    expect(tables.nftables.filter((o) => o.table)).toEqual([])
  })
})

describe.skipIf(!isRoot() || !hasCommand('rdisc6') || !hasCommand('dhclient'))('IPv6 as other hosts see it (needs root, rdisc6, dhclient)', () => {
  it('rdisc6 reads the RA (prefix, M and O, RDNSS from an IPv6 --dns); dhclient -6 gets an address and the DNS server', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lab-ns-ipv6-peers-'))
    deferCleanup(`rm ${dir}`, () => rmSync(dir, { recursive: true, force: true }))
    const sw = await TestNetns.create('ns6-sw')
    const vm = await vmNamespace(sw, 'port1')
    const s = await RunningSwitch.start({ netns: sw.name, dns: ['10.42.0.3', 'fd0a:b3ec:1::53'], controlSocket: false, logger: silent })
    deferCleanup('switch', () => s.stop())
    // rdisc6 sends from the link-local address: there once the link has carrier.
    await until('link-local on eth0', () => vm.ip<IpAddr[]>(['-6', 'addr', 'show', 'dev', 'eth0', 'scope', 'link']), (l) => l.some((x) => x.addr_info.length > 0))
    const ra = await vm.exec(['rdisc6', '-1', '-w', '2000', 'eth0'])
    expect(ra.stdout).toMatch(/Stateful address conf\.\s*:\s*Yes/)
    expect(ra.stdout).toMatch(/Stateful other conf\.\s*:\s*Yes/)
    expect(ra.stdout).toMatch(/Prefix\s*:\s*fd0a:b3ec:1::\/64/)
    expect(ra.stdout).toMatch(/Recursive DNS server\s*:\s*fd0a:b3ec:1::53/)
    const dhclient = await Daemon.start({ name: 'dhclient -6', netns: vm.name, argv: ['dhclient', '-6', '-d', '-v', '-pf', join(dir, 'dhclient6.pid'), '-lf', join(dir, 'dhclient6.leases'), 'eth0'] })
    deferCleanup('dhclient', () => dhclient.stop())
    const address = (await dhclient.waitFor(/IAADDR (fd0a:b3ec:1::[0-9a-f]+)/, 15_000))[1]!
    await dhclient.waitFor(/Bound to lease/i, 15_000)
    expect(BigInt(`0x${address.split(':').at(-1)}`)).toBeGreaterThanOrEqual(0x1000n)
    expect(await until('the address on eth0', () => globals6(vm, 'eth0'), (a) => a.includes(`${address}/128`))).toContain(`${address}/128`)
    expect((await s.status()).leases6!.map((l) => l.address)).toEqual([address])
    // The DNS server (option 23) as dhclient recorded the lease.
    expect(readFileSync(join(dir, 'dhclient6.leases'), 'utf8')).toMatch(/dhcp6\.name-servers fd0a:b3ec:1::53;/)
  })
})

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url))

describe.skipIf(!isRoot() || !peers || !existsSync(cli))('dual stack across a kill -9 (needs root, dnsmasq, nft, ping, a build)', () => {
  it('nanoswitch run killed with SIGKILL and started again: one ip6 table and rule, the DHCPv6 binding kept, VMs reach each other and the upstream again', async () => {
    const t = await scenario()
    const socket = join(t.dir, 'control.sock')
    const start = () => Daemon.start({ name: 'nanoswitch', argv: [process.execPath, cli, 'run', '--netns', t.sw.name, '--socket', socket, '--lease-file', t.leaseFile], ready: /switch healthy/ })
    let sw = await start()
    const vm1 = await vmNamespace(t.sw, 'port1')
    const vm2 = await vmNamespace(t.sw, 'port2')
    const client = await DhcpV6Client.start({ netns: vm2.name, interface: 'eth0', onLease: manageIP({ netns: vm2.name }) })
    deferCleanup('dhcp6 client', () => client.stop())
    const dhcp2 = (await client.waitForLease(10_000)).addresses[0]!.address
    const slaac1 = (await until('SLAAC address on vm1', () => globals6(vm1, 'eth0'), (a) => a.some((x) => ULA.test(x))))[0]!.split('/')[0]!
    const status = () => readControl(socket) as Promise<SwitchStatus>
    await until('NAT66', status, (s) => s.ipv6?.uplink?.nat === true && (s.ipv6.uplink.addresses.length ?? 0) > 0 && s.ipv6.uplink.router !== null)

    sw.child.kill('SIGKILL')
    await sw.stop()
    sw = await start()
    const after = await until('NAT66 again', status, (s) => s.ipv6?.uplink?.nat === true && s.ipv6.uplink.addresses.length > 0 && s.ipv6.uplink.router !== null)
    expect(after.leases6!.map((l) => l.address)).toEqual([dhcp2])
    const rs = JSON.parse((await t.sw.exec(['nft', '-j', 'list', 'table', 'ip6', 'nanoswitch'])).stdout) as { nftables: Array<{ rule?: { expr: object[] } }> }
    expect(rs.nftables.filter((o) => o.rule && JSON.stringify(o.rule.expr).includes('masquerade'))).toHaveLength(1)
    expect(await globals6(t.sw, 'vmbridge')).toEqual(['fd0a:b3ec:1::1/64'])
    expect(await ping6(vm1, dhcp2)).toBe(true)
    expect(await ping6(vm2, slaac1)).toBe(true)
    for (const vm of [vm1, vm2]) expect(after.ipv6!.uplink!.addresses.map((a) => a.split('/')[0])).toContain(await seenUpstream(vm))
    await sw.stop()
  })
})
