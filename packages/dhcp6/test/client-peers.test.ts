// Our DHCPv6 client against real servers, Kea (kea-dhcp6, with prefix delegation) and dnsmasq,
// each in a throwaway namespace pair: the client waits for its link-local address to pass DAD,
// gets an address (and a prefix from Kea), configures it (read back with `ip -j`), writes
// resolv.conf, renews at T1 and releases, which the server logs.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { Daemon, TestNetns, cleanupAll, hasCommand, isRoot, run, vethPair } from '@lab/testkit'
import { realClock, type Clock } from '@lab/clock'
import { DhcpV6Client, compose, dadConflict, manageDNS, manageIP, type ClientState, type Dhcp6Lease, type LeaseChangeReason } from '../src/index.js'

/** The built CLI (npm test builds first). */
const cliPath = fileURLToPath(new URL('../dist/cli.js', import.meta.url))

interface IpAddr {
  ifname: string
  addr_info: Array<{ family: string; local: string; prefixlen: number; scope: string; valid_life_time?: number; preferred_life_time?: number }>
}

/** The client's sense of time runs `factor` times faster, so dnsmasq's 2-minute lease renews within seconds. */
function fastClock(factor: number): Clock {
  if (factor === 1) return realClock
  const t0 = Date.now()
  return { now: () => t0 + (Date.now() - t0) * factor, setTimeout: (fn, ms) => realClock.setTimeout(fn, ms / factor) }
}

interface Peer {
  name: string
  available: boolean
  /** Lease length the server gives, seconds; the client's clock runs lease/8 times faster when long. */
  leaseSeconds: number
  prefixDelegation: boolean
  start(netns: TestNetns, ifname: string, dir: string): Promise<Daemon>
  /** What the server logs when it takes an address back. */
  released: (address: string) => RegExp
}

const kea: Peer = {
  name: 'Kea',
  available: hasCommand('kea-dhcp6'),
  leaseSeconds: 8,
  prefixDelegation: true,
  async start(netns, ifname, dir) {
    const config = join(dir, 'kea6.json')
    writeFileSync(
      config,
      JSON.stringify({
        Dhcp6: {
          'interfaces-config': { interfaces: [ifname] },
          'lease-database': { type: 'memfile', persist: true, name: join(dir, 'leases6.csv'), 'lfc-interval': 0 },
          'control-socket': { 'socket-type': 'unix', 'socket-name': join(dir, 'kea6.sock') },
          'data-directory': dir,
          // A DUID of its own that is not written to /var/lib/kea.
          'server-id': { type: 'LL', persist: false },
          'preferred-lifetime': 6,
          'valid-lifetime': this.leaseSeconds,
          'renew-timer': 2,
          'rebind-timer': 4,
          'option-data': [
            { name: 'dns-servers', data: 'fd00:1::53' },
            { name: 'domain-search', data: 'lab.test' },
          ],
          subnet6: [
            {
              id: 1,
              subnet: 'fd00:1::/64',
              interface: ifname,
              'rapid-commit': true,
              pools: [{ pool: 'fd00:1::1000 - fd00:1::1fff' }],
              'pd-pools': [{ prefix: 'fd00:100::', 'prefix-len': 48, 'delegated-len': 56 }],
            },
          ],
          loggers: [{ name: 'kea-dhcp6', output_options: [{ output: 'stdout' }], severity: 'INFO' }],
        },
      }),
    )
    return Daemon.start({ name: 'kea-dhcp6', netns: netns.name, argv: ['kea-dhcp6', '-c', config], env: { ...process.env, KEA_PIDFILE_DIR: dir, KEA_LOCKFILE_DIR: dir }, ready: /DHCP6_STARTED/ })
  },
  released: (address) => new RegExp(`DHCP6_RELEASE_NA .*address ${address} .*released`),
}

const dnsmasq: Peer = {
  name: 'dnsmasq',
  available: hasCommand('dnsmasq'),
  leaseSeconds: 120, // dnsmasq's minimum
  prefixDelegation: false,
  async start(netns, ifname, dir) {
    return Daemon.start({
      name: 'dnsmasq',
      netns: netns.name,
      argv: ['dnsmasq', '--keep-in-foreground', '--port=0', `--interface=${ifname}`, '--bind-interfaces', '--log-dhcp', '--log-facility=-', '--conf-file=/dev/null',
        `--dhcp-range=fd00:1::1000,fd00:1::1fff,64,${this.leaseSeconds}s`, `--dhcp-leasefile=${join(dir, 'leases')}`, `--pid-file=${join(dir, 'pid')}`,
        '--dhcp-option=option6:dns-server,[fd00:1::53]', '--dhcp-option=option6:domain-search,lab.test'],
      ready: /DHCPv6, IP range/,
    })
  },
  // dnsmasq logs the client's DUID, not the address; the lease file tells the address is gone.
  released: () => /DHCPRELEASE\(s0\)/,
}

let teardown: (() => Promise<void>) | undefined

