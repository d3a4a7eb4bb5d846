#!/usr/bin/env node
// lab-ip: a useful subset of `ip`, over @lab/netlink-native, with --json for machines.
import { parseArgs } from 'node:util'
import { ArgumentError, SystemError } from './errors.js'
import { Netlink } from './netlink.js'
import { Netns } from './netns/netns.js'
import type { Address } from './rtnetlink/addr.js'
import type { Link } from './rtnetlink/link.js'
import type { Route } from './rtnetlink/route.js'
import type { NetlinkEvent } from './rtnetlink/watch.js'

const HELP = `lab-ip: show and change links, addresses, routes, neighbours and rules in any network namespace

usage: lab-ip [-n NETNS] [--json] OBJECT [COMMAND [ARGS]]

  link [show [DEV]]                         list links
  link add NAME type KIND [peer PEER]       create (veth, bridge, macvlan, vxlan, tap, ...)
  link set DEV [up|down] [mtu N] [master BR|nomaster] [address MAC] [name NEW] [netns NS]
  link del DEV
  addr [show [dev DEV]]                     list addresses
  addr add|del CIDR dev DEV
  route [show] [table T]                    list routes (table main by default, "all" for every table)
  route add|replace|del DST [via GW] [dev DEV] [metric N] [table T] [src ADDR]
  neigh [show [dev DEV]]
  rule [show]
  monitor [link] [addr] [route] [neigh]    print events until Ctrl-C
  netns [list] | netns add NAME | netns del NAME

options:
  -n, --netns NETNS   act inside the named network namespace (/run/netns/NETNS)
  -j, --json          machine-readable output (JSON; one object per line for monitor)
  -h, --help          this text

examples:
  lab-ip -n sw1 link add v0 type veth peer v1
  lab-ip -n sw1 addr add 10.0.0.1/24 dev v0 && lab-ip -n sw1 link set v0 up
  lab-ip -n sw1 --json route

exit status: 0 success, 1 the kernel refused (the message names errno and operation), 2 usage error`

class UsageError extends Error {}

function take(args: string[], keyword: string): string | undefined {
  const i = args.indexOf(keyword)
  if (i < 0) return undefined
  const value = args[i + 1]
  if (value === undefined) throw new UsageError(`${keyword} needs a value`)
  args.splice(i, 2)
  return value
}

function flag(args: string[], keyword: string): boolean {
  const i = args.indexOf(keyword)
  if (i < 0) return false
  args.splice(i, 1)
  return true
}

function linkLine(l: Link, names: Map<number, string>): string {
  const flags = [l.up && 'UP', l.lowerUp && 'LOWER_UP'].filter(Boolean).join(',')
  const master = l.master ? ` master ${names.get(l.master) ?? l.master}` : ''
  return `${l.index}: ${l.name}${l.kind ? ` (${l.kind})` : ''} <${flags}> mtu ${l.mtu ?? '?'} state ${l.operstate} ${l.address ?? ''}${master}`
}

function addrLine(a: Address, names: Map<number, string>): string {
  return `${names.get(a.index) ?? a.index} ${a.family === 4 ? 'inet' : 'inet6'} ${a.cidr}${a.broadcast ? ` brd ${a.broadcast}` : ''} scope ${a.scope}${a.permanent ? '' : ' dynamic'}`
}

