// DHCP servers a client test can run on one veth end: dnsmasq, Kea, ISC dhcpd and ours, all set up
// alike (one subnet, a router, DNS, a domain and classless static routes) and each restartable with
// an empty lease database, as a server that forgot its leases.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Daemon, deferCleanup, hasCommand, type TestNetns } from '@lab/testkit'
import { DhcpServer } from '../../src/index.js'

export interface Network {
  network: string
  prefixLength: number
  mask: string
  /** The server's address on the link, also the default router. */
  server: string
  dns: string
  domain: string
  routes: Array<{ destination: string; prefixLength: number; router: string }>
}

/** 10.n.0.0/24 with the server at .1, DNS at .53 and a route to 10.9.0.0/16 via .254. */
export function network(n: number): Network {
  const p = `10.${n}.0`
  return {
    network: `${p}.0`,
    prefixLength: 24,
    mask: '255.255.255.0',
    server: `${p}.1`,
    dns: `${p}.53`,
    domain: 'lab.test',
    routes: [
      { destination: '10.9.0.0', prefixLength: 16, router: `${p}.254` },
      { destination: '0.0.0.0', prefixLength: 0, router: `${p}.1` },
    ],
  }
}

export interface ServeOptions {
  netns: TestNetns
  interface: string
  net: Network
  range: [string, string]
}

export interface RunningServer {
  stop(): Promise<void>
}

export interface PeerServer {
  name: string
  available: boolean
  /** The shortest lease this server hands out, in seconds. */
  leaseSeconds: number
  start(options: ServeOptions): Promise<RunningServer>
}

function scratch(tag: string): string {
  const dir = mkdtempSync(join(tmpdir(), `lab-dhcp4-${tag}-`))
  deferCleanup(`rm ${dir}`, () => rmSync(dir, { recursive: true, force: true }))
  return dir
}

const daemonServer = (d: Daemon): RunningServer => ({ stop: async () => void (await d.stop()) })

export const dnsmasq: PeerServer = {
  name: 'dnsmasq',
  available: hasCommand('dnsmasq'),
  leaseSeconds: 120, // dnsmasq's minimum
  async start({ netns, interface: ifname, net, range }) {
    const dir = scratch('dnsmasq')
    const routes = net.routes.map((r) => `${r.destination}/${r.prefixLength},${r.router}`).join(',')
    const d = await Daemon.start({
      name: 'dnsmasq',
      netns: netns.name,
      argv: ['dnsmasq', '--keep-in-foreground', '--port=0', `--interface=${ifname}`, '--bind-interfaces', '--no-ping', '--dhcp-authoritative', '--log-dhcp', '--log-facility=-', '--conf-file=/dev/null',
        `--dhcp-range=${range[0]},${range[1]},${net.mask},${this.leaseSeconds}s`, `--dhcp-leasefile=${join(dir, 'leases')}`, `--pid-file=${join(dir, 'pid')}`,
        `--dhcp-option=option:router,${net.server}`, `--dhcp-option=option:dns-server,${net.dns}`, `--dhcp-option=option:domain-name,${net.domain}`,
        `--dhcp-option=option:classless-static-route,${routes}`],
      ready: /DHCP, IP range/,
    })
    return daemonServer(d)
  },
}

/** Option 121's wire form (RFC 3442), for servers configured in hex. */
function classlessHex(net: Network): string {
  const parts: number[] = []
  for (const r of net.routes) {
    parts.push(r.prefixLength, ...r.destination.split('.').map(Number).slice(0, Math.ceil(r.prefixLength / 8)), ...r.router.split('.').map(Number))
  }
  return Buffer.from(parts).toString('hex')
}

export const kea: PeerServer = {
  name: 'kea',
  available: hasCommand('kea-dhcp4'),
  leaseSeconds: 8,
  async start({ netns, interface: ifname, net, range }) {
    const dir = scratch('kea')
    const config = join(dir, 'kea.json')
    writeFileSync(
      config,
      JSON.stringify({
        Dhcp4: {
          'interfaces-config': { interfaces: [ifname] },
          'lease-database': { type: 'memfile', persist: true, name: join(dir, 'leases.csv'), 'lfc-interval': 0 },
          authoritative: true,
          'valid-lifetime': this.leaseSeconds,
          'renew-timer': this.leaseSeconds / 2,
          'rebind-timer': (this.leaseSeconds * 7) / 8,
          subnet4: [
            {
              id: 1,
              subnet: `${net.network}/${net.prefixLength}`,
              pools: [{ pool: `${range[0]} - ${range[1]}` }],
              'option-data': [
                { name: 'routers', data: net.server },
                { name: 'domain-name-servers', data: net.dns },
                { name: 'domain-name', data: net.domain },
                { code: 121, 'csv-format': false, data: classlessHex(net) },
              ],
            },
          ],
          loggers: [{ name: 'kea-dhcp4', output_options: [{ output: 'stdout' }], severity: 'INFO' }],
        },
      }),
    )
    const d = await Daemon.start({ name: 'kea-dhcp4', netns: netns.name, argv: ['kea-dhcp4', '-c', config], env: { ...process.env, KEA_PIDFILE_DIR: dir, KEA_LOCKFILE_DIR: dir }, ready: /DHCP4_STARTED/ })
    return daemonServer(d)
  },
}

export const iscDhcpd: PeerServer = {
  name: 'ISC dhcpd',
  available: hasCommand('dhcpd'),
  leaseSeconds: 8,
  async start({ netns, interface: ifname, net, range }) {
    const dir = scratch('dhcpd')
    const routes = Buffer.from(classlessHex(net), 'hex').join(', ')
    writeFileSync(
      join(dir, 'dhcpd.conf'),
      [
        'authoritative;',
        'ping-check false;',
        `default-lease-time ${this.leaseSeconds}; max-lease-time ${this.leaseSeconds}; min-lease-time ${this.leaseSeconds};`,
        'option classless-static-routes code 121 = array of unsigned integer 8;',
        `subnet ${net.network} netmask ${net.mask} {`,
        `  range ${range[0]} ${range[1]};`,
        `  option routers ${net.server};`,
        `  option domain-name-servers ${net.dns};`,
        `  option domain-name "${net.domain}";`,
        `  option classless-static-routes ${routes};`,
        '}',
      ].join('\n') + '\n',
    )
    writeFileSync(join(dir, 'leases'), '')
    const d = await Daemon.start({
      name: 'dhcpd',
      netns: netns.name,
      argv: ['dhcpd', '-4', '-f', '-d', '-cf', join(dir, 'dhcpd.conf'), '-lf', join(dir, 'leases'), '-pf', join(dir, 'pid'), ifname],
      ready: /Server starting service/,
    })
    return daemonServer(d)
  },
}

export const ours: PeerServer = {
  name: '@lab/dhcp4 server',
  available: true,
  leaseSeconds: 8,
  async start({ netns, interface: ifname, net, range }) {
    const dir = scratch('ours')
    const server = await DhcpServer.start({
      netns: netns.name,
      interface: ifname,
      subnets: [{ subnet: `${net.network}/${net.prefixLength}`, range, router: net.server, dns: [net.dns], domain: net.domain, routes: net.routes, leaseTime: this.leaseSeconds }],
      leaseFile: join(dir, 'leases'),
    })
    return { stop: () => server.stop() }
  },
}

export const PEER_SERVERS = [dnsmasq, kea, iscDhcpd, ours]
