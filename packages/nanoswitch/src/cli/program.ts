// nanoswitch's command line, as data for @lab/cli-kit: `run` the switch (in a namespace, or as a
// VM's init), or ask a running one its `status`. Exit 0 ok, 1 failed, 2 usage.
import { readFileSync } from 'node:fs'
import { ArgumentError, parseIp, parseMac } from '@lab/netlink-native'
import { UsageError, choiceFlag, integerFlag, type Options, type Program, type RunContext, type Values } from '@lab/cli-kit'
import pino, { type Logger } from 'pino'
import { RunningSwitch, type StartOptions } from '../app.js'
import { controlSocketPath, readControl } from '../control.js'
import { parseForward, type ForwardSpec } from '../forward/forward-spec.js'
import { becomeInit } from '../init.js'
import { prettyStream } from '../pretty.js'
import { parseOui } from '../routed/client-mac.js'
import { formatStatus, type SwitchStatus } from '../status.js'
import { bridgePlan } from '../switched/plan.js'
import { bridgePlan6 } from '../switched/plan6.js'
import { fabricPlan, type FabricOptions } from '../fabric/fabric.js'
import { parseHttpListen } from '../http/listen-spec.js'

const globalOptions: Options = {
  netns: { type: 'string', value: 'NS', description: 'the switch\'s network namespace (a name under /run/netns, or a path); default this process\'s' },
  socket: { type: 'string', value: 'PATH', description: 'the control socket (default /run/nanoswitch/<netns>.sock, or default.sock without --netns)' },
}

const runOptions: Options = {
  mode: { type: 'string', value: 'MODE', description: 'switched (a bridge, the default) or routed (a /31 per client link, seed 001)' },
  uplink: { type: 'string', value: 'IF', description: 'switched: the uplink by name; waited for if it is not there yet' },
  'uplink-mac': { type: 'string', value: 'MAC', description: 'switched: the uplink by MAC (default 02:72:82:bf:c3:56, used if present at start)' },
  subnet: { type: 'string', value: 'CIDR', description: 'switched: the switch\'s address on the bridge (default 10.1.0.1/24)' },
  subnet6: { type: 'string', value: 'CIDR', description: 'switched: the switch\'s IPv6 address on the bridge, in a /64 (default fd0a:b3ec:1::1/64)' },
  'no-ipv6': { type: 'boolean', description: 'IPv4 only (switched: no RAs, DHCPv6, uplink IPv6 or NAT66; routed: no /64 on client links, no NAT66)' },
  'no-pd': { type: 'boolean', description: 'switched: do not ask the upstream for a delegated prefix (IA_PD); the bridge\'s ULA /64 only, through NAT66' },
  dns: { type: 'string', value: 'IP', multiple: true, description: 'DNS server handed to VMs (default 10.42.0.3); an IPv6 one goes in RAs (RDNSS) and DHCPv6' },
  forward: { type: 'string', value: 'PORT:IP[:PORT]', multiple: true, description: 'switched: forward a TCP port of the switch to a VM (an IPv6 VM address in brackets: 8080:[fd0a:b3ec:1::1000]:80)' },
  'forward-mode': { type: 'string', value: 'kernel|proxy', description: 'switched: kernel DNAT from outside the bridge (default), or a relay in the switch on all its addresses' },
  socks: { type: 'string', value: 'PORT', description: 'switched: a SOCKS5 proxy (CONNECT only) into the bridge subnet' },
  'lease-file': { type: 'string', value: 'PATH', description: 'switched: keep leases in this journal (its directory is created), so VMs keep their addresses across restarts' },
  bridge: { type: 'string', value: 'NAME', description: 'switched: the bridge\'s name (default vmbridge)' },
  oui: { type: 'string', value: 'aa:bb:cc', description: 'routed: the OUI that marks client links (default 0a:b3:ec)' },
  'no-client-dhcp': { type: 'boolean', description: 'routed: do not answer DHCP on client links' },
  fabric: { type: 'string', value: 'FILE', description: 'switched: join a fabric across hosts (JSON: vni, local, underlay, asn, neighbors, range; VXLAN + FRR BGP EVPN)' },
  http: { type: 'string', value: 'ADDR:PORT', description: 'serve the status page, /api/status, /api/events and /metrics there, inside the switch\'s namespace (GET only; default off)' },
  keep: { type: 'boolean', description: 'on stop, leave the bridge, addresses and nftables tables for the next run to adopt' },
  init: { type: 'boolean', description: 'run as a VM\'s PID 1: mount /proc, /sys, /dev, /dev/pts and reap orphans' },
}

