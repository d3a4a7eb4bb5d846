#!/usr/bin/env node
// lab-dhcp4: run the DHCP server, or print the leases of a lease file.
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { EXIT, UsageError, errorLine, isUsageError } from '@lab/cli-kit'
import { ArgumentError } from '@lab/netlink-native'
import pino from 'pino'
import { ConfigError, parseConfig, type ServerConfig } from './config.js'
import { compose, manageDNS, manageIP, manageRoutes } from './client/callbacks.js'
import { DhcpClient, LeaseTimeoutError } from './client/client.js'
import type { ClientLease } from './client/lease.js'
import type { LeaseCallback } from './client/machine.js'
import { LoadGenerator } from './load/load-generator.js'
import { readLeaseFile } from './server/journal.js'
import { DhcpServer } from './server/server.js'

const HELP = `lab-dhcp4: a DHCPv4 server whose leases survive kill -9, and a client

usage:
  lab-dhcp4 server --config FILE [--netns NS]
  lab-dhcp4 server --interface br0 --subnet 10.1.0.0/24 --range 10.1.0.2-10.1.0.254 [--router IP] [--dns IP]... [--lease-time S] [--lease-file PATH] [--netns NS]
  lab-dhcp4 leases --lease-file PATH [--json]
  lab-dhcp4 client --interface eth0 [--netns NS] [--once] [--json] [--no-configure] [--timeout S]
                   [--vendor-class S] [--hostname H] [--client-id HEX] [--lease-file PATH]
                   [--resolv-conf PATH] [--release-on-exit]
  lab-dhcp4 load --server IP --giaddr IP --clients N [--window N] [--duration S] [--netns NS] [--json]

server: SIGUSR1 logs the counters (offers, acks, naks, malformed, pool free...) as one JSON line;
SIGINT/SIGTERM stop it after the pending leases are on disk.
client: gets a lease and configures the interface (address with the lease's lifetime, routes from
option 121 or 3, resolv.conf with --resolv-conf), then keeps renewing; --once stops after the first
lease; --json prints each lease as one JSON line; SIGINT/SIGTERM stop it, releasing the lease with
--release-on-exit. Exits 1 when no lease comes within --timeout (default 30 s).
load: simulated clients behind a relay address (giaddr, which must be local) each do
DISCOVER-OFFER-REQUEST-ACK with the server; prints exchanges/s and latency.

example:
  lab-dhcp4 server --netns sw1 --interface br0 --subnet 10.1.0.0/24 --range 10.1.0.2-10.1.0.254 --router 10.1.0.1 --lease-file /tmp/leases

exit status: 0 stopped cleanly (load: every exchange completed), 1 could not serve, no lease came, or some exchanges failed, 2 usage or configuration error`

/** A configuration file that cannot be used: exit 2, one line naming the file and the field. */
class ConfigFileError extends UsageError {}

function readConfig(file: string): ServerConfig {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    throw new ConfigFileError(`--config ${file}: cannot read it (${(error as { code?: string }).code ?? (error as Error).message})`)
  }
  try {
    return parseConfig(text)
  } catch (error) {
    if (error instanceof ConfigError) throw new ConfigFileError(`--config ${file}: ${error.message}`)
    throw error
  }
}

async function server(values: Record<string, string | string[] | boolean | undefined>): Promise<number> {
  let config: ServerConfig
  if (values.config) {
    config = readConfig(values.config as string)
  } else {
    const [first, last] = String(values.range ?? '').split('-')
    if (!values.interface || !values.subnet || !first || !last) throw new UsageError('server needs --config, or --interface, --subnet and --range FIRST-LAST')
    config = { interface: [values.interface as string], subnets: [] }
    config.subnets = [
      {
        subnet: values.subnet as string,
        range: [first, last],
        ...(values.router ? { router: values.router as string } : {}),
        ...(values.dns ? { dns: values.dns as string[] } : {}),
        ...(values['lease-time'] ? { leaseTime: Number(values['lease-time']) } : {}),
      },
    ]
  }
  if (values['lease-file']) config.leaseFile = values['lease-file'] as string
  if (values.netns) config.netns = values.netns as string
  const logger = pino({ name: 'lab-dhcp4', level: process.env.LOG_LEVEL ?? 'info' })
  // Listening before start(): its "serving" line tells a supervisor it may send SIGTERM already.
  const stopAsked = new Promise<void>((resolve) => {
    process.once('SIGINT', resolve)
    process.once('SIGTERM', resolve)
  })
  const dhcp = await DhcpServer.start({ ...config, logger })
  const showCounters = () => logger.info({ counters: dhcp.counters() }, 'counters')
  process.on('SIGUSR1', showCounters)
  await stopAsked
  process.off('SIGUSR1', showCounters)
  logger.info({ counters: dhcp.counters() }, 'stopping')
  await dhcp.stop()
  return 0
}