/** A server namespace running `peer` on s0 (fd00:1::1/64) and a client namespace with c0, the other end. */
async function pair(peer: Peer): Promise<{ srv: TestNetns; cli: TestNetns; dir: string; server: Daemon }> {
  const srv = await TestNetns.create('d6s')
  const cli = await TestNetns.create('d6c')
  // The server's link-local address is usable at once (its DAD is not what is tested); the
  // client's goes through DAD, which the client waits out.
  for (const key of ['all', 'default']) await srv.exec(['sysctl', '-q', '-w', `net.ipv6.conf.${key}.accept_dad=0`])
  await vethPair({ netns: srv, ifname: 's0', address: 'fd00:1::1/64' }, { netns: cli, ifname: 'c0' })
  const dir = mkdtempSync(join(tmpdir(), 'lab-dhcp6-client-'))
  teardown = async () => rmSync(dir, { recursive: true, force: true })
  const server = await peer.start(srv, 's0', dir)
  teardown = async () => {
    await server.stop()
    rmSync(dir, { recursive: true, force: true })
  }
  return { srv, cli, dir, server }
}

afterEach(async () => {
  await teardown?.()
  teardown = undefined
  await cleanupAll()
})

describe.skipIf(!isRoot())('DhcpV6Client against real servers', () => {
  for (const peer of [kea, dnsmasq]) {
    it.skipIf(!peer.available)(`gets an address${peer.prefixDelegation ? ' and a delegated prefix' : ''} from ${peer.name}, renews it and releases it`, async () => {
      const { cli, dir, server } = await pair(peer)
      const resolvConf = join(dir, 'resolv.conf')
      const events: Array<{ reason: LeaseChangeReason; next?: Dhcp6Lease; old?: Dhcp6Lease }> = []
      const client = await DhcpV6Client.start({
        interface: 'c0',
        netns: cli.name,
        clock: fastClock(Math.max(1, peer.leaseSeconds / 8)),
        ...(peer.prefixDelegation ? { prefixDelegation: { prefixLength: 56 } } : {}),
        leaseFile: join(dir, 'client-lease.json'),
        onLease: compose(manageIP({ netns: cli.name }), manageDNS(resolvConf)),
      })
      client.on('lease', (e) => events.push(e))
      const done = teardown
      teardown = async () => {
        await client.stop()
        await done?.()
      }
      expect(client.linkLocal).toMatch(/^fe80:/)

      const lease = await client.waitForLease(15_000)
      const address = lease.addresses[0]!.address
      expect(address).toMatch(/^fd00:1::1[0-9a-f]{3}$/)
      expect(lease.dns).toEqual(['fd00:1::53'])
      expect(lease.domains).toEqual(['lab.test'])
      if (peer.prefixDelegation) expect(lease.prefixes).toEqual([expect.objectContaining({ prefixLength: 56, prefix: expect.stringMatching(/^fd00:100:[0-9a-f:]*$/) })])
      const installed = (await cli.ip<IpAddr[]>(['-6', 'addr', 'show', 'dev', 'c0'])).flatMap((l) => l.addr_info).find((a) => a.local === address)
      expect(installed).toMatchObject({ prefixlen: 128, scope: 'global' })
      expect(installed!.valid_life_time).toBeLessThanOrEqual(peer.leaseSeconds)
      expect(readFileSync(resolvConf, 'utf8')).toContain('nameserver fd00:1::53')
      expect(JSON.parse(readFileSync(join(dir, 'client-lease.json'), 'utf8')).addresses[0].address).toBe(address)

      // T1 comes (2 s for Kea, 60 s on a 15x clock for dnsmasq): the server extends the same address.
      const deadline = Date.now() + 10_000
      while (!events.some((e) => e.reason === 'renew')) {
        if (Date.now() > deadline) throw new Error(`no renewal; events ${events.map((e) => e.reason).join(',')}`)
        await new Promise((r) => setTimeout(r, 50))
      }
      const renewed = events.find((e) => e.reason === 'renew')!.next!
      expect(renewed.addresses[0]!.address).toBe(address)
      expect(renewed.acquiredAt).toBeGreaterThan(lease.acquiredAt)

      await client.release()
      expect(client.state).toBe('stopped')
      await server.waitFor(peer.released(address), 5000)
      const after = (await cli.ip<IpAddr[]>(['-6', 'addr', 'show', 'dev', 'c0'])).flatMap((l) => l.addr_info)
      expect(after.map((a) => a.local)).not.toContain(address)
      expect(() => readFileSync(resolvConf)).toThrow()
      if (peer === dnsmasq) expect(readFileSync(join(dir, 'leases'), 'utf8')).not.toContain(address)
      expect(client.counters()).toEqual({ malformed: 0 })
    }, 40_000)
  }

  it.skipIf(!kea.available)('declines an address the kernel DAD finds in use, and Kea gives another', async () => {
    const { cli, server, srv } = await pair(kea)
    // Kea's first address is already the server's own on the link: the client's DAD fails.
    await srv.exec(['ip', 'addr', 'add', 'fd00:1::1000/64', 'dev', 's0'])
    const declined: string[][] = []
    const client = await DhcpV6Client.start({ interface: 'c0', netns: cli.name, conflict: dadConflict({ interface: 'c0', netns: cli.name }), onLease: manageIP({ netns: cli.name }) })
    client.on('declined', (a) => declined.push(a))
    const done = teardown
    teardown = async () => {
      await client.stop()
      await done?.()
    }
    const lease = await client.waitForLease(20_000)
    expect(declined).toEqual([['fd00:1::1000']])
    await server.waitFor(/DHCP6_DECLINE_LEASE.*fd00:1::1000/, 5000)
    expect(lease.addresses[0]!.address).not.toBe('fd00:1::1000')
    const addrs = (await cli.ip<IpAddr[]>(['-6', 'addr', 'show', 'dev', 'c0'])).flatMap((l) => l.addr_info.map((a) => a.local))
    expect(addrs).toContain(lease.addresses[0]!.address)
    expect(addrs).not.toContain('fd00:1::1000')
  }, 40_000)

  it.skipIf(!kea.available)('confirms its lease with Kea after the link went down and up, and puts the address back', async () => {
    const { cli } = await pair(kea)
    const events: LeaseChangeReason[] = []
    const states: ClientState[] = []
    const client = await DhcpV6Client.start({ interface: 'c0', netns: cli.name, onLease: manageIP({ netns: cli.name }) })
    client.on('lease', (e) => events.push(e.reason))
    client.on('state', (s) => states.push(s))
    const done = teardown
    teardown = async () => {
      await client.stop()
      await done?.()
    }
    const lease = await client.waitForLease(15_000)
    const address = lease.addresses[0]!.address
    const onC0 = async () => (await cli.ip<IpAddr[]>(['-6', 'addr', 'show', 'dev', 'c0'])).flatMap((l) => l.addr_info.map((a) => a.local))
    await cli.exec(['ip', 'link', 'set', 'c0', 'down'])
    expect(await onC0()).not.toContain(address) // the kernel drops IPv6 addresses with the link
    const before = events.length
    await cli.exec(['ip', 'link', 'set', 'c0', 'up'])
    // The Confirm's Reply normally gives 'confirm'; on a loaded machine this test's short T2 can
    // pass while the new link-local address is still in DAD, and a Rebind's Reply (reason renew) keeps the lease
    // instead: either way the same address must come back.
    const deadline = Date.now() + 15_000
    while (!events.slice(before).some((e) => e === 'confirm' || e === 'renew')) {
      if (Date.now() > deadline) throw new Error(`no confirm; events ${events.join(',')}, states ${states.join(',')}`)
      await new Promise((r) => setTimeout(r, 50))
    }
    expect(states).toContain('confirming')
    expect(client.lease!.addresses[0]!.address).toBe(address)
    expect(await onC0()).toContain(address)
  }, 40_000)

  it.skipIf(!kea.available)('asks Kea for configuration only (Information-Request) and writes resolv.conf', async () => {
    const { cli, dir, server } = await pair(kea)
    const resolvConf = join(dir, 'resolv.conf')
    const client = await DhcpV6Client.start({ interface: 'c0', netns: cli.name, stateless: true, onLease: compose(manageIP({ netns: cli.name }), manageDNS(resolvConf)) })
    const done = teardown
    teardown = async () => {
      await client.stop()
      await done?.()
    }
    const lease = await client.waitForLease(15_000)
    expect(lease).toMatchObject({ stateless: true, addresses: [], prefixes: [], dns: ['fd00:1::53'], domains: ['lab.test'], t1: 86_400 })
    expect(readFileSync(resolvConf, 'utf8')).toBe('# written by @lab/dhcp6 from the lease of c0\nsearch lab.test\nnameserver fd00:1::53\n')
    expect(server.log).not.toMatch(/DHCP6_LEASE_ALLOC/)
  }, 40_000)

  it.skipIf(!kea.available || !existsSync(cliPath))('lab-dhcp6 client --pd --once --json --release-on-exit prints the lease and gives it back', async () => {
    const { cli: ns, server } = await pair(kea)
    const result = await run(['node', cliPath, 'client', '--netns', ns.name, '--interface', 'c0', '--pd', '--once', '--json', '--release-on-exit', '--timeout', '15'], { timeout: 30_000 })
    const printed = JSON.parse(result.stdout) as { event: string; lease: Dhcp6Lease }
    expect(printed.event).toBe('acquire')
    expect(printed.lease).toMatchObject({ interface: 'c0', addresses: [{ address: expect.stringMatching(/^fd00:1::1/) }], prefixes: [{ prefixLength: 56 }], dns: ['fd00:1::53'] })
    await server.waitFor(kea.released(printed.lease.addresses[0]!.address), 5000)
    const usage = await run(['node', cliPath, 'client', '--netns', ns.name], { allowFailure: true })
    expect(usage.code).toBe(2)
    expect(usage.stderr).toMatch(/^lab-dhcp6: .*--interface/)
  }, 40_000)
})