/** An ArgumentError from a value check, as the flag's usage error. */
function flag<T>(name: string, value: string | undefined, check: (value: string) => T): T | undefined {
  if (value === undefined) return undefined
  try {
    return check(value)
  } catch (error) {
    if (!(error instanceof ArgumentError)) throw error
    throw new UsageError(`--${name} ${value}: ${error.message.slice(error.field.length + 2)}`)
  }
}

/** The StartOptions a `run` command line asks for; UsageError for a value that cannot work. */
export function startOptions(values: Values): StartOptions {
  const mode = choiceFlag('mode', values.mode as string | undefined, ['switched', 'routed'] as const, 'switched')
  const forwardMode = choiceFlag('forward-mode', values['forward-mode'] as string | undefined, ['kernel', 'proxy'] as const, 'kernel')
  if (values.uplink !== undefined && values['uplink-mac'] !== undefined) throw new UsageError('--uplink and --uplink-mac: one or the other')
  flag('subnet', values.subnet as string | undefined, bridgePlan)
  flag('subnet6', values.subnet6 as string | undefined, bridgePlan6)
  const ipv6 = mode === 'switched' && !values['no-ipv6']
  for (const dns of (values.dns as string[] | undefined) ?? []) {
    flag('dns', dns, (d) => {
      if (parseIp(d, 'dns').family !== 4 && !ipv6) throw new ArgumentError('dns', `an IPv4 address (${mode === 'routed' ? 'routed mode' : '--no-ipv6'})`)
    })
  }
  const uplinkMac = flag('uplink-mac', values['uplink-mac'] as string | undefined, (m) => (parseMac(m, 'uplink-mac'), m))
  flag('oui', values.oui as string | undefined, parseOui)
  const forwards: ForwardSpec[] = ((values.forward as string[] | undefined) ?? []).map((f) => flag('forward', f, parseForward)!)
  const socks = integerFlag('socks', values.socks as string | undefined, { min: 1, max: 65535 })
  const netns = values.netns as string | undefined
  const http = flag('http', values.http as string | undefined, parseHttpListen)
  const fabric = values.fabric === undefined ? undefined : readFabric(values.fabric as string, values.subnet as string | undefined)
  return {
    mode,
    ...(netns ? { netns } : {}),
    ...(values.oui ? { oui: values.oui as string } : {}),
    ...(values['no-client-dhcp'] ? { clientDhcp: false } : {}),
    ...(values.bridge ? { bridge: values.bridge as string } : {}),
    ...(values.subnet ? { subnet: values.subnet as string } : {}),
    ...(values.subnet6 ? { subnet6: values.subnet6 as string } : {}),
    ...(values['no-ipv6'] ? { ipv6: false } : {}),
    ...(values['no-pd'] ? { prefixDelegation: false } : {}),
    ...(values.dns ? { dns: values.dns as string[] } : {}),
    uplink: values.uplink ? { name: values.uplink as string } : uplinkMac ? { mac: uplinkMac } : {},
    forwards,
    forwardMode,
    ...(socks !== undefined ? { socks } : {}),
    ...(values['lease-file'] ? { leaseFile: values['lease-file'] as string } : {}),
    ...(values.socket ? { controlSocket: values.socket as string } : {}),
    ...(values.keep ? { keep: true } : {}),
    ...(fabric ? { fabric } : {}),
    ...(http ? { http } : {}),
  }
}

/** The --fabric file, checked: UsageError naming the file and the field. */
function readFabric(path: string, subnet: string | undefined): FabricOptions {
  let value: unknown
  try {
    value = JSON.parse(readFileSync(path, 'utf8'))
  } catch (error) {
    const why = error instanceof SyntaxError ? `not JSON (${error.message})` : ((error as NodeJS.ErrnoException).code ?? (error as Error).message)
    throw new UsageError(`--fabric ${path}: ${why}`)
  }
  try {
    fabricPlan(value, bridgePlan(subnet ?? '10.1.0.1/24'))
  } catch (error) {
    if (!(error instanceof ArgumentError)) throw error
    throw new UsageError(`--fabric ${path}: "${error.field.replace(/^fabric\.?/, '') || '(top)'}": ${error.message.slice(error.field.length + 2)}`)
  }
  return value as FabricOptions
}

function logger(json: boolean): Logger {
  const options = { name: 'nanoswitch', level: process.env.LOG_LEVEL ?? 'info' }
  return process.stdout.isTTY && !json ? pino(options, prettyStream()) : pino(options)
}

