// Prefix delegation on the uplink, end to end: an "ISP" namespace sends RAs for 2001:db8:ff::/64
// (@lab/ndp's advertiser) and runs a DHCPv6 server (@lab/dhcp6) that delegates /56s from
// 2001:db8:100::/48, and routes the delegated prefix back to the switch as an ISP router would
// (from the bindings the server reports). The switch puts the first /64 on its bridge and announces
// it: a VM forms an address in it by SLAAC and reaches the upstream with that address as the source
// (no NAT), while a VM with only a ULA address is still masqueraded. The uplink going away
// withdraws the prefix (the VM's address deprecated, the switch's address and routes gone); the
// uplink coming back brings it again; a stop releases it and removes everything.
import pino from 'pino'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { DhcpV6Server } from '@lab/dhcp6'
import { RouterAdvertiser } from '@lab/ndp'
import { UdpSocket, parseCidr } from '@lab/netlink-native'
import { TestNetns, cleanupAll, deferCleanup, hasCommand, isRoot, vethPair } from '@lab/testkit'
import { DEFAULT_UPLINK_MAC, RunningSwitch, type SwitchStatus } from '../src/index.js'
import { startOptions } from '../src/cli/program.js'

const silent = pino({ level: 'silent' })

afterEach(() => cleanupAll())
afterAll(() => cleanupAll())

interface IpAddr { addr_info: Array<{ family: string; local: string; prefixlen: number; deprecated?: boolean }> }
interface IpRoute { dst: string; type?: string; gateway?: string }

