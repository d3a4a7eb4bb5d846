import { rmSync } from 'node:fs'
import pino from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Daemon, TestNetns, cleanupAll, hasCommand, isRoot, vethPair } from '@lab/testkit'
import { UdpSocket } from '@lab/netlink-native'
import { DhcpServer } from '../src/index.js'

const files = (tag: string) => [`/tmp/lab-dhc-${process.pid}-${tag}.pid`, `/tmp/lab-dhc-${process.pid}-${tag}.leases`]

describe.skipIf(!isRoot())('DHCP server with real clients (needs root)', () => {
  let server: TestNetns
  let dhcp: DhcpServer
  let n = 0
  beforeAll(async () => {
    server = await TestNetns.create('dhsrv')
    await server.exec(['ip', 'link', 'add', 'br0', 'type', 'bridge'])
    await server.exec(['ip', 'addr', 'add', '10.1.0.1/24', 'dev', 'br0'])
    await server.exec(['ip', 'link', 'set', 'br0', 'up'])
    dhcp = await DhcpServer.open({
      netns: server.name,
      interface: 'br0',
      subnet: { subnet: '10.1.0.0/24', range: ['10.1.0.2', '10.1.0.200'], router: '10.1.0.1', dns: ['10.42.0.3'], leaseTime: 3600, routes: [{ destination: '0.0.0.0', prefixLength: 0, router: '10.1.0.1' }] },
      logger: pino({ level: 'silent' }),
    })
  })
  afterAll(() => {
    dhcp?.close()
    cleanupAll()
    for (const t of ['dhclient']) for (const f of files(t)) rmSync(f, { force: true })
  })

  async function clientPort(): Promise<{ ns: TestNetns; ifname: string }> {
    const ns = await TestNetns.create(`dhcl${++n}`)
    const port = `p${n}${process.pid % 1000}`
    await vethPair({ netns: ns, ifname: 'eth0' }, { netns: server, ifname: port })
    await server.exec(['ip', 'link', 'set', port, 'master', 'br0'])
    return { ns, ifname: 'eth0' }
  }

  const clients: Array<[string, (i: string) => string[], RegExp]> = [
    ['udhcpc', (i) => ['udhcpc', '-f', '-q', '-i', i, '-t', '5', '-T', '1', '-n'], /lease of (10\.1\.0\.\d+) obtained/],
    ['dhclient', (i) => ['dhclient', '-d', '-v', '-1', '-pf', files('dhclient')[0]!, '-lf', files('dhclient')[1]!, i], /bound to (10\.1\.0\.\d+)/],
    // dhcpcd keeps leases under /var/lib/dhcpcd: give it a private tmpfs there (ip netns exec runs
    // it in its own mount namespace, so nothing is left on the machine).
    ['dhcpcd', (i) => ['sh', '-c', `mkdir -p /var/lib/dhcpcd && mount -t tmpfs tmpfs /var/lib/dhcpcd && exec dhcpcd -B -1 -4 -t 10 ${i}`], /leased (10\.1\.0\.\d+)/],
  ]

  for (const [name, argv, leased] of clients) {
    it.skipIf(!hasCommand(name))(`${name} gets a lease`, async () => {
      const { ns, ifname } = await clientPort()
      const d = await Daemon.start({ name, netns: ns.name, argv: argv(ifname) })
      const match = await d.waitFor(leased, 20_000)
      await d.stop()
      const address = match[1]!
      expect(dhcp.db.at(address)?.state).toBe('bound')
      expect(dhcp.stats.acks).toBeGreaterThan(0)
    })
  }

  it('counts and drops malformed packets and keeps serving', async () => {
    const { ns } = await clientPort()
    const before = dhcp.stats.malformed
    const junk = UdpSocket.open({ netns: ns.name, port: 68, device: 'eth0', broadcast: true })
    await junk.send({ data: Buffer.from('not a dhcp packet at all'), address: '255.255.255.255', port: 67 })
    await junk.send({ data: Buffer.alloc(300, 0xff), address: '255.255.255.255', port: 67 })
    junk.close()
    for (let i = 0; i < 50 && dhcp.stats.malformed < before + 2; i++) await new Promise((r) => setTimeout(r, 20))
    expect(dhcp.stats.malformed).toBe(before + 2)
    if (hasCommand('udhcpc')) {
      const d = await Daemon.start({ name: 'udhcpc', netns: ns.name, argv: ['udhcpc', '-f', '-q', '-i', 'eth0', '-t', '5', '-T', '1', '-n'] })
      await d.waitFor(/lease of 10\.1\.0\.\d+ obtained/, 20_000)
      await d.stop()
    }
  })
})