async function run({ values, json, signal }: RunContext): Promise<number> {
  const options = startOptions(values)
  if (values.init) becomeInit()
  const log = logger(json)
  const sw = await RunningSwitch.start({ ...options, logger: log })
  log.info({ control: options.controlSocket ?? controlSocketPath(options.netns), ...(options.http ? { http: `${options.http.host.includes(':') ? `[${options.http.host}]` : options.http.host}:${sw.httpPort}` } : {}) }, 'switch healthy')
  const outcome = await new Promise<'stopped' | Error>((resolve) => {
    if (signal.aborted) resolve('stopped')
    signal.addEventListener('abort', () => resolve('stopped'), { once: true })
    void sw.failed.then(resolve)
  })
  if (outcome !== 'stopped') log.error({ err: outcome }, 'switch failed')
  else log.info({ keep: options.keep ?? false }, options.keep ? 'stopping; leaving bridge, addresses and tables for the next run' : 'stopping; removing what the switch made')
  await sw.stop()
  if (outcome !== 'stopped') throw outcome
  return 0
}

async function status({ values, print }: RunContext): Promise<number> {
  const path = (values.socket as string | undefined) ?? controlSocketPath(values.netns as string | undefined)
  const s = (await readControl(path)) as SwitchStatus
  print(s, (value) => formatStatus(value as SwitchStatus))
  return 0
}

export const program: Program = {
  name: 'nanoswitch',
  summary: 'a tiny top-of-rack switch for VMs and namespaces',
  globalOptions,
  notes: `run: bridges every Ethernet link but the uplink into vmbridge with the switch address, serves
DHCP there (pool from .2, router the switch, DNS 10.42.0.3, 12 h leases), and with an uplink takes a
DHCP lease on it, announces it by ARP and masquerades the bridge subnet out of it. Links that appear
later join the bridge. Dual stack unless --no-ipv6: the bridge also gets fd0a:b3ec:1::1/64
(--subnet6), RAs announce its /64 for SLAAC (M and O set), DHCPv6 serves ::1000-::ffff in it (leases in
<lease-file>6), and on the uplink the switch takes SLAAC and DHCPv6 and masquerades the /64 (NAT66);
a prefix delegated there (IA_PD, unless --no-pd) puts its first /64 on the bridge too, announced and
routed without NAT.
SIGINT/SIGTERM stop it and remove what it made (unless --keep); a restart
adopts what a crashed run left. Logs are pino JSON (readable on a terminal, JSON with --json).
--mode routed: seed 001's router instead: a link whose MAC starts with the client OUI is a client
link, its MAC's last three bytes encoding the router's address 100.M3.M4.M5/31 (the client gets the
next address, by DHCP unless --no-client-dhcp; unless --no-ipv6 the link also gets
fd0a:b3ec:M3:M4M5::1/64 and RAs, so the client configures itself by SLAAC); every other Ethernet
link is an uplink (SLAAC there too, and NAT66):
  nanoswitch run --mode routed --netns rt1
status: links, bridge ports, leases, the DHCP server's health, the uplink's lease, forwards and the
supervision tree of the running switch, read from its control socket.
--fabric FILE: one switched network across hosts. FILE is JSON, e.g.
  {"vni": 4242, "local": "192.168.50.1", "underlay": "ul0", "asn": 65000,
   "neighbors": ["192.168.50.2", "192.168.50.3"], "range": ["10.1.0.10", "10.1.0.79"]}
A VXLAN device for the VNI joins the bridge (the underlay never does); FRR's zebra and bgpd run in
the switch's namespace (files in /var/run/frr/<netns>, reach them with vtysh -N <netns>); every
host has the same gateway address and MAC; DHCP answers only local ports, from this host's range.
The switch is healthy once every neighbor is Established.
--http ADDR:PORT: a read-only web server in the switch's namespace: / the live status page,
/api/status (as status --json), /api/events (Server-Sent Events), /metrics (Prometheus), e.g.
  nanoswitch run --netns sw1 --http 10.1.0.1:8080
A configuration the switch cannot run with (no such namespace, a lease file that cannot be made)
fails at once with exit status 1.`,
  commands: {
    run: {
      summary: 'run the switch until SIGINT/SIGTERM',
      usage: '[--netns NS] [--socket PATH] [--mode switched|routed] [--uplink IF | --uplink-mac MAC] [--subnet CIDR] [--subnet6 CIDR] [--no-ipv6] [--no-pd] [--dns IP]... [--forward PORT:IP[:PORT]]... [--forward-mode kernel|proxy] [--socks PORT] [--lease-file PATH] [--fabric FILE] [--http ADDR:PORT] [--bridge NAME] [--oui aa:bb:cc] [--no-client-dhcp] [--keep] [--init]',
      options: runOptions,
      example: 'nanoswitch run --netns sw1 --forward 8080:10.1.0.2 --socks 1080 --lease-file /var/lib/lab/sw1.leases',
      run,
    },
    status: {
      summary: 'print the running switch\'s status (JSON with --json)',
      usage: '[--netns NS | --socket PATH] [--json]',
      example: 'nanoswitch status --netns sw1',
      run: status,
    },
  },
}
