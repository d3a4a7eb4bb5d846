// The DHCP lease callback and conflict hook with @lab/dhcp4's client against a real dnsmasq.
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { Daemon, TestNetns, cleanupAll, hasCommand, isRoot, vethPair } from '@lab/testkit'
import { PacketSocket } from '@lab/netlink-native'
import { DhcpClient, DhcpServer, compose, manageIP } from '@lab/dhcp4'
import { arpAnnounce, arpConflictCheck, decodeArp, linkMac, type ArpPacket } from '../src/index.js'

const FAST = { probeWait: 50, probeMin: 50, probeMax: 100, announceWait: 200 }

async function setup() {
  const srv = await TestNetns.create('arpl-s')
  const cli = await TestNetns.create('arpl-c')
  await vethPair({ netns: srv, ifname: 's0', address: '10.1.0.1/24' }, { netns: cli, ifname: 'c0' })
  const dnsmasq = await Daemon.start({
    name: 'dnsmasq',
    netns: srv.name,
    argv: ['dnsmasq', '--keep-in-foreground', '--port=0', '--interface=s0', '--bind-interfaces', '--no-ping', '--conf-file=/dev/null', '--log-facility=-', '--log-dhcp', '--dhcp-leasefile=/dev/null',
      `--pid-file=/tmp/lab-arp-dnsmasq-${process.pid}.pid`, '--dhcp-range=10.1.0.10,10.1.0.20,255.255.255.0,1h'],
    ready: /DHCP, IP range/,
  })
  // Every ARP frame the server's side of the link sees.
  const frames: ArpPacket[] = []
  const sniffer = await PacketSocket.open({ netns: srv.name, interface: 's0', protocol: 'arp', outgoing: false })
  sniffer.on('message', (f) => frames.push(decodeArp(f.data)))
  return { srv, cli, dnsmasq, frames, sniffer }
}

let clients: DhcpClient[] = []
afterEach(async () => {
  for (const c of clients) await c.stop()
  clients = []
})
afterAll(() => cleanupAll())

describe.skipIf(!isRoot() || !hasCommand('dnsmasq'))('ARP with a DHCP client (needs root and dnsmasq)', () => {
  it('arpAnnounce() announces the address a real server leased, in seed 002’s form', async () => {
    const t = await setup()
    const mac = await linkMac('c0', t.cli.name)
    const client = await DhcpClient.start({ interface: 'c0', netns: t.cli.name, onLease: compose(manageIP({ netns: t.cli.name }), arpAnnounce({ netns: t.cli.name })) })
    clients.push(client)
    const lease = await client.waitForLease(10_000)
    const deadline = Date.now() + 2000
    while (!t.frames.some((f) => f.senderIp === lease.address) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
    const announcements = t.frames.filter((f) => f.senderIp === lease.address && f.targetIp === lease.address)
    expect(announcements).toEqual([{ dst: 'ff:ff:ff:ff:ff:ff', src: mac, op: 1, senderMac: mac, senderIp: lease.address, targetMac: '00:00:00:00:00:00', targetIp: lease.address }])
    t.sniffer.close()
    await t.dnsmasq.stop()
  })

  it('arpConflictCheck() finds the offered address held by another host: the client declines it and takes the next', async () => {
    const t = await setup()
    await t.dnsmasq.stop()
    // Our server offers addresses in order: 10.1.0.10 first, which the server's host already uses.
    const server = await DhcpServer.start({ netns: t.srv.name, interface: 's0', subnets: [{ subnet: '10.1.0.0/24', range: ['10.1.0.10', '10.1.0.20'] }] })
    await t.srv.exec(['ip', 'addr', 'add', '10.1.0.10/24', 'dev', 's0'])
    const serverMac = await linkMac('s0', t.srv.name)
    const conflicts: Array<[string, string | undefined]> = []
    const client = await DhcpClient.start({
      interface: 'c0',
      netns: t.cli.name,
      conflict: arpConflictCheck('c0', { netns: t.cli.name, timing: FAST, onConflict: (a, holder) => conflicts.push([a, holder]) }),
      declineWaitMs: 100,
      onLease: manageIP({ netns: t.cli.name }),
    })
    clients.push(client)
    const declined: string[] = []
    client.on('declined', (a) => declined.push(a))
    const lease = await client.waitForLease(15_000)
    expect(conflicts).toEqual([['10.1.0.10', serverMac]])
    expect(declined).toEqual(['10.1.0.10'])
    expect(lease.address).toBe('10.1.0.11')
    expect(server.counters().declines).toBe(1)
    // Probes go out from 0.0.0.0 (RFC 5227), so no neighbour cache learns an address not yet ours.
    const probes = t.frames.filter((f) => f.senderMac !== serverMac && f.op === 1 && f.senderIp === '0.0.0.0')
    expect(probes.map((f) => f.targetIp)).toContain('10.1.0.10')
    expect(t.frames.some((f) => f.senderMac !== serverMac && f.senderIp === '10.1.0.10')).toBe(false)
    t.sniffer.close()
    await server.stop()
  })
})
