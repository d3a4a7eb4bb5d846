#!/usr/bin/env node
// lab-arp: gratuitous ARP announcements, an announcer that follows link state, RFC 5227 probes.
import { choiceFlag, integerFlag, requiredFlag, runProgram, UsageError, type Options, type Program } from '@lab/cli-kit'
import { ipv4ToNumber } from '@lab/netlink-native'
import pino from 'pino'
import { announce } from './announce.js'
import { announcer } from './announcer.js'
import { probe } from './probe.js'

const FORMS = ['request', 'arping', 'reply'] as const

const link: Options = {
  interface: { type: 'string', value: 'IF', description: 'the link to work on' },
  address: { type: 'string', value: 'IP', description: 'an IPv4 address', multiple: true },
}

const program: Program = {
  name: 'lab-arp',
  summary: 'gratuitous ARP announcements and RFC 5227 address probes',
  globalOptions: { netns: { type: 'string', value: 'NS', description: 'network namespace (a name under /run/netns or a path)' } },
  notes: 'probe exits 0 when the address is free and 1 when another host holds it.',
  commands: {
    announce: {
      summary: 'send gratuitous ARP announcements of addresses',
      usage: '--interface IF --address IP [--address IP]... [--count N] [--interval MS] [--form request|arping|reply]',
      options: {
        ...link,
        count: { type: 'string', value: 'N', description: 'announcements per address (default 1)' },
        interval: { type: 'string', value: 'MS', description: 'between announcements (default 1000)' },
        form: { type: 'string', value: 'FORM', description: 'request (RFC 5227, default), arping (target MAC ff:..), reply' },
      },
      example: 'lab-arp announce --interface eth0 --address 10.0.0.5 --count 3 --interval 1000',
      async run({ values }) {
        const iface = requiredFlag('interface', values.interface as string | undefined)
        const addresses = requiredFlag('address', values.address as string[] | undefined)
        const count = integerFlag('count', values.count as string | undefined, { min: 1, max: 1000 }, 1)
        const interval = integerFlag('interval', values.interval as string | undefined, { min: 0, max: 3_600_000 }, 1000)
        const form = choiceFlag('form', values.form as string | undefined, FORMS, 'request')
        const netns = values.netns as string | undefined
        for (const address of addresses) ipv4ToNumber(address, '--address')
        for (const address of addresses) await announce({ interface: iface, address, netns, count, interval, form })
      },
    },
    probe: {
      summary: 'probe whether another host holds an address (RFC 5227, about 7 s)',
      usage: '--interface IF --address IP [--json]',
      options: link,
      example: 'lab-arp probe --interface eth0 --address 10.0.0.7 && echo free',
      async run({ values, print }) {
        const iface = requiredFlag('interface', values.interface as string | undefined)
        const addresses = requiredFlag('address', values.address as string[] | undefined)
        if (addresses.length !== 1) throw new UsageError('probe takes one --address')
        const address = addresses[0]!
        ipv4ToNumber(address, '--address')
        const result = await probe({ interface: iface, address, netns: values.netns as string | undefined })
        print({ address, ...result }, result.conflict ? `${address} is in use by ${result.holder}` : `${address} is free`)
        return result.conflict ? 1 : 0
      },
    },
    watch: {
      summary: 'announce on every link-up (and 10 s later) until stopped',
      usage: '[--interface IF]...',
      options: { interface: { type: 'string', value: 'IF', description: 'only these links (default: all)', multiple: true } },
      example: 'lab-arp watch --interface eth0',
      async run({ values, signal }) {
        const logger = pino({ name: 'lab-arp' })
        const links = values.interface as string[] | undefined
        await announcer({ netns: values.netns as string | undefined, links })({ signal, healthy: () => logger.info('watching links'), logger })
      },
    },
  },
}

runProgram(program)