async function until<T>(what: string, read: () => Promise<T>, ok: (value: T) => boolean): Promise<T> {
  for (let i = 0; ; i++) {
    const value = await read()
    if (ok(value)) return value
    if (i > 600) throw new Error(`never became true: ${what} (last: ${JSON.stringify(value)})`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

const addrs6 = async (ns: TestNetns, dev: string) => (await ns.ip<IpAddr[]>(['-6', 'addr', 'show', 'dev', dev, 'scope', 'global'])).flatMap((l) => l.addr_info.filter((a) => a.family === 'inet6'))
const globals6 = async (ns: TestNetns, dev: string) => (await addrs6(ns, dev)).map((a) => `${a.local}/${a.prefixlen}`)
const routes6 = (ns: TestNetns, ...args: string[]) => ns.ip<IpRoute[]>(['-6', 'route', 'show', ...args])

/** One datagram to the upstream's echo from `ns` (from `source` if given); the source address the upstream saw. */
async function seenUpstream(ns: TestNetns, source = '::'): Promise<string> {
  const s = await UdpSocket.open({ netns: ns.name, address: source, port: 0 })
  try {
    const answer = new Promise<string>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no echo from 2001:db8:ff::1 in ${ns.name}`)), 3000)
      s.on('message', (d) => (clearTimeout(t), resolve(d.data.toString())))
    })
    await s.send({ data: Buffer.from('hi'), address: '2001:db8:ff::1', port: 7 })
    return await answer
  } finally {
    s.close()
  }
}

/** The ISP: a bridge with 2001:db8:ff::1/64, RAs for it, DHCPv6 delegating /56s, a UDP echo; the switch's namespace joined to it by uplink0. */
async function isp() {
  const sw = await TestNetns.create('nspd-sw')
  const up = await TestNetns.create('nspd-up')
  await up.exec(['sysctl', '-qw', 'net.ipv6.conf.default.accept_dad=0', 'net.ipv6.conf.default.accept_ra=0', 'net.ipv6.conf.all.forwarding=1'])
  // The ISP's side is a bridge, so the uplink's veth can go and come back while its servers run.
  await up.exec(['ip', 'link', 'add', 'isp0', 'type', 'bridge', 'mcast_snooping', '0'])
  await up.exec(['ip', 'link', 'set', 'isp0', 'up'])
  await up.exec(['ip', 'addr', 'add', '2001:db8:ff::1/64', 'dev', 'isp0', 'nodad'])
  const uplink = async () => {
    // With the uplink's MAC from the start: a link that appears with another one joins the bridge.
    await sw.exec(['ip', 'link', 'add', 'uplink0', 'address', DEFAULT_UPLINK_MAC, 'type', 'veth', 'peer', 'name', 'u0', 'netns', up.name])
    await up.exec(['ip', 'link', 'set', 'u0', 'master', 'isp0', 'up'])
    await sw.exec(['ip', 'link', 'set', 'uplink0', 'up'])
  }
  await uplink()

  // The ISP: RAs for its /64 (the switch's SLAAC address and default route), DHCPv6 with a PD pool.
  const ra = await RouterAdvertiser.start({ netns: up.name, interface: 'isp0', prefixes: ['2001:db8:ff::/64'], managed: true, other: true, maxInterval: 4 })
  deferCleanup('upstream RAs', () => ra.stop())
  const server = await DhcpV6Server.start({
    netns: up.name,
    interface: 'isp0',
    subnets: [{ prefix: '2001:db8:ff::/64', range: ['2001:db8:ff::100', '2001:db8:ff::1ff'], pdPool: { prefix: '2001:db8:100::/48', length: 56 } }],
  })
  deferCleanup('upstream DHCPv6', () => server.stop())
  const echo = await UdpSocket.open({ netns: up.name, address: '2001:db8:ff::1', port: 7 })
  deferCleanup('echo', () => echo.close())
  echo.on('message', (d) => void echo.send({ data: Buffer.from(d.from.address), address: d.from.address, port: d.from.port }))

  return { sw, up, uplink, server }
}

const peers = hasCommand('nft') && hasCommand('ping')

describe.skipIf(!isRoot() || !peers)('prefix delegation on the uplink (needs root, nft, ping)', () => {
  it('routes the first /64 of a delegated /56 without NAT, announces it for SLAAC, withdraws it when the uplink goes, and removes it on stop', async () => {
    const { sw, up, uplink, server } = await isp()

    let running: RunningSwitch | undefined = await RunningSwitch.start({ netns: sw.name, controlSocket: false, logger: silent })
    deferCleanup('switch', () => running?.stop())
    const status = async () => running!.status()

    // The switch's binding upstream: an address and a /56, both for its DUID.
    let s: SwitchStatus = await until('a delegated prefix', status, (x) => x.ipv6?.delegated != null && (x.ipv6.uplink?.addresses.length ?? 0) > 0)
    const d = s.ipv6!.delegated!
    expect(d.prefix).toMatch(/^2001:db8:100:(:|[0-9a-f]*00::)\/56$/)
    expect(d).toMatchObject({ bridgePrefix: d.prefix.replace('/56', '/64'), address: d.prefix.replace('::/56', '::1/64'), validLifetime: 7200, preferredLifetime: 3600 })
    const first64 = parseCidr(d.bridgePrefix).bytes.subarray(0, 8)
    const inDelegated = (cidr: string) => parseCidr(`${cidr.split('/')[0]}/128`).bytes.subarray(0, 8).equals(first64)
    expect(Date.parse(d.expiresAt!)).toBeGreaterThan(Date.now())
    expect(s.ipv6!.uplink!.lease!.prefixes).toEqual([d.prefix])
    const bindings = server.db.list().filter((b) => b.state === 'bound')
    const pd = bindings.find((b) => b.kind === 'pd')!
    expect(pd.address).toBe(d.prefix)
    const na = bindings.find((b) => b.kind === 'na' && b.duid === pd.duid)!
    // What an ISP's router does with a delegation: a route for it via the requesting router.
    await up.exec(['ip', '-6', 'route', 'replace', d.prefix, 'via', na.address, 'dev', 'isp0'])

    // On the switch: its address in the /64 beside the ULA one, the /56's unreachable route, the ULA only masqueraded.
    expect(await globals6(sw, 'vmbridge')).toEqual(expect.arrayContaining(['fd0a:b3ec:1::1/64', d.address]))
    expect(await routes6(sw, 'type', 'unreachable')).toEqual([expect.objectContaining({ dst: d.prefix, type: 'unreachable' })])
    const nat = (await sw.exec(['nft', 'list', 'table', 'ip6', 'nanoswitch'])).stdout
    expect(nat).toMatch(/ip6 saddr fd0a:b3ec:1::\/64 oifname "uplink0" masquerade/)

    // VM 1 takes RAs: SLAAC addresses in both /64s; to the upstream its delegated address is the source, unchanged.
    const vm1 = await TestNetns.create('nspd-vm')
    await vm1.exec(['sysctl', '-qw', 'net.ipv6.conf.default.accept_ra=2', 'net.ipv6.conf.default.accept_dad=0'])
    await vethPair({ netns: sw, ifname: 'port1' }, { netns: vm1, ifname: 'eth0' })
    const a1 = await until('SLAAC addresses in the delegated and the ULA /64 on vm1', () => globals6(vm1, 'eth0'), (a) => a.some(inDelegated) && a.some((x) => x.startsWith('fd0a:b3ec:1:')))
    const delegated1 = a1.find(inDelegated)!.split('/')[0]!
    const ula1 = a1.find((x) => x.startsWith('fd0a:b3ec:1:'))!.split('/')[0]!
    await until('a default route on vm1', () => routes6(vm1, 'default'), (r) => r.length > 0)
    expect((await vm1.exec(['ping', '-6', '-c', '1', '-W', '2', '2001:db8:ff::1'], { allowFailure: true })).code).toBe(0)
    expect(await seenUpstream(vm1)).toBe(delegated1)
    // The upstream reaches the VM's delegated address directly (routed, not a NAT mapping).
    expect((await up.exec(['ping', '-6', '-c', '1', '-W', '2', delegated1], { allowFailure: true })).code).toBe(0)

    // The ULA is still masqueraded: from vm1's ULA address and from a VM that has only a ULA address.
    const uplinkAddresses = (await globals6(sw, 'uplink0')).map((a) => a.split('/')[0])
    expect(uplinkAddresses).toContain(await seenUpstream(vm1, ula1))
    const vm2 = await TestNetns.create('nspd-vm')
    await vm2.exec(['sysctl', '-qw', 'net.ipv6.conf.default.accept_ra=0', 'net.ipv6.conf.default.accept_dad=0'])
    await vethPair({ netns: sw, ifname: 'port2', }, { netns: vm2, ifname: 'eth0', address: 'fd0a:b3ec:1::2:2/64' })
    await vm2.exec(['ip', '-6', 'route', 'add', 'default', 'via', 'fd0a:b3ec:1::1', 'dev', 'eth0'])
    expect(uplinkAddresses).toContain(await seenUpstream(vm2))

    // The uplink goes away: the prefix is withdrawn (RAs with lifetimes 0: vm1's address deprecated,
    // its on-link route gone), the switch's address and the unreachable route removed.
    await sw.exec(['ip', 'link', 'del', 'uplink0'])
    await until('the delegated prefix withdrawn', status, (x) => x.ipv6?.delegated === null)
    expect(await globals6(sw, 'vmbridge')).toEqual(['fd0a:b3ec:1::1/64'])
    expect(await routes6(sw, 'type', 'unreachable')).toEqual([])
    await until('vm1 address in the withdrawn prefix deprecated', () => addrs6(vm1, 'eth0'), (a) => a.some((x) => x.local === delegated1 && x.deprecated === true))
    await until('the withdrawn on-link route gone on vm1', () => routes6(vm1, 'dev', 'eth0'), (r) => !r.some((x) => x.dst === d.bridgePrefix))
    expect((await addrs6(vm1, 'eth0')).find((x) => x.local === ula1)?.deprecated).toBeUndefined()

    // It comes back: the same binding (same DUID and IAID), the prefix on the bridge and preferred on vm1 again.
    await uplink()
    s = await until('the delegated prefix again', status, (x) => x.ipv6?.delegated != null)
    expect(s.ipv6!.delegated!.prefix).toBe(d.prefix)
    await until('vm1 address in the delegated prefix preferred again', () => addrs6(vm1, 'eth0'), (a) => a.some((x) => x.local === delegated1 && !x.deprecated))
    expect(await globals6(sw, 'vmbridge')).toEqual(expect.arrayContaining([d.address]))

    // A clean stop releases the binding upstream and leaves nothing: no bridge, table or route.
    await running.stop()
    running = undefined
    await until('the upstream binding released', async () => server.db.list().filter((b) => b.kind === 'pd' && b.state === 'bound'), (b) => b.length === 0)
    expect(await routes6(sw, 'type', 'unreachable')).toEqual([])
    expect((await sw.exec(['ip', 'link', 'show', 'vmbridge'], { allowFailure: true })).code).not.toBe(0)
    const tables = JSON.parse((await sw.exec(['nft', '-j', 'list', 'tables'])).stdout) as { nftables: Array<{ table?: unknown }> }
    expect(tables.nftables.filter((o) => o.table)).toEqual([])
  })
  it('with prefixDelegation: false (--no-pd) asks for an address only: no prefix delegated, none on the bridge', async () => {
    expect(startOptions({ 'no-pd': true }).prefixDelegation).toBe(false)
    expect(startOptions({}).prefixDelegation).toBeUndefined()
    const { sw, server } = await isp()
    const running = await RunningSwitch.start({ netns: sw.name, prefixDelegation: false, controlSocket: false, logger: silent })
    deferCleanup('switch', () => running.stop())
    const s = await until('the uplink DHCPv6 lease', () => running.status(), (x) => x.ipv6?.uplink?.lease != null)
    expect(s.ipv6!.uplink!.lease!.prefixes).toEqual([])
    expect(s.ipv6!.delegated).toBeNull()
    expect(server.db.list().map((b) => b.kind)).toEqual(['na'])
    expect(await globals6(sw, 'vmbridge')).toEqual(['fd0a:b3ec:1::1/64'])
  })
})
