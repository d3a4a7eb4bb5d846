#!/usr/bin/env node
// nanoswitch: run the switch (in a namespace, or as a VM's init), or ask a running one its status.
import { parseArgs } from 'node:util'
import pino from 'pino'
import { ArgumentError } from '@lab/netlink-native'
import { RunningSwitch } from './app.js'
import { controlSocketPath, readControl } from './control.js'
import { parseForward } from './forward/forward-spec.js'
import { becomeInit } from './init.js'
import { prettyStream } from './pretty.js'
import { formatStatus, type SwitchStatus } from './status.js'

const HELP = `nanoswitch: a tiny top-of-rack switch for VMs and namespaces

usage:
  nanoswitch run [--netns NS] [--uplink IF | --uplink-mac MAC] [--subnet 10.1.0.1/24] [--dns IP]...
                 [--forward PORT:IP[:PORT]]... [--forward-mode kernel|proxy] [--socks PORT] [--lease-file PATH]
                 [--bridge NAME] [--init]
  nanoswitch run --mode routed [--netns NS] [--oui 0a:b3:ec] [--no-client-dhcp] [--dns IP]... [--init]
  nanoswitch status [--netns NS | --socket PATH] [--json]

run: bridges every Ethernet link but the uplink (default: the one with MAC 02:72:82:bf:c3:56) into
vmbridge with the switch address, serves DHCP there (pool from .2, router the switch, DNS 10.42.0.3,
12 h leases), and with an uplink takes a DHCP lease on it, announces it by ARP and masquerades the
bridge subnet out of it. Links that appear later join the bridge. --forward sends a TCP port of the
switch to a VM: by kernel DNAT for connections from outside the bridge (default), or with
--forward-mode proxy by a relay in the switch on all its addresses; --socks opens a SOCKS5 proxy into the bridge subnet. --init runs as a VM's PID 1
(mounts /proc, /sys, /dev, /dev/pts and reaps orphans). Logs are pino JSON (pretty on a terminal).
SIGINT/SIGTERM stop it.
--mode routed: seed 001's router instead: a link whose MAC starts with the client OUI is a client
link, its MAC's last three bytes encoding the router's address 100.M3.M4.M5/31 (the client gets the
next address, by DHCP unless --no-client-dhcp); every other Ethernet link is an uplink (DHCP client,
masquerade). Links are handled as they come and go.
status: links, bridge ports, leases, the uplink's lease, forwards and the supervision tree of the
running switch, read from its control socket (/run/nanoswitch/<netns>.sock).

exit status: 0 stopped cleanly, 1 failed, 2 usage error`

class UsageError extends Error {}

async function run(values: Record<string, string | string[] | boolean | undefined>): Promise<number> {
  if (values.init) becomeInit()
  if (values.uplink && values['uplink-mac']) throw new UsageError('--uplink and --uplink-mac: one or the other')
  const forwards = ((values.forward as string[] | undefined) ?? []).map(parseForward)
  const socks = values.socks === undefined ? undefined : Number(values.socks)
  if (socks !== undefined && !(Number.isInteger(socks) && socks > 0 && socks < 65536)) throw new UsageError('--socks: a TCP port')
  const options = { name: 'nanoswitch', level: process.env.LOG_LEVEL ?? 'info' }
  const logger = process.stdout.isTTY ? pino(options, prettyStream()) : pino(options)
  const netns = values.netns as string | undefined
  const forwardMode = (values['forward-mode'] as string | undefined) ?? 'kernel'
  if (forwardMode !== 'kernel' && forwardMode !== 'proxy') throw new UsageError('--forward-mode: kernel or proxy')
  const mode = (values.mode as string | undefined) ?? 'switched'
  if (mode !== 'switched' && mode !== 'routed') throw new UsageError('--mode: switched or routed')
  const sw = await RunningSwitch.start({
    mode,
    ...(values.oui ? { oui: values.oui as string } : {}),
    ...(values['no-client-dhcp'] ? { clientDhcp: false } : {}),
    ...(netns ? { netns } : {}),
    ...(values.bridge ? { bridge: values.bridge as string } : {}),
    ...(values.subnet ? { subnet: values.subnet as string } : {}),
    ...(values.dns ? { dns: values.dns as string[] } : {}),
    uplink: values.uplink ? { name: values.uplink as string } : values['uplink-mac'] ? { mac: values['uplink-mac'] as string } : {},
    forwards,
    forwardMode,
    ...(socks ? { socks } : {}),
    ...(values['lease-file'] ? { leaseFile: values['lease-file'] as string } : {}),
    ...(values.socket ? { controlSocket: values.socket as string } : {}),
    logger,
  })
  logger.info({ control: values.socket ?? controlSocketPath(netns) }, 'switch healthy')
  const stopped = await Promise.race([
    new Promise<'signal'>((resolve) => {
      process.once('SIGINT', () => resolve('signal'))
      process.once('SIGTERM', () => resolve('signal'))
    }),
    sw.tree.failed.then((error) => {
      logger.error({ err: error }, 'switch failed')
      return 'failed' as const
    }),
  ])
  await sw.stop()
  return stopped === 'failed' ? 1 : 0
}

async function status(values: Record<string, string | string[] | boolean | undefined>): Promise<number> {
  const path = (values.socket as string | undefined) ?? controlSocketPath(values.netns as string | undefined)
  const s = (await readControl(path)) as SwitchStatus
  console.log(values.json ? JSON.stringify(s, null, 2) : formatStatus(s))
  return 0
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      netns: { type: 'string' },
      uplink: { type: 'string' },
      'uplink-mac': { type: 'string' },
      subnet: { type: 'string' },
      dns: { type: 'string', multiple: true },
      forward: { type: 'string', multiple: true },
      'forward-mode': { type: 'string' },
      socks: { type: 'string' },
      'lease-file': { type: 'string' },
      bridge: { type: 'string' },
      socket: { type: 'string' },
      init: { type: 'boolean' },
      mode: { type: 'string' },
      oui: { type: 'string' },
      'no-client-dhcp': { type: 'boolean' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help) {
    console.log(HELP)
    return 0
  }
  if (positionals[0] === 'run') return run(values)
  if (positionals[0] === 'status') return status(values)
  throw new UsageError(positionals[0] ? `unknown command ${positionals[0]}` : 'missing command (run or status)')
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const usage = error instanceof UsageError || error instanceof ArgumentError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
    console.error(`nanoswitch: ${(error as Error).message}${error instanceof UsageError ? ' (see nanoswitch --help)' : ''}`)
    process.exit(usage ? 2 : 1)
  },
)
