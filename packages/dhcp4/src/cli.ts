#!/usr/bin/env node
// lab-dhcp4: run the DHCP server, or print the leases of a lease file.
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import pino from 'pino'
import { ConfigError, parseConfig } from './config.js'
import { LeaseJournal } from './server/journal.js'
import { DhcpServer } from './server/server.js'
import type { SubnetConfig } from './server/subnet.js'

const HELP = `lab-dhcp4: a DHCPv4 server whose leases survive kill -9

usage:
  lab-dhcp4 server --config FILE [--netns NS]
  lab-dhcp4 server --interface br0 --subnet 10.1.0.0/24 --range 10.1.0.2-10.1.0.254 [--router IP] [--dns IP]... [--lease-time S] [--lease-file PATH] [--netns NS]
  lab-dhcp4 leases --lease-file PATH [--json]

example:
  lab-dhcp4 server --netns sw1 --interface br0 --subnet 10.1.0.0/24 --range 10.1.0.2-10.1.0.254 --router 10.1.0.1 --lease-file /tmp/leases

exit status: 0 stopped cleanly, 1 could not serve (the message says why), 2 usage or configuration error`

class UsageError extends Error {}

async function server(values: Record<string, string | string[] | boolean | undefined>): Promise<number> {
  let interfaces: string[]
  let subnets: SubnetConfig[]
  let leaseFile = values['lease-file'] as string | undefined
  if (values.config) {
    const config = parseConfig(readFileSync(values.config as string, 'utf8'))
    interfaces = config.interfaces
    subnets = config.subnets
    leaseFile ??= config.leaseFile
  } else {
    const [first, last] = String(values.range ?? '').split('-')
    if (!values.interface || !values.subnet || !first || !last) throw new UsageError('server needs --config, or --interface, --subnet and --range FIRST-LAST')
    interfaces = [values.interface as string]
    subnets = [
      {
        subnet: values.subnet as string,
        range: [first, last],
        ...(values.router ? { router: values.router as string } : {}),
        ...(values.dns ? { dns: values.dns as string[] } : {}),
        ...(values['lease-time'] ? { leaseTime: Number(values['lease-time']) } : {}),
      },
    ]
  }
  if (interfaces.length !== 1 || subnets.length !== 1) throw new ConfigError('subnets', 'this version serves one interface with one subnet')
  const logger = pino({ name: 'lab-dhcp4' })
  const dhcp = await DhcpServer.open({ netns: values.netns as string | undefined, interface: interfaces[0]!, subnet: subnets[0]!, ...(leaseFile ? { leaseFile } : {}), logger })
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve)
    process.once('SIGTERM', resolve)
  })
  logger.info({ stats: dhcp.stats }, 'stopping')
  dhcp.close()
  return 0
}

function leases(values: Record<string, string | string[] | boolean | undefined>): number {
  if (!values['lease-file']) throw new UsageError('leases needs --lease-file')
  const { journal, leases: list } = LeaseJournal.open(values['lease-file'] as string)
  journal.close()
  const now = Date.now()
  const current = list.filter((l) => l.state === 'bound' && l.expiresAt > now)
  if (values.json) console.log(JSON.stringify(current))
  else for (const l of current) console.log(`${l.address}\t${l.mac}\t${l.hostname ?? '-'}\texpires ${new Date(l.expiresAt).toISOString()}`)
  return 0
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
      help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help) {
    console.log(HELP)
    return 0
  }
  if (positionals[0] === 'server') return server(values)
  if (positionals[0] === 'leases') return leases(values)
  throw new UsageError(positionals[0] ? `unknown command ${positionals[0]}` : 'missing command')
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const usage = error instanceof UsageError || error instanceof ConfigError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') || (error as Error).name === 'ArgumentError'
    console.error(`lab-dhcp4: ${(error as Error).message}${error instanceof UsageError ? ' (see lab-dhcp4 --help)' : ''}`)
    process.exit(usage ? 2 : 1)
  },
)
