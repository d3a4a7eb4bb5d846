#!/usr/bin/env node
// lab-arp: gratuitous ARP announcements, an announcer that follows link state, RFC 5227 probes.
import { parseArgs } from 'node:util'
import pino from 'pino'
import { announce } from './announce.js'
import { announcer } from './announcer.js'
import type { AnnouncementForm } from './codec.js'
import { probe } from './probe.js'

const HELP = `lab-arp: gratuitous ARP announcements and RFC 5227 address probes

usage:
  lab-arp announce --interface IF --address IP [--address IP]... [--count N] [--interval MS] [--form request|arping|reply] [--netns NS]
  lab-arp watch [--interface IF]... [--netns NS]      announce on every link-up until Ctrl-C
  lab-arp probe --interface IF --address IP [--netns NS] [--json]

examples:
  lab-arp announce --interface eth0 --address 10.0.0.5 --count 3 --interval 1000
  lab-arp probe --interface eth0 --address 10.0.0.7 && echo free

exit status: 0 done (probe: the address is free), 1 probe found it in use or the kernel refused, 2 usage error`

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      interface: { type: 'string', multiple: true },
      address: { type: 'string', multiple: true },
      count: { type: 'string' },
      interval: { type: 'string' },
      form: { type: 'string' },
      netns: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help) {
    console.log(HELP)
    return 0
  }
  const [command] = positionals
  const iface = values.interface?.[0]
  if (command === 'announce') {
    if (!iface || !values.address?.length) throw new UsageError('announce needs --interface and --address')
    const form = (values.form ?? 'request') as AnnouncementForm
    if (!['request', 'arping', 'reply'].includes(form)) throw new UsageError(`unknown form ${form}`)
    for (const address of values.address) {
      await announce(iface, address, { netns: values.netns, count: Number(values.count ?? 1), interval: Number(values.interval ?? 1000), form })
    }
    return 0
  }
  if (command === 'probe') {
    if (!iface || values.address?.length !== 1) throw new UsageError('probe needs --interface and one --address')
    const result = await probe(iface, values.address[0]!, { netns: values.netns })
    console.log(values.json ? JSON.stringify(result) : result.conflict ? `${values.address[0]} is in use by ${result.holder}` : `${values.address[0]} is free`)
    return result.conflict ? 1 : 0
  }
  if (command === 'watch') {
    const controller = new AbortController()
    process.once('SIGINT', () => controller.abort())
    process.once('SIGTERM', () => controller.abort())
    const logger = pino({ name: 'lab-arp' })
    await announcer({ netns: values.netns, links: values.interface })({ signal: controller.signal, healthy: () => logger.info('watching links'), logger })
    return 0
  }
  throw new UsageError(command ? `unknown command ${command}` : 'missing command')
}

class UsageError extends Error {}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const usage = error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
    console.error(`lab-arp: ${(error as Error).message}${usage ? ' (see lab-arp --help)' : ''}`)
    process.exit(usage ? 2 : 1)
  },
)
