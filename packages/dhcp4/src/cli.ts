#!/usr/bin/env node
// lab-dhcp4: run the DHCP server, or print the leases of a lease file.
import { existsSync, readFileSync } from 'node:fs'
import { integerFlag, numberFlag, parseListenAddress, requiredFlag, runLeaseClient, runProgram, serveMetrics, serveUntilStopped, untilAborted, UsageError, type Program, type Values } from '@lab/cli-kit'
import { listenTcp } from '@lab/netlink-native'
import pino from 'pino'
import { Registry, collectDefaultMetrics } from 'prom-client'
import { ConfigError, parseConfig, type ServerConfig } from './config.js'
import { compose, manageDNS, manageIP, manageRoutes } from './client/callbacks.js'
import { DhcpClient, LeaseTimeoutError } from './client/client.js'
import type { ClientLease } from './client/lease.js'
import type { LeaseCallback } from './client/machine.js'
import { LoadGenerator } from './load/load-generator.js'
import { readLeaseFile } from './server/journal.js'
import { DhcpError } from './errors.js'
import { DhcpServer } from './server/server.js'

/** A configuration file that cannot be used: exit 2, one line naming the file and the field. */
class ConfigFileError extends UsageError {
  constructor(message: string) {
    super(message, { helpHint: false })
  }
}

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

async function server(values: Values, signal: AbortSignal): Promise<number> {
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
        ...(values['lease-time'] !== undefined ? { leaseTime: integerFlag('lease-time', values['lease-time'] as string, { min: 1, max: 0xffffffff }) } : {}),
      },
    ]
  }
  if (values['lease-file']) config.leaseFile = values['lease-file'] as string
  if (values.durability !== undefined) {
    if (values.durability !== 'commit' && values.durability !== 'none') throw new UsageError(`--durability ${values.durability as string}: expected commit or none`)
    config.durability = values.durability
  }
  if (values.netns) config.netns = values.netns as string
  const metricsAt = values.metrics !== undefined ? parseListenAddress('metrics', values.metrics as string) : undefined
  const logger = pino({ name: 'lab-dhcp4', level: process.env.LOG_LEVEL ?? 'info' })
  // runProgram listens for SIGINT/SIGTERM from the start: the "serving" line tells a supervisor
  // it may send SIGTERM already.
  const stopAsked = untilAborted(signal)
  const dhcp = await DhcpServer.start({ ...config, logger })
  let metrics
  if (metricsAt) {
    try {
      // The server's registry beside this process's own (CPU, memory, event loop lag, GC): the
      // library registers nothing globally, the program adds what is about the process.
      const processMetrics = new Registry()
      collectDefaultMetrics({ register: processMetrics })
      const registry = Registry.merge([dhcp.metrics(), processMetrics])
      // Listening inside the served namespace: Prometheus scrapes the address the server serves from.
      metrics = await serveMetrics(registry, (onConnection) => listenTcp({ ...(config.netns ? { netns: config.netns } : {}), host: metricsAt.host, port: metricsAt.port }, onConnection), logger)
      logger.info({ metrics: `http://${metricsAt.host.includes(':') ? `[${metricsAt.host}]` : metricsAt.host}:${metricsAt.port}/metrics` }, 'metrics served')
    } catch (error) {
      await dhcp.stop()
      throw new DhcpError('LAB_ERR_DHCP_METRICS', `--metrics ${values.metrics as string}: ${(error as Error).message}`, { cause: error })
    }
  }
  try {
    return await serveUntilStopped(dhcp, stopAsked, logger)
  } finally {
    await metrics?.close()
  }
}

