#!/usr/bin/env node
// lab-dhcp6: run the DHCPv6 server (the client helper adds `client` to the command table).
import { integerFlag, parseListenAddress, requiredFlag, runProgram, serveMetrics, UsageError, type Program, type Values, serveUntilStopped, untilAborted } from '@lab/cli-kit'
import { listenTcp } from '@lab/netlink-native'
import pino from 'pino'
import { Registry, collectDefaultMetrics } from 'prom-client'
import { Dhcp6Error } from './errors.js'
import type { Lease6 } from './server/lease.js'
import { DhcpV6Server } from './server/server.js'
import { readBindingFile } from './server/journal.js'
import { clientCommand } from './client/command.js'
import type { Dhcp6SubnetConfig } from './server/subnet.js'

const flag = (value: string, description: string, multiple = false) => ({ type: 'string' as const, value, description, ...(multiple ? { multiple } : {}) })

async function server(values: Values, signal: AbortSignal): Promise<number> {
  const iface = requiredFlag('interface', values.interface as string | undefined)
  const prefix = requiredFlag('prefix', values.prefix as string | undefined)
  const subnet: Dhcp6SubnetConfig = { prefix }
  if (values.range !== undefined) {
    const [first, last, extra] = String(values.range).split('-')
    if (!first || !last || extra !== undefined) throw new UsageError('--range: FIRST-LAST, e.g. fd00:1::1000-fd00:1::1fff')
    subnet.range = [first, last]
  }
  if (values['pd-pool'] !== undefined) {
    subnet.pdPool = { prefix: values['pd-pool'] as string, length: integerFlag('pd-length', requiredFlag('pd-length', values['pd-length'] as string | undefined), { min: 1, max: 128 }) as number }
  } else if (values['pd-length'] !== undefined) {
    throw new UsageError('--pd-length needs --pd-pool')
  }
  if (!subnet.range && !subnet.pdPool) throw new UsageError('server needs --range, --pd-pool, or both')
  if (values.dns) subnet.dns = values.dns as string[]
  if (values.domain) subnet.domains = values.domain as string[]
  if (values['preferred-lifetime'] !== undefined) subnet.preferredLifetime = integerFlag('preferred-lifetime', values['preferred-lifetime'] as string, { min: 1, max: 0xfffffffe })
  if (values['valid-lifetime'] !== undefined) subnet.validLifetime = integerFlag('valid-lifetime', values['valid-lifetime'] as string, { min: 1, max: 0xfffffffe })
  if (values.durability !== undefined && values.durability !== 'commit' && values.durability !== 'none') throw new UsageError(`--durability ${values.durability as string}: expected commit or none`)
  const metricsAt = values.metrics !== undefined ? parseListenAddress('metrics', values.metrics as string) : undefined
  const logger = pino({ name: 'lab-dhcp6', level: process.env.LOG_LEVEL ?? 'info' })
  const stopAsked = untilAborted(signal)
  const dhcp = await DhcpV6Server.start({
    interface: iface,
    subnets: [subnet],
    ...(values['lease-file'] ? { leaseFile: values['lease-file'] as string } : {}),
    ...(values.durability !== undefined ? { durability: values.durability } : {}),
    ...(values.netns ? { netns: values.netns as string } : {}),
    ...(values.preference !== undefined ? { preference: integerFlag('preference', values.preference as string, { min: 0, max: 255 }) } : {}),
    logger,
  })
  let metrics
  if (metricsAt) {
    try {
      // The server's registry beside the process's default metrics, served inside --netns.
      const processMetrics = new Registry()
      collectDefaultMetrics({ register: processMetrics })
      const netns = values.netns as string | undefined
      metrics = await serveMetrics(Registry.merge([dhcp.metrics(), processMetrics]), (onConnection) => listenTcp({ ...(netns ? { netns } : {}), host: metricsAt.host, port: metricsAt.port }, onConnection), logger)
      logger.info({ metrics: `http://${metricsAt.host.includes(':') ? `[${metricsAt.host}]` : metricsAt.host}:${metricsAt.port}/metrics` }, 'metrics served')
    } catch (error) {
      await dhcp.stop()
      throw new Dhcp6Error('LAB_ERR_DHCP6_METRICS', `--metrics ${values.metrics as string}: ${(error as Error).message}`, { cause: error })
    }
  }
  try {
    return await serveUntilStopped(dhcp, stopAsked, logger)
  } finally {
    await metrics?.close()
  }
}

async function leases(values: Values): Promise<number> {
  const { leases: list } = readBindingFile<Lease6>(requiredFlag('lease-file', values['lease-file'] as string | undefined))
  const now = Date.now()
  const current = list.filter((l) => l.state === 'bound' && l.expiresAt > now)
  if (values.json) console.log(JSON.stringify(current))
  else for (const l of current) console.log(`${l.address}\t${l.kind}\tiaid ${l.iaid}\tduid ${l.duid}\texpires ${new Date(l.expiresAt).toISOString()}`)
  return 0
}

const program: Program = {
  name: 'lab-dhcp6',
  summary: 'a DHCPv6 server (addresses, delegated prefixes, relays) whose leases survive kill -9',
  globalOptions: { netns: flag('NS', 'network namespace (a name under /run/netns or a path)') },
  notes: 'server: SIGUSR1 logs the counters as one JSON line; SIGINT/SIGTERM stop it after the pending bindings are on disk.',
  commands: {
    server: {
      summary: 'serve DHCPv6 on an interface (UDP 547, ff02::1:2)',
      usage: '--interface IF --prefix CIDR [--range FIRST-LAST] [--pd-pool CIDR --pd-length N] [--dns ADDR]... [--domain NAME]... [--lease-file PATH] [--durability commit|none] [--metrics ADDR:PORT]',
      options: {
        interface: flag('IF', 'the interface to serve'),
        prefix: flag('CIDR', 'the on-link prefix, e.g. fd00:1::/64'),
        range: flag('FIRST-LAST', 'the addresses to lease (IA_NA)'),
        'pd-pool': flag('CIDR', 'the pool prefixes are delegated from (IA_PD)'),
        'pd-length': flag('N', 'the length of each delegated prefix'),
        dns: flag('ADDR', 'a DNS server (option 23)', true),
        domain: flag('NAME', 'a search domain (option 24)', true),
        'preferred-lifetime': flag('S', 'seconds (default 3600)'),
        'valid-lifetime': flag('S', 'seconds (default 7200)'),
        preference: flag('N', 'preference 0..255 in Advertise (255: clients take it at once)'),
        'lease-file': flag('PATH', 'the lease journal; its directory is created'),
        durability: flag('MODE', 'commit (default): a Reply that binds leaves once its bindings are on disk; none: once written to the file, not synced (lost if the machine crashes, not if the process does)'),
        metrics: flag('ADDR:PORT', 'serve Prometheus metrics at http://ADDR:PORT/metrics (inside --netns)'),
      },
      example: 'lab-dhcp6 server --netns sw1 --interface br0 --prefix fd00:1::/64 --range fd00:1::1000-fd00:1::1fff --pd-pool fd00:100::/48 --pd-length 56 --dns fd00:1::1 --lease-file /tmp/leases6',
      run: ({ values, signal }) => server(values, signal),
    },
    client: clientCommand,
    leases: {
      summary: "print the current bindings of a server's lease file",
      usage: '--lease-file PATH [--json]',
      options: { 'lease-file': flag('PATH', 'the lease journal') },
      example: 'lab-dhcp6 leases --lease-file /tmp/leases6 --json',
      run: ({ values }) => leases(values),
    },
  },
}

runProgram(program)
