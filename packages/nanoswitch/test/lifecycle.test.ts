// What a switch leaves behind: a clean stop removes every nftables table, link and address it made
// (ports are released, not deleted); `keep` leaves them, and the next start adopts them without
// duplicates. Read back from the kernel with `ip -j` and `nft -j` in the test's namespaces.
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { Daemon, TestNetns, cleanupAll, deferCleanup, hasCommand, isRoot, vethPair, until } from '@lab/testkit'
import { CHANNELS, DEFAULT_UPLINK_MAC, RunningSwitch, clientMacFor, type PortEvent, type UplinkEvent } from '../src/index.js'

const silent = pino({ level: 'silent' })

afterEach(() => cleanupAll())
afterAll(() => cleanupAll())

interface IpLink { ifname: string; master?: string; linkinfo?: { info_kind?: string } }
interface IpAddr { ifname: string; addr_info: Array<{ family: string; local: string; prefixlen: number }> }
interface NftObject { table?: { family: string; name: string }; rule?: { family: string; table: string; chain: string; expr: Array<Record<string, unknown>> } }

const links = (ns: TestNetns) => ns.ip<IpLink[]>(['-d', 'link', 'show'])
const inet = async (ns: TestNetns, dev: string) =>
  (await ns.ip<IpAddr[]>(['addr', 'show', 'dev', dev])).flatMap((l) => l.addr_info.filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`))
async function ruleset(ns: TestNetns): Promise<NftObject[]> {
  const { stdout } = await ns.exec(['nft', '-j', 'list', 'ruleset'])
  return (JSON.parse(stdout) as { nftables: NftObject[] }).nftables
}
const tables = async (ns: TestNetns) => (await ruleset(ns)).flatMap((o) => (o.table ? [`${o.table.family} ${o.table.name}`] : [])).sort()
const rules = async (ns: TestNetns, table: string) => (await ruleset(ns)).flatMap((o) => (o.rule && o.rule.table === table ? [o.rule] : []))


/** A switch namespace with an uplink (the seed's MAC) to an upstream served by dnsmasq, and one VM port. */
async function switchedScenario() {
  const dir = mkdtempSync(join(tmpdir(), 'lab-ns-life-'))
  deferCleanup(`rm ${dir}`, () => rmSync(dir, { recursive: true, force: true }))
  const sw = await TestNetns.create('nsl-sw')
  const up = await TestNetns.create('nsl-up')
  const vm = await TestNetns.create('nsl-vm')
  await vethPair({ netns: sw, ifname: 'uplink0' }, { netns: up, ifname: 'u0', address: '10.99.0.1/24' })
  await sw.exec(['ip', 'link', 'set', 'uplink0', 'address', DEFAULT_UPLINK_MAC])
  await vethPair({ netns: sw, ifname: 'port1' }, { netns: vm, ifname: 'eth0' })
  const dnsmasq = await Daemon.start({
    name: 'dnsmasq (upstream)',
    netns: up.name,
    argv: ['dnsmasq', '--keep-in-foreground', '--port=0', '--interface=u0', '--bind-interfaces', '--no-ping', '--conf-file=/dev/null', '--log-facility=-',
      `--dhcp-leasefile=${join(dir, 'upstream.leases')}`, `--pid-file=${join(dir, 'dnsmasq.pid')}`, '--dhcp-range=10.99.0.10,10.99.0.50,255.255.255.0,1h', '--dhcp-option=option:router,10.99.0.1'],
    ready: /DHCP, IP range/,
  })
  return { dir, sw, up, vm, dnsmasq, leaseFile: join(dir, 'leases') }
}

const peers = hasCommand('dnsmasq') && hasCommand('nft')

describe.skipIf(!isRoot() || !peers)('a switch cleans up after itself (needs root, dnsmasq, nft)', () => {
  it('a clean stop removes the masquerade table, the bridge, its address and the uplink lease; ports are released, not deleted', async () => {
    const t = await switchedScenario()
    const s = await RunningSwitch.start({ netns: t.sw.name, leaseFile: t.leaseFile, controlSocket: false, logger: silent })
    const bound = await until('uplink lease', () => s.status(), (st) => st.uplink?.address != null)
    expect(await tables(t.sw)).toEqual(['ip nanoswitch', 'ip6 nanoswitch'])
    expect((await links(t.sw)).find((l) => l.ifname === 'port1')?.master).toBe('vmbridge')
    expect(await inet(t.sw, 'uplink0')).toEqual([bound.uplink!.address])

    await s.stop()
    expect(await tables(t.sw)).toEqual([])
    const after = await links(t.sw)
    expect(after.map((l) => l.ifname).sort()).toEqual(['lo', 'port1', 'uplink0'])
    expect(after.find((l) => l.ifname === 'port1')?.master).toBeUndefined()
    expect(await inet(t.sw, 'uplink0')).toEqual([])
    expect(await t.sw.ip<unknown[]>(['route', 'show', 'default'])).toEqual([])
  })

  it('with keep, leaves everything; the next start adopts it without duplicates, and its clean stop removes it', async () => {
    const t = await switchedScenario()
    const first = await RunningSwitch.start({ netns: t.sw.name, leaseFile: t.leaseFile, controlSocket: false, logger: silent, keep: true })
    await until('uplink lease', () => first.status(), (st) => st.uplink?.address != null)
    await first.stop()
    expect(await tables(t.sw)).toEqual(['ip nanoswitch', 'ip6 nanoswitch'])
    expect(await inet(t.sw, 'vmbridge')).toEqual(['10.1.0.1/24'])
    expect(await inet(t.sw, 'uplink0')).toHaveLength(1)

    const second = await RunningSwitch.start({ netns: t.sw.name, leaseFile: t.leaseFile, controlSocket: false, logger: silent })
    await until('uplink lease', () => second.status(), (st) => st.uplink?.state === 'bound')
    expect((await links(t.sw)).filter((l) => l.linkinfo?.info_kind === 'bridge').map((l) => l.ifname)).toEqual(['vmbridge'])
    expect(await inet(t.sw, 'vmbridge')).toEqual(['10.1.0.1/24'])
    expect(await inet(t.sw, 'uplink0')).toHaveLength(1)
    expect(await tables(t.sw)).toEqual(['ip nanoswitch', 'ip6 nanoswitch'])
    // One masquerade per family: the bridge's IPv4 subnet and its IPv6 /64 (NAT66).
    const masquerades = (await rules(t.sw, 'nanoswitch')).filter((r) => r.expr.some((e) => 'masquerade' in e))
    expect(masquerades.map((r) => r.family).sort()).toEqual(['ip', 'ip6'])
    expect((await links(t.sw)).find((l) => l.ifname === 'port1')?.master).toBe('vmbridge')

    await second.stop()
    expect(await tables(t.sw)).toEqual([])
    expect((await links(t.sw)).map((l) => l.ifname).sort()).toEqual(['lo', 'port1', 'uplink0'])
    expect(await inet(t.sw, 'uplink0')).toEqual([])
  })

  it('routed mode: a clean stop removes nanoswitch-routed and the router addresses of client links', async () => {
    const rt = await TestNetns.create('nsl-rt')
    const vm = await TestNetns.create('nsl-vm')
    await rt.exec(['ip', 'link', 'add', 'cA', 'address', clientMacFor('100.0.0.2/31'), 'type', 'veth', 'peer', 'name', 'eth0', 'netns', vm.name])
    const s = await RunningSwitch.start({ mode: 'routed', netns: rt.name, controlSocket: false, logger: silent })
    expect(await tables(rt)).toEqual(['ip nanoswitch-routed', 'ip6 nanoswitch-routed'])
    expect(await inet(rt, 'cA')).toEqual(['100.0.0.2/31'])
    await s.stop()
    expect(await tables(rt)).toEqual([])
    expect(await inet(rt, 'cA')).toEqual([])
    expect((await rt.ip<IpAddr[]>(['-6', 'addr', 'show', 'dev', 'cA', 'scope', 'global'])).flatMap((l) => l.addr_info)).toEqual([])
    expect((await links(rt)).map((l) => l.ifname).sort()).toEqual(['cA', 'lo'])
  })
})

describe.skipIf(!isRoot())('configuration errors stop the start at once (needs root)', () => {
  it('a namespace that does not exist: a SwitchError naming it, nothing restarted', async () => {
    const logged: string[] = []
    const logger = pino({ level: 'debug' }, { write: (line: string) => void logged.push(line) })
    await expect(RunningSwitch.start({ netns: 'lab-nosuch-ns', controlSocket: false, logger })).rejects.toMatchObject({
      name: 'SwitchError',
      code: 'LAB_ERR_SWITCH_CONFIG',
      message: 'netns lab-nosuch-ns: no such network namespace (see ip netns list)',
    })
    expect(logged.filter((l) => l.includes('restarting'))).toEqual([])
  })

  it('a lease file whose directory cannot be made (a file is in the way)', async () => {
    const sw = await TestNetns.create('nsl-cfg')
    const dir = mkdtempSync(join(tmpdir(), 'lab-ns-cfg-'))
    deferCleanup(`rm ${dir}`, () => rmSync(dir, { recursive: true, force: true }))
    const file = join(dir, 'file')
    await sw.exec(['touch', file])
    await expect(RunningSwitch.start({ netns: sw.name, leaseFile: join(file, 'sub', 'leases'), controlSocket: false, logger: silent })).rejects.toMatchObject({
      code: 'LAB_ERR_SWITCH_CONFIG',
      message: expect.stringMatching(/^lease file .*\/file\/sub\/leases: cannot create its directory .*\/file\/sub \(ENOTDIR\)$/),
    })
    // Nothing was made.
    expect((await links(sw)).map((l) => l.ifname)).toEqual(['lo'])
  })

  it('invalid values are ArgumentErrors naming the option, before anything starts', async () => {
    const sw = await TestNetns.create('nsl-cfg')
    await expect(RunningSwitch.start({ netns: sw.name, dns: ['10.1.0.999'], controlSocket: false, logger: silent })).rejects.toMatchObject({ code: 'LAB_ERR_ARGUMENT', field: 'dns' })
    await expect(RunningSwitch.start({ mode: 'routed', netns: sw.name, oui: 'zz:zz', controlSocket: false, logger: silent })).rejects.toMatchObject({ code: 'LAB_ERR_ARGUMENT', field: 'oui' })
    expect((await links(sw)).map((l) => l.ifname)).toEqual(['lo'])
  })
})

describe.skipIf(!isRoot() || !peers)('uplink and ports as they come and go (needs root, dnsmasq, nft)', () => {
  it('--uplink NAME that is not there: says it waits (log, status, channel), and uses the link when it appears', async () => {
    const sw = await TestNetns.create('nsl-sw')
    const up = await TestNetns.create('nsl-up')
    const logged: string[] = []
    const logger = pino({ level: 'info' }, { write: (line: string) => void logged.push(line) })
    const uplinkEvents: UplinkEvent[] = []
    const onUplink = (m: unknown) => void uplinkEvents.push(m as UplinkEvent)
    subscribe(CHANNELS.uplink, onUplink)
    deferCleanup('unsubscribe', () => unsubscribe(CHANNELS.uplink, onUplink))
    const s = await RunningSwitch.start({ netns: sw.name, uplink: { name: 'late0' }, controlSocket: false, logger })
    deferCleanup('switch', () => s.stop())
    expect((await s.status()).uplink).toMatchObject({ name: 'late0', state: 'waiting for link' })
    expect(await s.formattedStatus()).toContain('uplink late0: waiting for the link to appear')
    expect(logged.some((l) => l.includes('uplink late0 is not there: waiting for it to appear'))).toBe(true)
    expect(uplinkEvents.filter((e) => e.netns === sw.name)[0]).toEqual({ netns: sw.name, uplink: 'late0', state: 'waiting' })
    expect(await tables(sw)).toEqual([])

    await vethPair({ netns: sw, ifname: 'late0' }, { netns: up, ifname: 'u0', address: '10.99.0.1/24' })
    await until('masquerade out of late0', () => rules(sw, 'nanoswitch'), (r) => JSON.stringify(r).includes('"late0"'))
    const st = await until('uplink found', () => s.status(), (x) => x.uplink?.state !== 'waiting for link')
    expect(st.uplink!.name).toBe('late0')
    expect(st.bridge!.ports).toEqual([]) // the uplink is not a port
    expect(uplinkEvents.some((e) => e.uplink === 'late0' && e.state === 'found')).toBe(true)
    await s.stop()
  })

  it('publishes ports joining and leaving the bridge on lab:nanoswitch:port', async () => {
    const sw = await TestNetns.create('nsl-sw')
    const vm = await TestNetns.create('nsl-vm')
    const events: PortEvent[] = []
    const onPort = (m: unknown) => {
      if ((m as PortEvent).netns === sw.name) events.push(m as PortEvent)
    }
    subscribe(CHANNELS.port, onPort)
    deferCleanup('unsubscribe', () => unsubscribe(CHANNELS.port, onPort))
    const s = await RunningSwitch.start({ netns: sw.name, controlSocket: false, logger: silent })
    await vethPair({ netns: sw, ifname: 'port7' }, { netns: vm, ifname: 'eth0' })
    await until('port7 up', async () => events, (e) => e.some((x) => x.port === 'port7' && x.state === 'up'))
    await sw.exec(['ip', 'link', 'del', 'port7'])
    await until('port7 down', async () => events, (e) => e.some((x) => x.port === 'port7' && x.state === 'down'))
    expect((await s.status()).bridge!.ports).toEqual([])
    await s.stop()
    expect(events.map((e) => [e.port, e.state])).toEqual([['port7', 'up'], ['port7', 'down']])
  })
})
