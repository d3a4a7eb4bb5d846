// The switch scenario the end-to-end tests share: `nanoswitch run` (the built CLI) in a switch
// namespace with an uplink to an upstream network served by dnsmasq, and VMs (namespaces) on its
// ports running udhcpc, dhclient or dhcpcd.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Daemon, TestNetns, deferCleanup, dhcpcdArgv, hasCommand } from '@lab/testkit'
import { Netlink } from '@lab/netlink-native'
import { readControl, type SwitchStatus } from '@lab/nanoswitch'

export const cli = fileURLToPath(new URL('../../packages/nanoswitch/dist/cli.js', import.meta.url))
export const UPLINK_MAC = '02:72:82:bf:c3:56'
export const peers = ['dnsmasq', 'udhcpc', 'dhclient', 'dhcpcd', 'ping'].every(hasCommand)

export interface Vm {
  ns: TestNetns
  client: Daemon
  address: string
}

export type ClientKind = 'udhcpc' | 'dhclient' | 'dhcpcd'

export const CLIENTS: Record<ClientKind, { argv: (dir: string) => string[]; leased: RegExp }> = {
  udhcpc: { argv: () => ['udhcpc', '-f', '-i', 'eth0', '-t', '10', '-T', '1'], leased: /lease of (10\.1\.0\.\d+) obtained/ },
  dhclient: { argv: (dir) => ['dhclient', '-d', '-v', '-pf', join(dir, 'dhclient.pid'), '-lf', join(dir, 'dhclient.leases'), 'eth0'], leased: /bound to (10\.1\.0\.\d+)/ },
  // dhcpcd with private state and run directories, without privilege separation (see dhcpcdArgv).
  dhcpcd: { argv: () => dhcpcdArgv(['-B', '-4', '-A', '-t', '20', 'eth0']), leased: /leased (10\.1\.0\.\d+)/ },
}

export async function scenario(options: { uplink?: boolean } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'lab-e2e-sw-'))
  deferCleanup(`rm ${dir}`, () => rmSync(dir, { recursive: true, force: true }))
  const sw = await TestNetns.create('e2e-sw')
  const up = await TestNetns.create('e2e-up')
  const nl = await Netlink.open({ netns: sw.name })
  deferCleanup('netlink', () => nl.close())
  let dnsmasq: Daemon | undefined
  if (options.uplink !== false) {
    await nl.link.add({ name: 'uplink0', kind: 'veth', address: UPLINK_MAC, peer: { name: 'u0', netns: up.name } })
    await up.exec(['ip', 'addr', 'add', '10.99.0.1/24', 'dev', 'u0'])
    await up.exec(['ip', 'link', 'set', 'u0', 'up'])
    dnsmasq = await Daemon.start({
      name: 'dnsmasq (upstream)',
      netns: up.name,
      argv: ['dnsmasq', '--keep-in-foreground', '--port=0', '--interface=u0', '--bind-interfaces', '--no-ping', '--conf-file=/dev/null', '--log-facility=-', '--dhcp-leasefile=' + join(dir, 'upstream.leases'),
        `--pid-file=${join(dir, 'dnsmasq.pid')}`, '--dhcp-range=10.99.0.10,10.99.0.50,255.255.255.0,1h', '--dhcp-option=option:router,10.99.0.1'],
      ready: /DHCP, IP range/,
    })
  }
  const socket = join(dir, 'control.sock')
  const leaseFile = join(dir, 'leases')
  let ports = 0
  const vms: Vm[] = []

  const startSwitch = (extra: string[] = []) =>
    Daemon.start({ name: 'nanoswitch', argv: [process.execPath, cli, 'run', '--netns', sw.name, '--socket', socket, '--lease-file', leaseFile, ...extra], ready: /switch healthy/ })
  const status = () => readControl(socket) as Promise<SwitchStatus>

  /** A VM: a namespace on a new switch port, running a DHCP client, once it has its lease. */
  const vm = async (kind: ClientKind): Promise<Vm> => {
    // Its own resolv.conf (TestNetns) takes what the client's script writes.
    const ns = await TestNetns.create('e2e-vm')
    await nl.link.add({ name: `port${++ports}`, kind: 'veth', peer: { name: 'eth0', netns: ns.name } })
    const vmDir = mkdtempSync(join(dir, `${kind}-`))
    const client = await Daemon.start({ name: kind, netns: ns.name, argv: CLIENTS[kind].argv(vmDir) })
    const address = (await client.waitFor(CLIENTS[kind].leased, 20_000))[1]!
    // A client logs its lease before it has configured it (dhcpcd adds the address and the subnet
    // route a moment later): wait until the switch is reachable from the VM's own address.
    for (let i = 0; ; i++) {
      const route = await ns.exec(['ip', '-j', 'route', 'get', '10.1.0.1'], { allowFailure: true })
      if (route.code === 0 && (JSON.parse(route.stdout) as Array<{ prefsrc?: string }>)[0]?.prefsrc === address) break
      if (i >= 200) throw new Error(`${kind}: leased ${address} but did not configure it within 10 s`)
      await new Promise((r) => setTimeout(r, 50))
    }
    const v = { ns, client, address }
    vms.push(v)
    return v
  }
  const ping = (from: TestNetns, to: string) => from.exec(['ping', '-c', '1', '-W', '2', to], { allowFailure: true }).then((r) => r.code === 0)
  const inet = async (ns: TestNetns) => (await ns.ip<Array<{ addr_info: Array<{ family: string; local: string; prefixlen: number }> }>>(['addr', 'show', 'dev', 'eth0'])).flatMap((l) => l.addr_info.filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`))
  return { dir, sw, up, nl, dnsmasq, startSwitch, status, vm, vms, ping, inet, leaseFile }
}
