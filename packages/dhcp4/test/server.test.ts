import { rmSync, writeFileSync } from 'node:fs'
import pino from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Daemon, TestNetns, cleanupAll, dhcpcdArgv, hasCommand, isRoot, vethPair } from '@lab/testkit'
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
    // A second segment whose leases are short (20 s, dhcpcd's minimum), for renewals.
    await server.exec(['ip', 'link', 'add', 'br1', 'type', 'bridge'])
    await server.exec(['ip', 'addr', 'add', '10.3.0.1/24', 'dev', 'br1'])
    await server.exec(['ip', 'link', 'set', 'br1', 'up'])
    dhcp = await DhcpServer.start({
      netns: server.name,
      interface: ['br0', 'br1'],
      subnets: [
        { subnet: '10.1.0.0/24', range: ['10.1.0.2', '10.1.0.200'], router: '10.1.0.1', dns: ['10.42.0.3'], leaseTime: 3600, reservations: { '02:00:00:00:05:05': '10.1.0.250', '02:00:00:00:05:06': '10.1.0.251' }, routes: [{ destination: '0.0.0.0', prefixLength: 0, router: '10.1.0.1' }] },
        { subnet: '10.3.0.0/24', range: ['10.3.0.2', '10.3.0.200'], router: '10.3.0.1', leaseTime: 20 },
      ],
      logger: pino({ level: 'silent' }),
    })
  })
  afterAll(async () => {
    await dhcp?.stop()
    cleanupAll()
    for (const t of ['dhclient']) for (const f of files(t)) rmSync(f, { force: true })
  })

  async function clientPort(bridge = 'br0'): Promise<{ ns: TestNetns; ifname: string }> {
    const i = ++n
    const ns = await TestNetns.create(`dhcl${i}`)
    const port = `p${i}${process.pid % 1000}`
    await vethPair({ netns: ns, ifname: 'eth0' }, { netns: server, ifname: port })
    await server.exec(['ip', 'link', 'set', port, 'master', bridge])
    return { ns, ifname: 'eth0' }
  }

  const clients: Array<[string, (i: string) => string[], RegExp]> = [
    ['udhcpc', (i) => ['udhcpc', '-f', '-q', '-i', i, '-t', '5', '-T', '1', '-n'], /lease of (10\.1\.0\.\d+) obtained/],
    ['dhclient', (i) => ['dhclient', '-d', '-v', '-1', '-pf', files('dhclient')[0]!, '-lf', files('dhclient')[1]!, i], /bound to (10\.1\.0\.\d+)/],
    // dhcpcd keeps leases under /var/lib/dhcpcd: give it a private tmpfs there (ip netns exec runs
    // it in its own mount namespace, so nothing is left on the machine).
    ['dhcpcd', (i) => dhcpcdArgv(['-B', '-1', '-4', '-t', '10', i]), /leased (10\.1\.0\.\d+)/],
  ]

  for (const [name, argv, leased] of clients) {
    it.skipIf(!hasCommand(name))(`${name} gets a lease`, async () => {
      const { ns, ifname } = await clientPort()
      const d = await Daemon.start({ name, netns: ns.name, argv: argv(ifname) })
      const match = await d.waitFor(leased, 20_000)
      await d.stop()
      const address = match[1]!
      expect(dhcp.db.at(address)?.state).toBe('bound')
      expect(dhcp.counters().acks).toBeGreaterThan(0)
    })
  }

  async function until(what: string, ok: () => boolean, timeoutMs = 25_000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (!ok()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
      await new Promise((r) => setTimeout(r, 50))
    }
  }

  it.skipIf(!hasCommand('udhcpc') || !hasCommand('dhclient') || !hasCommand('dhcpcd'))('udhcpc, dhclient and dhcpcd on the second interface get, renew and release leases', async () => {
    const conf = `/tmp/lab-dhc-${process.pid}-dhcpcd.conf`
    writeFileSync(conf, 'release\n')
    const [pf, lf] = files('dhclient-renew')
    const runs: Array<{ name: string; argv: (i: string) => string[]; leased: RegExp; renew?: (d: Daemon) => void; release: (d: Daemon, ns: TestNetns) => Promise<unknown> }> = [
      { name: 'udhcpc', argv: (i) => ['udhcpc', '-f', '-i', i, '-t', '5', '-T', '1'], leased: /lease of (10\.3\.0\.\d+) obtained/, renew: (d) => d.child.kill('SIGUSR1'), release: async (d) => { d.child.kill('SIGUSR2'); await d.waitFor(/releas/i) } },
      { name: 'dhclient', argv: (i) => ['dhclient', '-d', '-v', '-1', '-pf', pf!, '-lf', lf!, i], leased: /bound to (10\.3\.0\.\d+)/, release: (_d, ns) => ns.exec(['dhclient', '-r', '-v', '-pf', pf!, '-lf', lf!, 'eth0']) },
      { name: 'dhcpcd', argv: (i) => dhcpcdArgv(['-B', '-4', '-t', '10', '-f', conf, i]), leased: /leased (10\.3\.0\.\d+)/, // SIGTERM with `release` in its config: dhcpcd releases, then exits.
        release: (d) => d.stop(15_000) },
    ]
    try {
      await Promise.all(runs.map(async (r) => {
        const { ns, ifname } = await clientPort('br1')
        const d = await Daemon.start({ name: r.name, netns: ns.name, argv: r.argv(ifname) })
        const address = (await d.waitFor(r.leased, 20_000))[1]!
        const first = dhcp.db.at(address)!
        expect(first.state).toBe('bound')
        // Renewal: udhcpc on SIGUSR1, the others by themselves at T1 (10 s).
        r.renew?.(d)
        await until(`${r.name} renewal`, () => (dhcp.db.at(address)?.updatedAt ?? 0) > first.updatedAt)
        expect(dhcp.db.at(address)).toMatchObject({ state: 'bound', client: first.client })
        await r.release(d, ns)
        await until(`${r.name} release`, () => dhcp.db.at(address)?.state === 'released')
        expect(dhcp.db.available(address, 'mac:02:99:99:99:99:99')).toBe(true)
        await d.stop()
      }))
    } finally {
      for (const f of [conf, pf!, lf!]) rmSync(f, { force: true })
    }
    expect(dhcp.counters().releases).toBeGreaterThanOrEqual(3)
  }, 90_000)

  it.skipIf(!hasCommand('udhcpc'))('gives a reserved address by MAC, and a known client its previous address', async () => {
    const { ns } = await clientPort()
    await ns.exec(['ip', 'link', 'set', 'eth0', 'address', '02:00:00:00:05:05'])
    const udhcpc = ['udhcpc', '-f', '-q', '-i', 'eth0', '-t', '5', '-T', '1', '-n']
    let d = await Daemon.start({ name: 'udhcpc', netns: ns.name, argv: udhcpc })
    expect((await d.waitFor(/lease of (10\.1\.0\.\d+) obtained/, 20_000))[1]).toBe('10.1.0.250')
    await d.stop()
    const other = await clientPort()
    d = await Daemon.start({ name: 'udhcpc', netns: other.ns.name, argv: udhcpc })
    const first = (await d.waitFor(/lease of (10\.1\.0\.\d+) obtained/, 20_000))[1]
    await d.stop()
    await other.ns.exec(['ip', 'addr', 'flush', 'dev', 'eth0'])
    d = await Daemon.start({ name: 'udhcpc', netns: other.ns.name, argv: udhcpc })
    expect((await d.waitFor(/lease of (10\.1\.0\.\d+) obtained/, 20_000))[1]).toBe(first)
    await d.stop()
  })

  it.skipIf(!hasCommand('udhcpc'))('quarantines an address udhcpc declines because another host holds it', async () => {
    const squatter = await clientPort()
    await squatter.ns.exec(['ip', 'addr', 'add', '10.1.0.251/24', 'dev', 'eth0'])
    const { ns } = await clientPort()
    await ns.exec(['ip', 'link', 'set', 'eth0', 'address', '02:00:00:00:05:06'])
    const declines = dhcp.counters().declines
    // -a: udhcpc ARP-checks the offered (reserved) address, finds the squatter, and declines it.
    const d = await Daemon.start({ name: 'udhcpc', netns: ns.name, argv: ['udhcpc', '-f', '-q', '-a', '-i', 'eth0', '-t', '8', '-T', '1', '-A', '1', '-n'] })
    // (udhcpc logs "lease obtained" before its ARP check; the lease it keeps comes after the decline.)
    const address = (await d.waitFor(/declining[\s\S]*lease of (10\.1\.0\.\d+) obtained/, 30_000))[1]
    await d.stop()
    expect(address).not.toBe('10.1.0.251')
    expect(dhcp.counters().declines).toBe(declines + 1)
    expect(dhcp.db.at('10.1.0.251')?.state).toBe('declined')
    expect(dhcp.db.available('10.1.0.251', 'mac:02:00:00:00:05:06')).toBe(false)
  })

  it.skipIf(!hasCommand('dhclient'))('NAKs dhclient rebooting with an address of another network, which then gets a new lease', async () => {
    const { ns } = await clientPort()
    const [pf, lf] = files('dhclient-nak')
    writeFileSync(lf!, `lease {\n  interface "eth0";\n  fixed-address 10.9.0.5;\n  option subnet-mask 255.255.255.0;\n  option dhcp-server-identifier 10.1.0.1;\n  renew 4 2037/01/01 00:00:00;\n  rebind 4 2037/01/01 00:00:00;\n  expire 4 2037/01/01 00:00:00;\n}\n`)
    try {
      const naks = dhcp.counters().naks
      const d = await Daemon.start({ name: 'dhclient', netns: ns.name, argv: ['dhclient', '-d', '-v', '-1', '-pf', pf!, '-lf', lf!, 'eth0'] })
      await d.waitFor(/DHCPNAK from 10\.1\.0\.1/, 20_000)
      const address = (await d.waitFor(/bound to (10\.1\.0\.\d+)/, 20_000))[1]!
      await d.stop()
      expect(dhcp.counters().naks).toBe(naks + 1)
      expect(dhcp.db.at(address)?.state).toBe('bound')
    } finally {
      for (const f of [pf!, lf!]) rmSync(f, { force: true })
    }
  })

  it('counts and drops malformed packets and keeps serving', async () => {
    const { ns } = await clientPort()
    const before = dhcp.counters().malformed
    const junk = await UdpSocket.open({ netns: ns.name, port: 68, interface: 'eth0', broadcast: true })
    await junk.send({ data: Buffer.from('not a dhcp packet at all'), address: '255.255.255.255', port: 67 })
    await junk.send({ data: Buffer.alloc(300, 0xff), address: '255.255.255.255', port: 67 })
    await junk.close()
    for (let i = 0; i < 50 && dhcp.counters().malformed < before + 2; i++) await new Promise((r) => setTimeout(r, 20))
    expect(dhcp.counters().malformed).toBe(before + 2)
    if (hasCommand('udhcpc')) {
      const d = await Daemon.start({ name: 'udhcpc', netns: ns.name, argv: ['udhcpc', '-f', '-q', '-i', 'eth0', '-t', '5', '-T', '1', '-n'] })
      await d.waitFor(/lease of 10\.1\.0\.\d+ obtained/, 20_000)
      await d.stop()
    }
  })
})