async function leases(values: Record<string, string | string[] | boolean | undefined>): Promise<number> {
  if (!values['lease-file']) throw new UsageError('leases needs --lease-file')
  const { leases: list } = await readLeaseFile(values['lease-file'] as string)
  const now = Date.now()
  const current = list.filter((l) => l.state === 'bound' && l.expiresAt > now)
  if (values.json) console.log(JSON.stringify(current))
  else for (const l of current) console.log(`${l.address}\t${l.mac}\t${l.hostname ?? '-'}\texpires ${new Date(l.expiresAt).toISOString()}`)
  return 0
}

function describeLease(l: ClientLease): string {
  const lines = [`${l.interface}: ${l.address}/${l.prefixLength} from ${l.serverId}, lease ${l.leaseTime === 0xffffffff ? 'infinite' : `${l.leaseTime} s (renew ${l.renewalTime} s, rebind ${l.rebindingTime} s)`}`]
  for (const r of l.routes) lines.push(`  route ${r.prefixLength === 0 ? 'default' : `${r.destination}/${r.prefixLength}`} via ${r.router}`)
  if (l.dns.length) lines.push(`  dns ${l.dns.join(' ')}`)
  if (l.domain) lines.push(`  domain ${l.domain}`)
  if (l.search.length) lines.push(`  search ${l.search.join(' ')}`)
  if (l.mtu) lines.push(`  mtu ${l.mtu}`)
  return lines.join('\n')
}

async function client(values: Record<string, string | string[] | boolean | undefined>): Promise<number> {
  const ifname = values.interface as string | undefined
  if (!ifname) throw new UsageError('client needs --interface')
  const timeout = values.timeout === undefined ? 30 : Number(values.timeout)
  if (!(timeout > 0)) throw new UsageError('--timeout: seconds, more than 0')
  const clientIdHex = values['client-id'] as string | undefined
  if (clientIdHex !== undefined && !/^([0-9a-f]{2}:?)+$/i.test(clientIdHex)) throw new UsageError('--client-id: hex bytes, e.g. 01:02:00:00:00:00:0a')
  const netns = values.netns as string | undefined
  const logger = pino({ name: 'lab-dhcp4', level: process.env.LOG_LEVEL ?? (values.json ? 'warn' : 'info') }, pino.destination(2))
  const callbacks: LeaseCallback[] = []
  if (!values['no-configure']) callbacks.push(manageIP({ ...(netns ? { netns } : {}) }), manageRoutes({ ...(netns ? { netns } : {}) }))
  if (values['resolv-conf']) callbacks.push(manageDNS(values['resolv-conf'] as string))
  const show = (lease: ClientLease | undefined, reason: string) => {
    if (values.json) console.log(JSON.stringify({ event: reason, ...(lease ? { lease } : {}) }))
    else if (lease && reason !== 'release' && reason !== 'expire' && reason !== 'nak') console.log(describeLease(lease))
    else console.log(`${ifname}: lease ${reason === 'nak' ? 'refused by the server' : reason === 'expire' ? 'expired' : 'released'}`)
  }
  const dhcp = await DhcpClient.start({
    interface: ifname,
    ...(netns ? { netns } : {}),
    ...(clientIdHex ? { clientId: Buffer.from(clientIdHex.replaceAll(':', ''), 'hex') } : {}),
    ...(values.hostname ? { hostname: values.hostname as string } : {}),
    ...(values['vendor-class'] ? { vendorClass: values['vendor-class'] as string } : {}),
    ...(values['lease-file'] ? { leaseFile: values['lease-file'] as string } : {}),
    onLease: compose(...callbacks),
    logger,
  })
  let failed = false
  dhcp.on('error', () => void (failed = true))
  try {
    const lease = await dhcp.waitForLease(timeout * 1000)
    show(lease, 'acquire')
  } catch (error) {
    await dhcp.stop()
    if (error instanceof LeaseTimeoutError) {
      console.error(`lab-dhcp4: ${error.message}`)
      return 1
    }
    throw error
  }
  if (failed) {
    await dhcp.stop()
    console.error(`lab-dhcp4: the lease came but configuring ${ifname} failed (see the log)`)
    return 1
  }
  if (values.once) {
    if (values['release-on-exit']) await dhcp.release()
    else await dhcp.stop()
    return 0
  }
  dhcp.on('lease', ({ old, next, reason }) => show(next ?? old, reason))
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve)
    process.once('SIGTERM', resolve)
  })
  if (values['release-on-exit']) await dhcp.release()
  else await dhcp.stop()
  return 0
}

