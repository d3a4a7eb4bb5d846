// One switched network across three "hosts" (namespaces on a shared underlay bridge), each with a
// nanoswitch in fabric mode: VXLAN on the bridge, real FRR (zebra + bgpd) doing BGP EVPN. Clients
// take leases with udhcpc and with our DhcpClient; read back with ping, `bridge -j fdb`, vtysh
// JSON and the switch's status. Faults: kill -9 of a bgpd, a host that stops.
import { existsSync, readFileSync } from 'node:fs'
import pino from 'pino'
import { afterAll, describe, expect, it } from 'vitest'
import { announce } from '@lab/arp'
import { DhcpClient, compose, manageIP } from '@lab/dhcp4'
import { ipv4ToNumber } from '@lab/netlink-native'
import { Daemon, TestNetns, cleanupAll, deferCleanup, hasCommand, isRoot, run, vethPair } from '@lab/testkit'
import { RunningSwitch, SwitchError, gatewayMacFor, type FabricOptions } from '../src/index.js'
import { frrProcesses, killFrr } from './frr-cleanup.js'

/** What the README's "many hosts" section says, measured here. */
const ANNOUNCEMENT_REACHES = {
  request: { sameHost: true, otherHost: false },
  arping: { sameHost: true, otherHost: false },
  reply: { sameHost: true, otherHost: false },
}

const silent = pino({ level: 'silent' })
afterAll(() => cleanupAll())

const VNI = 4242
const ranges: Array<[string, string]> = [['10.1.0.10', '10.1.0.79'], ['10.1.0.80', '10.1.0.149'], ['10.1.0.150', '10.1.0.219']]
const vtep = (i: number) => `192.168.50.${i + 1}`

async function until<T>(what: string, read: () => Promise<T>, ok: (value: T) => boolean, tries = 150, everyMs = 100): Promise<T> {
  let last: T | undefined
  for (let i = 0; i < tries; i++) {
    last = await read()
    if (ok(last)) return last
    await new Promise((r) => setTimeout(r, everyMs))
  }
  throw new Error(`never became true: ${what} (last: ${JSON.stringify(last)})`)
}

interface FdbEntry { mac: string; ifname?: string; dev?: string; flags?: string[]; dst?: string }
const fdb = async (ns: TestNetns): Promise<FdbEntry[]> => JSON.parse((await ns.exec(['bridge', '-j', 'fdb', 'show', 'dev', `vx${VNI}`])).stdout) as FdbEntry[]
const externMacs = async (ns: TestNetns) => (await fdb(ns)).filter((e) => e.flags?.includes('extern_learn') && e.mac !== '00:00:00:00:00:00').map((e) => e.mac)
const inRange = (address: string, [a, b]: [string, string]) => ipv4ToNumber(address) >= ipv4ToNumber(a) && ipv4ToNumber(address) <= ipv4ToNumber(b)
const peers = ['frr', 'udhcpc', 'ping', 'bridge', 'vtysh'].every((c) => c === 'frr' ? existsSync('/usr/lib/frr/bgpd') : hasCommand(c))