function routeLine(r: Route, names: Map<number, string>): string {
  const parts = [r.dst]
  if (r.gateway) parts.push(`via ${r.gateway}`)
  if (r.index !== undefined) parts.push(`dev ${names.get(r.index) ?? r.index}`)
  if (r.table !== 254) parts.push(`table ${r.table}`)
  if (r.prefsrc) parts.push(`src ${r.prefsrc}`)
  if (r.metric !== undefined) parts.push(`metric ${r.metric}`)
  for (const h of r.multipath ?? []) parts.push(`nexthop via ${h.gateway} dev ${names.get(h.index ?? 0) ?? h.index} weight ${h.weight}`)
  return parts.join(' ')
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { netns: { type: 'string', short: 'n' }, json: { type: 'boolean', short: 'j' }, help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
  })
  if (values.help || positionals.length === 0) {
    console.log(HELP)
    return values.help ? 0 : 2
  }
  const json = values.json === true
  const print = (value: unknown, text: () => string) => console.log(json ? JSON.stringify(value) : text())
  const [object, command = 'show', ...rest] = positionals
  const args = [...rest]

  if (object === 'netns') {
    if (command === 'show' || command === 'list') {
      const list = await Netns.list()
      print(list, () => list.join('\n'))
    } else if (command === 'add') await Netns.add(need(args[0], 'NAME'))
    else if (command === 'del' || command === 'delete') await Netns.del(need(args[0], 'NAME'))
    else throw new UsageError(`unknown netns command ${command}`)
    return 0
  }

  const nl = await Netlink.open({ netns: values.netns })
  try {
    const names = async () => new Map((await nl.link.list()).map((l) => [l.index, l.name]))
    switch (object) {
      case 'link':
      case 'l':
        if (command === 'show' || command === 'list') {
          const links = args[0] ? [await nl.link.get(args[0])] : await nl.link.list()
          const n = await names()
          print(links, () => links.map((l) => linkLine(l, n)).join('\n'))
        } else if (command === 'add') {
          const name = need(args.shift(), 'NAME')
          const kind = need(take(args, 'type'), 'type KIND')
          const peer = take(args, 'peer')
          await nl.link.add({ name, kind, ...(peer ? { peer: { name: peer } } : {}) })
        } else if (command === 'set') {
          const dev = need(args.shift(), 'DEV')
          const mtu = take(args, 'mtu')
          const master = take(args, 'master')
          const address = take(args, 'address')
          const name = take(args, 'name')
          const netns = take(args, 'netns')
          await nl.link.set(dev, {
            ...(flag(args, 'up') ? { up: true } : {}),
            ...(flag(args, 'down') ? { up: false } : {}),
            ...(mtu ? { mtu: Number(mtu) } : {}),
            ...(master ? { master } : {}),
            ...(flag(args, 'nomaster') ? { master: null } : {}),
            ...(address ? { address } : {}),
            ...(name ? { name } : {}),
            ...(netns ? { netns } : {}),
          })
        } else if (command === 'del' || command === 'delete') await nl.link.del(need(args[0], 'DEV'))
        else throw new UsageError(`unknown link command ${command}`)
        break
      case 'addr':
      case 'address':
      case 'a':
        if (command === 'show' || command === 'list') {
          const dev = take(args, 'dev')
          const addrs = await nl.addr.list(dev ? { link: dev } : {})
          const n = await names()
          print(addrs, () => addrs.map((a) => addrLine(a, n)).join('\n'))
        } else if (command === 'add' || command === 'del' || command === 'replace') {
          const cidr = need(args.shift(), 'CIDR')
          const dev = need(take(args, 'dev'), 'dev DEV')
          await nl.addr[command === 'del' ? 'del' : command](dev, cidr)
        } else throw new UsageError(`unknown addr command ${command}`)
        break
      case 'route':
      case 'r': {
        if (command === 'show' || command === 'list') {
          const table = take(args, 'table')
          const routes = await nl.route.list({ table: table === undefined ? 'main' : table === 'all' ? 'all' : /^\d+$/.test(table) ? Number(table) : (table as 'main') })
          const n = await names()
          print(routes, () => routes.map((r) => routeLine(r, n)).join('\n'))
        } else if (command === 'add' || command === 'del' || command === 'replace') {
          const dst = need(args.shift(), 'DST')
          const via = take(args, 'via')
          const dev = take(args, 'dev')
          const metric = take(args, 'metric')
          const table = take(args, 'table')
          const src = take(args, 'src')
          await nl.route[command]({
            dst,
            ...(via ? { gateway: via } : {}),
            ...(dev ? { interface: dev } : {}),
            ...(metric ? { metric: Number(metric) } : {}),
            ...(table ? { table: /^\d+$/.test(table) ? Number(table) : (table as 'main') } : {}),
            ...(src ? { src } : {}),
          })
        } else throw new UsageError(`unknown route command ${command}`)
        break
      }
      case 'neigh':
      case 'n': {
        const dev = take(args, 'dev')
        const list = await nl.neigh.list(dev ? { link: dev } : {})
        const n = await names()
        print(list, () => list.map((e) => `${e.address ?? ''} dev ${n.get(e.index) ?? e.index} lladdr ${e.lladdr ?? '-'} ${e.state.join(',')}`).join('\n'))
        break
      }
      case 'rule': {
        const rules = await nl.rule.list()
        print(rules, () => rules.map((r) => `${r.priority ?? 0}:\tfrom ${r.src ?? 'all'}${r.dst ? ` to ${r.dst}` : ''}${r.fwmark !== undefined ? ` fwmark ${r.fwmark}` : ''} lookup ${r.table}`).join('\n'))
        break
      }
      case 'monitor': {
        const kinds = (positionals.slice(1).length ? positionals.slice(1) : ['link', 'addr', 'route', 'neigh']) as Array<'link' | 'addr' | 'route' | 'neigh'>
        const controller = new AbortController()
        process.once('SIGINT', () => controller.abort())
        process.once('SIGTERM', () => controller.abort())
        for await (const e of nl.watch(kinds, { signal: controller.signal })) print(e, () => eventLine(e))
        break
      }
      default:
        throw new UsageError(`unknown object ${object}`)
    }
  } finally {
    nl.close()
  }
  return 0
}

function eventLine(e: NetlinkEvent): string {
  switch (e.kind) {
    case 'overrun':
      return 'overrun: events were lost; current state follows'
    case 'link':
      return `${e.action} link ${e.link.name} ${e.link.up ? 'UP' : 'DOWN'} ${e.link.operstate}`
    case 'addr':
      return `${e.action} addr ${e.addr.cidr} index ${e.addr.index}`
    case 'route':
      return `${e.action} route ${e.route.dst}${e.route.gateway ? ` via ${e.route.gateway}` : ''}`
    case 'neigh':
      return `${e.action} neigh ${e.neigh.address ?? ''} ${e.neigh.lladdr ?? ''} ${e.neigh.state.join(',')}`
    case 'rule':
      return `${e.action} rule ${e.rule.priority ?? ''}`
  }
}

function need(value: string | undefined, what: string): string {
  if (value === undefined) throw new UsageError(`missing ${what}`)
  return value
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError || error instanceof ArgumentError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`lab-ip: ${(error as Error).message} (see lab-ip --help)`)
      process.exit(2)
    }
    console.error(`lab-ip: ${error instanceof SystemError ? error.message : String(error)}`)
    process.exit(1)
  },
)