async function load(values: Record<string, string | string[] | boolean | undefined>): Promise<number> {
  const clients = Number(values.clients)
  if (!values.server || !values.giaddr || !Number.isInteger(clients) || clients < 1) throw new UsageError('load needs --server, --giaddr and --clients N')
  const window = values.window === undefined ? undefined : Number(values.window)
  if (window !== undefined && !(Number.isInteger(window) && window > 0)) throw new UsageError('--window: a positive integer')
  const generator = await LoadGenerator.open({ netns: values.netns as string | undefined, server: values.server as string, giaddr: values.giaddr as string })
  let result
  try {
    result = await generator.run({ clients, ...(window ? { window } : {}), ...(values.duration ? { durationMs: Number(values.duration) * 1000 } : {}) })
  } finally {
    await generator.close()
  }
  if (values.json) console.log(JSON.stringify(result))
  else {
    console.log(`${result.completed}/${clients} exchanges in ${(result.elapsedMs / 1000).toFixed(2)} s: ${Math.round(result.rate)}/s`)
    console.log(`latency p50 ${result.latencyMs.p50.toFixed(2)} ms, p99 ${result.latencyMs.p99.toFixed(2)} ms; naks ${result.naks}, failed ${result.failed}, retransmissions ${result.retransmissions}`)
  }
  return result.completed === clients ? 0 : 1
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string' },
      netns: { type: 'string' },
      interface: { type: 'string' },
      subnet: { type: 'string' },
      range: { type: 'string' },
      router: { type: 'string' },
      dns: { type: 'string', multiple: true },
      'lease-time': { type: 'string' },
      'lease-file': { type: 'string' },
      json: { type: 'boolean' },
      server: { type: 'string' },
      giaddr: { type: 'string' },
      clients: { type: 'string' },
      window: { type: 'string' },
      duration: { type: 'string' },
      once: { type: 'boolean' },
      'no-configure': { type: 'boolean' },
      timeout: { type: 'string' },
      'vendor-class': { type: 'string' },
      hostname: { type: 'string' },
      'client-id': { type: 'string' },
      'release-on-exit': { type: 'boolean' },
      'resolv-conf': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help) {
    console.log(HELP)
    return 0
  }
  if (positionals[0] === 'server') return server(values)
  if (positionals[0] === 'leases') return leases(values)
  if (positionals[0] === 'load') return load(values)
  if (positionals[0] === 'client') return client(values)
  throw new UsageError(positionals[0] ? `unknown command ${positionals[0]}` : 'missing command')
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    // A configuration file's error names the file and field: no pointer to --help needed.
    if (error instanceof ConfigFileError) {
      console.error(`lab-dhcp4: ${error.message}`)
      process.exit(EXIT.usage)
    }
    console.error(errorLine('lab-dhcp4', error))
    process.exit(isUsageError(error) || error instanceof ArgumentError ? EXIT.usage : EXIT.failed)
  },
)