describe.skipIf(!isRoot() || !peers)('a fabric of three hosts over VXLAN with FRR BGP EVPN (needs root, frr, udhcpc)', () => {
  it('fails at start with one line naming an unknown underlay, a bad field or a missing FRR', async () => {
    const h = await TestNetns.create('fab-bad')
    const fabric: FabricOptions = { vni: VNI, local: '192.168.50.1', underlay: 'ul0', asn: 65000, neighbors: ['192.168.50.2'] }
    await expect(RunningSwitch.start({ netns: h.name, fabric, controlSocket: false, logger: silent })).rejects.toThrow(/^fabric\.underlay: no interface ul0 in netns /)
    await expect(RunningSwitch.start({ netns: h.name, fabric: { ...fabric, vni: 0 }, controlSocket: false, logger: silent })).rejects.toMatchObject({ field: 'fabric.vni' })
    await expect(RunningSwitch.start({ netns: h.name, fabric: { ...fabric, range: ['10.1.0.1', '10.1.0.9'] }, controlSocket: false, logger: silent })).rejects.toThrow(/includes the gateway 10\.1\.0\.1/)
    const missing = RunningSwitch.start({ netns: h.name, fabric, frr: { bin: '/nonexistent/frr' }, controlSocket: false, logger: silent })
    await expect(missing).rejects.toBeInstanceOf(SwitchError)
    await expect(missing).rejects.toThrow(/FRR's zebra is not at \/nonexistent\/frr\/zebra \(install Debian's frr package/)
    // Nothing was made.
    expect((await h.ip<Array<{ ifname: string }>>(['link', 'show'])).map((l) => l.ifname)).toEqual(['lo'])
  })

  it('forms by itself: leases from each host\'s range, pings across hosts, extern_learn MACs, type-2 routes, bgpd kill -9 repaired, a stopped host withdrawn', async () => {
    const underlay = await TestNetns.create('fab-ul')
    await underlay.exec(['ip', 'link', 'add', 'ulbr', 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0'])
    await underlay.exec(['ip', 'link', 'set', 'ulbr', 'up'])
    const hosts: TestNetns[] = []
    for (let i = 0; i < 3; i++) {
      const h = await TestNetns.create(`fab-h${i + 1}`)
      await vethPair({ netns: h, ifname: 'ul0', address: `${vtep(i)}/24` }, { netns: underlay, ifname: `ul-h${i + 1}` })
      await underlay.exec(['ip', 'link', 'set', `ul-h${i + 1}`, 'master', 'ulbr'])
      hosts.push(h)
    }
    // Two clients on host 1, one on each other host.
    const clientHosts = [0, 0, 1, 2]
    const clients: TestNetns[] = []
    for (const [n, hi] of clientHosts.entries()) {
      const c = await TestNetns.create(`fab-c${n}`)
      await vethPair({ netns: hosts[hi]!, ifname: `port${n}` }, { netns: c, ifname: 'eth0' })
      clients.push(c)
    }

    const fabricOf = (i: number): FabricOptions => ({ vni: VNI, local: vtep(i), underlay: 'ul0', asn: 65000, neighbors: [0, 1, 2].filter((j) => j !== i).map(vtep), range: ranges[i]! })
    const switches = await Promise.all(hosts.map((h, i) => RunningSwitch.start({ netns: h.name, fabric: fabricOf(i), controlSocket: false, logger: silent })))
    const stopped = new Set<number>()
    deferCleanup('fabric switches', () => {
      for (const [i, s] of switches.entries()) if (!stopped.has(i)) void s.stop()
    })
    // Cleanup is synchronous: after a failure, FRR's daemons and directories go here for certain.
    for (const h of hosts) deferCleanup(`FRR of ${h.name}`, () => killFrr(h.name))

    // Healthy means every neighbor Established.
    for (const s of switches) {
      const st = await s.status()
      expect(st.fabric!.peers.map((p) => p.state), st.fabric!.error).toEqual(['Established', 'Established'])
      expect(st.fabric).toMatchObject({ vni: VNI, vxlan: `vx${VNI}` })
    }
    // Each session's settings, given by bgpd.conf's peer-group: from the VTEP address, the timers.
    for (const [i, h] of hosts.entries()) {
      const neighbors = JSON.parse((await run(['vtysh', '-N', h.name, '-c', 'show bgp neighbors json'])).stdout) as Record<string, Record<string, unknown>>
      expect(Object.keys(neighbors).sort()).toEqual(fabricOf(i).neighbors)
      for (const n of Object.values(neighbors)) {
        expect(n).toMatchObject({ bgpState: 'Established', peerGroup: 'fabric', updateSource: vtep(i), hostLocal: vtep(i), bgpTimerConfiguredHoldTimeMsecs: 9000, connectRetryTimer: 1, minBtwnAdvertisementRunsTimerMsecs: 0 })
      }
    }
    // The underlay keeps its address and is not bridged; the VXLAN port is set for EVPN.
    const [ul0] = await hosts[0]!.ip<Array<{ master?: string }>>(['link', 'show', 'ul0'])
    expect(ul0!.master).toBeUndefined()
    const [vx] = JSON.parse((await hosts[0]!.exec(['bridge', '-j', '-d', 'link', 'show', 'dev', `vx${VNI}`])).stdout) as Array<{ learning: boolean; neigh_suppress: boolean; master: string }>
    expect(vx).toMatchObject({ learning: false, neigh_suppress: true, master: 'vmbridge' })
    const [vxd] = await hosts[0]!.ip<Array<{ mtu: number; linkinfo: { info_data: Record<string, unknown> } }>>(['-d', 'link', 'show', `vx${VNI}`])
    expect(vxd!.linkinfo.info_data).toMatchObject({ id: VNI, local: vtep(0), port: 4789, learning: false })
    expect(vxd!.mtu).toBe(1450)
    // Same gateway MAC everywhere.
    for (const h of hosts) expect((await h.ip<Array<{ address: string }>>(['link', 'show', 'vmbridge']))[0]!.address).toBe(gatewayMacFor(VNI))

    // Leases: udhcpc on clients 0 and 2, our client on 1 and 3; each from its own host's range.
    const addresses: string[] = []
    for (const [n, c] of clients.entries()) {
      if (n % 2 === 0) {
        const d = await Daemon.start({ name: `udhcpc c${n}`, netns: c.name, argv: ['udhcpc', '-f', '-i', 'eth0', '-t', '10', '-T', '1'], ready: /lease of (10\.1\.0\.\d+) obtained/, readyTimeoutMs: 20_000 })
        addresses[n] = /lease of (10\.1\.0\.\d+) obtained/.exec(d.log)![1]!
      } else {
        const client = await DhcpClient.start({ interface: 'eth0', netns: c.name, onLease: compose(manageIP({ netns: c.name })), retransmit: { initialMs: 250, jitterMs: 0 } })
        deferCleanup(`dhcp client c${n}`, () => client.stop())
        addresses[n] = (await client.waitForLease(20_000)).address
      }
      expect(inRange(addresses[n]!, ranges[clientHosts[n]!]!), `client ${n} got ${addresses[n]} from host ${clientHosts[n]! + 1}`).toBe(true)
    }
    expect(new Set(addresses).size).toBe(4)

    const mac = async (c: TestNetns) => (await c.ip<Array<{ address: string }>>(['link', 'show', 'eth0']))[0]!.address
    const macs = await Promise.all(clients.map(mac))
    // Every pair pings, across hosts and on one host.
    const ping = (from: number, to: number) => clients[from]!.exec(['ping', '-c', '1', '-W', '2', addresses[to]!], { allowFailure: true })
    // A MAC the fabric has not carried yet (a lease seconds old) costs the first ping: a few tries.
    if (process.env.FABRIC_DEBUG) {
      await ping(0, 2)
      for (const cmd of [[hosts[0]!, 'bridge', 'fdb', 'show'], [hosts[0]!, 'ip', 'neigh'], [clients[0]!, 'ip', 'neigh'], [hosts[1]!, 'bridge', 'fdb', 'show'], [hosts[1]!, 'ip', 'neigh'], [clients[2]!, 'ip', 'neigh'], [clients[2]!, 'ip', 'addr']] as const) {
        console.log(cmd.slice(1).join(' '), cmd[0].name, '\n', (await cmd[0].exec(cmd.slice(1) as string[], { allowFailure: true })).stdout)
      }
    }
    for (let a = 0; a < 4; a++) for (let b = 0; b < 4; b++) if (a !== b) await until(`ping c${a} -> c${b}`, () => ping(a, b).then((r) => r.code), (code) => code === 0, 5, 0)
    // And the anycast gateway answers on every host.
    for (const c of clients) expect((await c.exec(['ping', '-c', '1', '-W', '2', '10.1.0.1'], { allowFailure: true })).code).toBe(0)

    // Host 2's fdb holds host 1's client MACs as extern_learn on the VXLAN port.
    const onHost2 = await until('host 1 MACs on host 2', () => externMacs(hosts[1]!), (m) => m.includes(macs[0]!) && m.includes(macs[1]!))
    expect(onHost2).toEqual(expect.arrayContaining([macs[0], macs[1], macs[3]]))
    const st2 = await switches[1]!.status()
    expect(st2.fabric!.remoteMacs).toEqual(expect.arrayContaining([macs[0], macs[1], macs[3]]))
    expect(st2.fabric!.localMacs).toContain(macs[2])
    // Type-2 (MAC/IP) routes, with vtysh -N the host's namespace name.
    const routes = JSON.parse((await run(['vtysh', '-N', hosts[1]!.name, '-c', 'show bgp l2vpn evpn route type macip json'])).stdout) as Record<string, unknown>
    const text = JSON.stringify(routes)
    for (const m of [macs[0]!, macs[1]!, macs[3]!]) expect(text).toContain(m)

    // Which of @lab/arp's announcement forms, sent by c0 on host 1, updates the neighbour table of
    // c2 on host 2 through the fabric (neigh_suppress on the VXLAN ports). c2's entry for c0 is
    // made wrong first, and left alone for longer than the kernel's 1 s locktime.
    // c1, on c0's own host, is the control: every form must update it, or the method is wrong.
    const updated: Record<string, { sameHost: boolean; otherHost: boolean }> = {}
    const neighMac = async (c: TestNetns) => (await c.ip<Array<{ lladdr?: string }>>(['neigh', 'show', addresses[0]!, 'dev', 'eth0']))[0]?.lladdr
    for (const form of ['request', 'arping', 'reply'] as const) {
      for (const c of [clients[1]!, clients[2]!]) await c.exec(['ip', 'neigh', 'replace', addresses[0]!, 'lladdr', '02:00:00:00:00:99', 'dev', 'eth0', 'nud', 'stale'])
      await new Promise((r) => setTimeout(r, 1_100))
      await announce({ interface: 'eth0', address: addresses[0]!, netns: clients[0]!.name, form })
      const reached = (c: TestNetns) => until(`${form} reaches ${c.name}`, () => neighMac(c), (m) => m === macs[0], 10, 100).then(() => true, () => false)
      updated[form] = { sameHost: await reached(clients[1]!), otherHost: await reached(clients[2]!) }
    }
    expect(updated).toEqual(ANNOUNCEMENT_REACHES)

    // kill -9 of host 2's bgpd: restarted by the switch, the fabric reconverges, pings work again.
    const frrDir = `/var/run/frr/${hosts[1]!.name}`
    const pid = Number(readFileSync(`${frrDir}/bgpd.pid`, 'utf8'))
    process.kill(pid, 'SIGKILL')
    await until('bgpd restarted and Established again', () => switches[1]!.status(), (s) => {
      const bgpd = s.supervisor.children.find((c) => c.name === 'fabric')?.children.find((c) => c.name === 'bgpd')
      return (bgpd?.restarts ?? 0) >= 1 && bgpd?.state === 'healthy' && s.fabric!.peers.every((p) => p.state === 'Established')
    }, 200)
    expect(Number(readFileSync(`${frrDir}/bgpd.pid`, 'utf8'))).not.toBe(pid)
    await until('c2 reaches c0 again', () => ping(2, 0).then((r) => r.code), (code) => code === 0, 30)

    // Stopping host 3 withdraws its client's MAC on hosts 1 and 2.
    expect(await externMacs(hosts[0]!)).toContain(macs[3])
    await switches[2]!.stop()
    stopped.add(2)
    for (const h of [hosts[0]!, hosts[1]!]) await until(`host 3's MAC withdrawn on ${h.name}`, () => externMacs(h), (m) => !m.includes(macs[3]!), 150)
    expect(await frrProcesses(hosts[2]!.name)).toBe('')
    expect(existsSync(`/var/run/frr/${hosts[2]!.name}`)).toBe(false)

    // Nothing left behind by the others either.
    await Promise.all([0, 1].map((i) => switches[i]!.stop().then(() => stopped.add(i))))
    for (const h of hosts) {
      expect(await frrProcesses(h.name)).toBe('')
      expect(existsSync(`/var/run/frr/${h.name}`)).toBe(false)
      expect((await h.ip<Array<{ ifname: string }>>(['link', 'show'])).map((l) => l.ifname).sort()).toEqual(h === hosts[0] ? ['lo', 'port0', 'port1', 'ul0'] : h === hosts[1] ? ['lo', 'port2', 'ul0'] : ['lo', 'port3', 'ul0'])
      expect((await h.exec(['nft', 'list', 'ruleset'])).stdout.trim()).toBe('')
    }
  }, 90_000)
})
