#!/usr/bin/env node
// lab-slots: create, destroy and list sandbox network slots.
import { parseArgs } from 'node:util'
import { ArgumentError, SystemError } from '@lab/netlink-native'
import { Slots } from './slots.js'

const HELP = `lab-slots: per-sandbox network slots (namespace + veth + TAP + NAT)

usage: lab-slots [options] create | destroy INDEX... | destroy --all | list

options:
  --uplink IF         host interface towards the world (default: the IPv4 default route's)
  --host-netns NS     namespace that plays the host (default: this process's own)
  --netns-prefix P    slot namespaces are named P<index> (default ns-)
  --veth-prefix P     host-side veths are named P<index> (default veth-)
  --host-base IP      host-reachable addresses start here (default 10.11.0.0)
  --veth-base IP      veth /31s start here (default 10.12.0.0)
  --json              machine-readable output
  -h, --help          this text

examples:
  lab-slots create --json
  lab-slots list
  lab-slots destroy 3

exit status: 0 success, 1 the kernel refused or no slot was free, 2 usage error`

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      uplink: { type: 'string' },
      'host-netns': { type: 'string' },
      'netns-prefix': { type: 'string' },
      'veth-prefix': { type: 'string' },
      'host-base': { type: 'string' },
      'veth-base': { type: 'string' },
      all: { type: 'boolean' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help) {
    console.log(HELP)
    return 0
  }
  const [command, ...rest] = positionals
  if (!command || !['create', 'destroy', 'list'].includes(command)) {
    console.error(`lab-slots: ${command ? `unknown command ${command}` : 'missing command'} (see lab-slots --help)`)
    return 2
  }
  const slots = await Slots.open({
    uplink: values.uplink,
    hostNetns: values['host-netns'],
    netnsPrefix: values['netns-prefix'],
    vethPrefix: values['veth-prefix'],
    hostBase: values['host-base'],
    vethBase: values['veth-base'],
  })
  try {
    if (command === 'create') {
      const slot = await slots.create()
      console.log(values.json ? JSON.stringify(slot) : `slot ${slot.index}: netns ${slot.netns}, guest ${slot.guestIP} (${slot.guestMAC}) on ${slot.tapName}, reachable from the host at ${slot.hostReachableIP}`)
    } else if (command === 'destroy') {
      const indexes = values.all ? slots.list().map((s) => s.index) : rest.map(Number)
      if (indexes.length === 0 || indexes.some((i) => !Number.isInteger(i) || i < 1)) {
        console.error('lab-slots: destroy needs slot indexes or --all')
        return 2
      }
      for (const i of indexes) await slots.destroy(i)
    } else {
      const list = slots.list()
      console.log(values.json ? JSON.stringify(list) : list.map((s) => `${s.index}\t${s.netns}\t${s.vethName}\t${s.hostReachableIP} -> ${s.guestIP}`).join('\n'))
    }
  } finally {
    slots.close()
  }
  return 0
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof ArgumentError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`lab-slots: ${(error as Error).message} (see lab-slots --help)`)
      process.exit(2)
    }
    console.error(`lab-slots: ${error instanceof SystemError ? error.message : (error as Error).message ?? String(error)}`)
    process.exit(1)
  },
)