async function leases(values: Values): Promise<number> {
  const file = requiredFlag('lease-file', values['lease-file'] as string | undefined)
  // A server creates its lease file when it starts: a missing one is a wrong path, not "no leases".
  if (!existsSync(file)) throw new DhcpError('LAB_ERR_DHCP_LEASE_FILE', `--lease-file ${file}: no such file`)
  const { leases: list } = await readLeaseFile(file)
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

async function client(values: Values, signal: AbortSignal): Promise<number> {
  const ifname = requiredFlag('interface', values.interface as string | undefined)
  const timeout = numberFlag('timeout', values.timeout as string | undefined, { min: 0.001 }, 30)
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
  const isTimeout = (error: unknown) => error instanceof LeaseTimeoutError
  return runLeaseClient(dhcp, { program: 'lab-dhcp4', interface: ifname, timeoutMs: timeout * 1000, values, signal, show, isTimeout })
}

async function load(values: Values): Promise<number> {
  const serverAddress = requiredFlag('server', values.server as string | undefined)
  const giaddr = requiredFlag('giaddr', values.giaddr as string | undefined)
  const clients = integerFlag('clients', requiredFlag('clients', values.clients as string | undefined), { min: 1, max: 1_000_000 })!
  const window = integerFlag('window', values.window as string | undefined, { min: 1, max: 65_536 })
  const duration = numberFlag('duration', values.duration as string | undefined, { min: 0.001 })
  const generator = await LoadGenerator.open({ netns: values.netns as string | undefined, server: serverAddress, giaddr })
  let result
  try {
    result = await generator.run({ clients, ...(window ? { window } : {}), ...(duration ? { durationMs: duration * 1000 } : {}) })
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

const flag = (value: string, description: string, multiple = false) => ({ type: 'string' as const, value, description, ...(multiple ? { multiple } : {}) })
const toggle = (description: string) => ({ type: 'boolean' as const, description })

const program: Program = {
  name: 'lab-dhcp4',
  summary: 'a DHCPv4 server whose leases survive kill -9, a client, and a load generator',
  globalOptions: { netns: flag('NS', 'network namespace (a name under /run/netns or a path)') },
  notes: `server: SIGUSR1 logs the counters as one JSON line; SIGINT/SIGTERM stop it after the pending leases are on disk.
client: exits 1 when no lease comes within --timeout. load: exits 1 when some exchanges failed.
A configuration file's error names the field and exits 2.`,
  commands: {
    server: {
      summary: 'serve DHCP on an interface, from a config file or flags',
      usage: '--config FILE | --interface IF --subnet CIDR --range FIRST-LAST [--router IP] [--dns IP]... [--lease-time S] [--lease-file PATH] [--durability commit|none] [--metrics ADDR:PORT]',
      options: {
        config: flag('FILE', 'a JSON configuration file (see the README)'),
        interface: flag('IF', 'the interface to serve'),
        subnet: flag('CIDR', 'the subnet, e.g. 10.1.0.0/24'),
        range: flag('FIRST-LAST', 'the addresses to lease'),
        router: flag('IP', 'option 3'),
        dns: flag('IP', 'option 6', true),
        'lease-time': flag('S', 'lease time in seconds (default 3600)'),
        'lease-file': flag('PATH', 'the lease journal; its directory is created'),
        durability: flag('MODE', "commit (default): an ACK leaves once its lease is on disk; none: once written to the file, not synced (lost if the machine crashes, not if the process does)"),
        metrics: flag('ADDR:PORT', 'serve Prometheus metrics at http://ADDR:PORT/metrics (inside --netns)'),
      },
      example: 'lab-dhcp4 server --netns sw1 --interface br0 --subnet 10.1.0.0/24 --range 10.1.0.2-10.1.0.254 --router 10.1.0.1 --lease-file /tmp/leases',
      run: ({ values, signal }) => server(values, signal),
    },
    leases: {
      summary: "print the current leases of a server's lease file",
      usage: '--lease-file PATH [--json]',
      options: { 'lease-file': flag('PATH', 'the lease journal') },
      example: 'lab-dhcp4 leases --lease-file /tmp/leases --json',
      run: ({ values }) => leases(values),
    },
    client: {
      summary: 'get a lease, configure the interface, keep renewing',
      usage: '--interface IF [--once] [--json] [--no-configure] [--timeout S] [--vendor-class S] [--hostname H] [--client-id HEX] [--lease-file PATH] [--resolv-conf PATH] [--release-on-exit]',
      options: {
        interface: flag('IF', 'the interface'),
        once: toggle('stop after the first lease'),
        'no-configure': toggle('do not configure the address and routes'),
        timeout: flag('S', 'seconds to wait for the first lease (default 30)'),
        'vendor-class': flag('S', 'option 60'),
        hostname: flag('H', 'option 12'),
        'client-id': flag('HEX', 'option 61, e.g. 01:02:00:00:00:00:0a'),
        'lease-file': flag('PATH', 'where the lease is kept across restarts'),
        'resolv-conf': flag('PATH', 'write the lease\'s DNS servers there'),
        'release-on-exit': toggle('send DHCPRELEASE when stopped'),
      },
      example: 'lab-dhcp4 client --netns vm1 --interface eth0 --once --json',
      run: ({ values, signal }) => client(values, signal),
    },
    load: {
      summary: 'simulated clients behind a relay address: DORA exchanges per second and latency',
      usage: '--server IP --giaddr IP --clients N [--window N] [--duration S] [--json]',
      options: {
        server: flag('IP', 'the server to load'),
        giaddr: flag('IP', 'the relay address the clients come from (must be local)'),
        clients: flag('N', 'how many clients'),
        window: flag('N', 'exchanges in flight (default 64)'),
        duration: flag('S', 'stop after this many seconds'),
      },
      example: 'lab-dhcp4 load --netns relay --server 10.1.0.1 --giaddr 10.1.0.2 --clients 1000 --json',
      run: ({ values }) => load(values),
    },
  },
}

runProgram(program)
