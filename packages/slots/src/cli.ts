#!/usr/bin/env node
// lab-slots: add, remove and list sandbox network slots.
import { integerFlag, runProgram, UsageError, type Options, type Program, type Values } from '@lab/cli-kit'
import pino from 'pino'
import { Slots, type Slot } from './slots.js'

const hostOptions: Options = {
  'host-netns': { type: 'string', value: 'NS', description: 'namespace that plays the host (name or path); without it, this machine\'s own namespace gets the veths, routes, nftables table and ip_forward' },
  uplink: { type: 'string', value: 'IF', description: 'host interface towards the world (default: the IPv4 default route\'s)' },
  'netns-prefix': { type: 'string', value: 'P', description: 'slot namespaces are named P<index> (default lab-slot-)' },
  'veth-prefix': { type: 'string', value: 'P', description: 'host-side veths are named P<index> (default veth-)' },
  'host-base': { type: 'string', value: 'IP', description: 'host-reachable addresses start here (default 10.11.0.0)' },
  'veth-base': { type: 'string', value: 'IP', description: 'veth /31s start here (default 10.12.0.0)' },
  ipv6: { type: 'boolean', description: 'new slots get IPv6 too (ULA: host-reachable fd0a:b3ec:11::<i>, veth /127s from fd0a:b3ec:12::, guest fd0a:b3ec:fc::2), with NAT66 like the IPv4 NAT' },
  'host-base6': { type: 'string', value: 'IP6', description: 'IPv6 host-reachable addresses start here (default fd0a:b3ec:11::)' },
  'veth-base6': { type: 'string', value: 'IP6', description: 'IPv6 veth /127s start here (default fd0a:b3ec:12::)' },
}

async function open(values: Values): Promise<Slots> {
  const level = process.env.LOG_LEVEL ?? 'warn'
  return Slots.open({
    uplink: values.uplink as string | undefined,
    hostNetns: values['host-netns'] as string | undefined,
    netnsPrefix: values['netns-prefix'] as string | undefined,
    vethPrefix: values['veth-prefix'] as string | undefined,
    hostBase: values['host-base'] as string | undefined,
    vethBase: values['veth-base'] as string | undefined,
    ipv6: values.ipv6 === true,
    hostBase6: values['host-base6'] as string | undefined,
    vethBase6: values['veth-base6'] as string | undefined,
    // Logs go to stderr: stdout carries the command's output (JSON with --json).
    logger: pino({ name: 'lab-slots', level }, pino.destination(2)),
  })
}

function indexes(positionals: string[]): number[] {
  if (positionals.length === 0) throw new UsageError('give one or more slot indexes')
  return positionals.map((p) => integerFlag('index', p, { min: 1 })!)
}

const describeSlot = (s: Slot) =>
  `slot ${s.index}: netns ${s.netns}, guest ${s.guestIP}${s.ipv6 ? ` and ${s.ipv6.guestIP}` : ''} (${s.guestMAC}) on ${s.tapName}, reachable from the host at ${s.hostReachableIP}${s.ipv6 ? ` and ${s.ipv6.hostReachableIP}` : ''}`

const program: Program = {
  name: 'lab-slots',
  summary: 'per-sandbox network slots (namespace + veth + TAP + NAT)',
  globalOptions: hostOptions,
  notes: 'Without --host-netns the slots hang off this machine\'s own network namespace.',
  commands: {
    add: {
      summary: 'add a slot (the lowest free index) and print it',
      usage: '[--host-netns NS] [--uplink IF] [--ipv6] [--json]',
      example: 'lab-slots add --host-netns lab-host --uplink uplink0 --json',
      async run({ values, print }) {
        await using slots = await open(values)
        const slot = await slots.add()
        print(slot, describeSlot(slot))
      },
    },
    list: {
      summary: 'list the slots that exist',
      usage: '[--host-netns NS] [--json]',
      example: 'lab-slots list --host-netns lab-host --uplink uplink0',
      async run({ values, print }) {
        await using slots = await open(values)
        const list = slots.list()
        print(list, list.map((s) => `${s.index}\t${s.netns}\t${s.vethName}\t${s.hostReachableIP} -> ${s.guestIP}${s.ipv6 ? `\t${s.ipv6.hostReachableIP} -> ${s.ipv6.guestIP}` : ''}`).join('\n'))
      },
    },
    pool: {
      summary: 'show the slots and which of them wait idle in a warm pool (Slots.open({ pool }))',
      usage: '[--host-netns NS] [--json]',
      example: 'lab-slots pool --host-netns lab-host --uplink uplink0 --json',
      async run({ values, print }) {
        await using slots = await open(values)
        const status = slots.status()
        const idle = new Set(status.idle)
        const inUse = slots.list().filter((s) => !idle.has(s.index)).map((s) => s.index)
        print(
          { ...status, inUse },
          `${status.slots} slots (of ${status.maxSlots}): ${idle.size} idle in a pool${idle.size ? ` (${status.idle.join(' ')})` : ''}, ${inUse.length} in use${inUse.length ? ` (${inUse.join(' ')})` : ''}`,
        )
      },
    },
    del: {
      summary: 'remove slots; fails (exit 1) for one that does not exist',
      usage: 'INDEX... [--host-netns NS]',
      positionals: true,
      example: 'lab-slots del 1 --host-netns lab-host --uplink uplink0',
      async run({ values, positionals }) {
        const wanted = indexes(positionals)
        await using slots = await open(values)
        for (const i of wanted) await slots.del(i)
      },
    },
    destroy: {
      summary: 'remove slots, or all with --all; ones already gone are fine',
      usage: 'INDEX... | --all [--host-netns NS]',
      positionals: true,
      options: { all: { type: 'boolean', description: 'every slot' } },
      example: 'lab-slots destroy --all --host-netns lab-host --uplink uplink0',
      async run({ values, positionals }) {
        if (values.all && positionals.length > 0) throw new UsageError('give slot indexes or --all, not both')
        const wanted = values.all ? undefined : indexes(positionals)
        await using slots = await open(values)
        if (wanted === undefined) await slots.flush()
        else for (const i of wanted) await slots.destroy(i)
      },
    },
  },
}

runProgram(program)
