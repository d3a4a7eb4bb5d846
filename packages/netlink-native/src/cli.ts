#!/usr/bin/env node
// lab-ip: a useful subset of `ip`, over @lab/netlink-native, built on @lab/cli-kit: one command per
// object (link, addr, route, neigh, rule, netns, monitor), each with its verbs, usage and example.
// --json prints routes, rules and neighbours with `ip -j`'s field names and values.
import { UsageError, runProgram, suggest, type Command, type Program, type RunContext } from '@lab/cli-kit'
import { ArgumentError } from './errors.js'
import { Netlink } from './netlink.js'
import { Netns } from './netns/netns.js'
import type { Address } from './rtnetlink/addr.js'
import * as C from './rtnetlink/constants.js'
import type { Family } from './rtnetlink/inet.js'
import type { Link, LinkAddOptions } from './rtnetlink/link.js'
import type { Neighbour } from './rtnetlink/neigh.js'
import type { Route, RouteOptions } from './rtnetlink/route.js'
import type { Rule } from './rtnetlink/rule.js'
import type { NetlinkEvent, WatchKind } from './rtnetlink/watch.js'

type Names = Map<number, string>

/** Takes `keyword VALUE` out of the arguments, as `ip` reads them in any order. */
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

function need(value: string | undefined, what: string): string {
  if (value === undefined) throw new UsageError(`missing ${what}`)
  return value
}

/** Whatever is left after the known keywords is a mistake worth one line. */
function done(args: string[]): void {
  if (args.length > 0) throw new UsageError(`unexpected argument "${args[0]}"`)
}

function integer(value: string, what: string): number {
  if (!/^\d+$/.test(value)) throw new UsageError(`${what}: expected a whole number, got "${value}"`)
  return Number(value)
}

function tableOf(value: string): RouteOptions['table'] {
  return /^\d+$/.test(value) ? Number(value) : (value as RouteOptions['table'])
}

/** -4 / -6 as with ip; `fallback` when neither is given. */
function familyOf(ctx: RunContext, fallback: Family | undefined): Family | undefined {
  if (ctx.values.ipv4 && ctx.values.ipv6) throw new UsageError('-4 and -6 exclude each other')
  return ctx.values.ipv4 ? 4 : ctx.values.ipv6 ? 6 : fallback
}

/** Runs `fn` with a handle on --netns, closed afterwards; the library's ArgumentErrors are usage errors. */
async function withHandle<T>(ctx: RunContext, fn: (nl: Netlink) => Promise<T>): Promise<T> {
  const netns = ctx.values.netns as string | undefined
  try {
    await using nl = await Netlink.open(netns === undefined ? {} : { netns })
    return await fn(nl)
  } catch (error) {
    if (error instanceof ArgumentError) throw new UsageError(error.message)
    throw error
  }
}

async function names(nl: Netlink): Promise<Names> {
  return new Map((await nl.link.list()).map((l) => [l.index, l.name]))
}

/** `ip`'s name for a number from one of its tables (rt_tables, rt_protos, rt_scopes), else the number. */
function nameOf(table: Record<string, number>, value: number, skip: string[] = []): string {
  return Object.entries(table).find(([name, v]) => v === value && !skip.includes(name))?.[0] ?? String(value)
}

const tableName = (table: number) => nameOf(C.TABLES, table)

/** A verb dispatcher: the first positional picks the verb (default `show`), as `ip OBJECT VERB`. */
function verbs(object: string, table: Record<string, (ctx: RunContext, args: string[]) => Promise<void>>, aliases: Record<string, string> = {}) {
  return async (ctx: RunContext): Promise<void> => {
    const [typed = 'show', ...args] = ctx.positionals
    const verb = aliases[typed] ?? typed
    const run = table[verb]
    if (!run) throw new UsageError(`unknown ${object} command "${typed}"${suggest(typed, Object.keys(table))}`)
    await run(ctx, args)
  }
}

// ---- link

/** `ip link add`'s creation options: index, numtxqueues, numrxqueues, mtu, address. */
function creationOptions(args: string[]): { index?: number; txQueues?: number; rxQueues?: number; mtu?: number; address?: string } {
  const index = take(args, 'index')
  const tx = take(args, 'numtxqueues')
  const rx = take(args, 'numrxqueues')
  const mtu = take(args, 'mtu')
  const address = take(args, 'address')
  return {
    ...(index ? { index: integer(index, 'index') } : {}),
    ...(tx ? { txQueues: integer(tx, 'numtxqueues') } : {}),
    ...(rx ? { rxQueues: integer(rx, 'numrxqueues') } : {}),
    ...(mtu ? { mtu: integer(mtu, 'mtu') } : {}),
    ...(address ? { address } : {}),
  }
}

function linkLine(l: Link, n: Names): string {
  const flags = [l.up && 'UP', l.lowerUp && 'LOWER_UP'].filter(Boolean).join(',')
  const master = l.master ? ` master ${n.get(l.master) ?? l.master}` : ''
  return `${l.index}: ${l.name}${l.kind ? ` (${l.kind})` : ''} <${flags}> mtu ${l.mtu ?? '?'} state ${l.operstate} ${l.address ?? ''}${master}`
}

const link: Command = {
  summary: 'list, add, change and delete links',
  usage: `[show [DEV]] | add NAME [index N] [numtxqueues N] [numrxqueues N] [mtu N] [address MAC] type KIND [peer PEER [index N] [numtxqueues N] ...] | set DEV [up|down] [mtu N] [master BR|nomaster] [address MAC] [name NEW] [netns NS] | del DEV`,
  positionals: true,
  example: 'lab-ip -n sw1 link add v0 type veth peer v1',
  run: verbs('link', {
    show: (ctx, args) =>
      withHandle(ctx, async (nl) => {
        const dev = args.shift()
        done(args)
        const links = dev ? [await nl.link.get(dev)] : await nl.link.list()
        const n = await names(nl)
        ctx.print(links, () => links.map((l) => linkLine(l, n)).join('\n'))
      }),
    add: (ctx, args) =>
      withHandle(ctx, async (nl) => {
        // As ip: what follows `peer` is the other end's (its name, then its own options).
        const at = args.indexOf('peer')
        const peerArgs = at < 0 ? undefined : args.splice(at).slice(1)
        if (args[0] === 'name') args.shift()
        const name = need(args.shift(), 'NAME')
        const kind = need(take(args, 'type'), 'type KIND')
        const own = creationOptions(args)
        done(args)
        let peer: LinkAddOptions['peer']
        if (peerArgs) {
          if (peerArgs[0] === 'name') peerArgs.shift()
          const peerName = need(peerArgs.shift(), 'PEER')
          peer = { name: peerName, ...creationOptions(peerArgs) }
          done(peerArgs)
        }
        await nl.link.add({ name, kind, ...own, ...(peer ? { peer } : {}) })
      }),
    set: (ctx, args) =>
      withHandle(ctx, async (nl) => {
        const dev = need(args.shift(), 'DEV')
        const mtu = take(args, 'mtu')
        const master = take(args, 'master')
        const address = take(args, 'address')
        const name = take(args, 'name')
        const netns = take(args, 'netns')
        const up = flag(args, 'up')
        const down = flag(args, 'down')
        const nomaster = flag(args, 'nomaster')
        done(args)
        await nl.link.set(dev, {
          ...(up ? { up: true } : {}),
          ...(down ? { up: false } : {}),
          ...(mtu ? { mtu: integer(mtu, 'mtu') } : {}),
          ...(master ? { master } : {}),
          ...(nomaster ? { master: null } : {}),
          ...(address ? { address } : {}),
          ...(name ? { name } : {}),
          ...(netns ? { netns } : {}),
        })
      }),
    del: (ctx, args) =>
      withHandle(ctx, async (nl) => {
        const dev = need(args.shift(), 'DEV')
        done(args)
        await nl.link.del(dev)
      }),
  }, { list: 'show', delete: 'del' }),
}

// ---- addr

function addrLine(a: Address, n: Names): string {
  return `${n.get(a.index) ?? a.index} ${a.family === 4 ? 'inet' : 'inet6'} ${a.cidr}${a.broadcast ? ` brd ${a.broadcast}` : ''} scope ${nameOf(C.SCOPES, a.scope, ['universe'])}${a.permanent ? '' : ' dynamic'}`
}

const addrChange = (verb: 'add' | 'replace' | 'del') => (ctx: RunContext, args: string[]) =>
  withHandle(ctx, async (nl) => {
    const cidr = need(args.shift(), 'CIDR')
    const dev = need(take(args, 'dev'), 'dev DEV')
    done(args)
    await nl.addr[verb](dev, cidr)
  })

const addr: Command = {
  summary: 'list, add and delete addresses',
  usage: '[show [dev DEV]] | add|replace|del CIDR dev DEV',
  positionals: true,
  example: 'lab-ip -n sw1 addr add 10.0.0.1/24 dev v0',
  run: verbs('addr', {
    show: (ctx, args) =>
      withHandle(ctx, async (nl) => {
        const dev = take(args, 'dev')
        done(args)
        const family = familyOf(ctx, undefined)
        const addrs = await nl.addr.list({ ...(dev ? { link: dev } : {}), ...(family ? { family } : {}) })
        const n = await names(nl)
        ctx.print(addrs, () => addrs.map((a) => addrLine(a, n)).join('\n'))
      }),
    add: addrChange('add'),
    replace: addrChange('replace'),
    del: addrChange('del'),
  }, { list: 'show', delete: 'del' }),
}

// ---- route

const ROUTE_FLAGS: Array<[number, string]> = [[1, 'dead'], [2, 'pervasive'], [4, 'onlink'], [8, 'offload'], [16, 'linkdown'], [32, 'unresolved'], [64, 'trap']]

/** A prefix as ip prints it: no length for a host route, "default" for /0. */
function prefixText(cidr: string, family: Family): string {
  if (cidr === 'default') return cidr
  const [address, length] = cidr.split('/')
  return Number(length) === (family === 4 ? 32 : 128) ? address! : cidr
}

/**
 * A route as `ip -j route` prints it: names for links, tables, protocols and scopes, defaults left
 * out; the table and dev only when the listing was not of one table or one dev (as ip).
 */
function routeJson(r: Route, n: Names, oneTable: boolean, oneDev: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  if (r.type !== 'unicast') out.type = r.type
  out.dst = prefixText(r.dst, r.family)
  if (r.gateway) out.gateway = r.gateway
  if (r.index !== undefined && !oneDev) out.dev = n.get(r.index) ?? String(r.index)
  if (r.table !== C.RT_TABLE_MAIN && !oneTable) out.table = tableName(r.table)
  if (r.protocol !== C.RTPROT.boot) out.protocol = nameOf(C.RTPROT, r.protocol)
  if (r.scope !== 0) out.scope = nameOf(C.SCOPES, r.scope)
  if (r.prefsrc) out.prefsrc = r.prefsrc
  if (r.metric !== undefined) out.metric = r.metric
  out.flags = ROUTE_FLAGS.filter(([bit]) => r.flags & bit).map(([, name]) => name)
  if (r.multipath) {
    out.nexthops = r.multipath.map((h) => ({
      ...(h.gateway ? { gateway: h.gateway } : {}),
      ...(h.index !== undefined ? { dev: n.get(h.index) ?? String(h.index) } : {}),
      weight: h.weight,
      flags: [],
    }))
  }
  if (r.pref) out.pref = r.pref
  return out
}

function routeLine(j: Record<string, unknown>): string {
  const parts: string[] = []
  if (j.type) parts.push(String(j.type))
  parts.push(String(j.dst))
  for (const [key, word] of [['gateway', 'via'], ['dev', 'dev'], ['table', 'table'], ['protocol', 'proto'], ['scope', 'scope'], ['prefsrc', 'src'], ['metric', 'metric']] as const) {
    if (j[key] !== undefined) parts.push(`${word} ${String(j[key])}`)
  }
  for (const f of j.flags as string[]) parts.push(f)
  for (const h of (j.nexthops as Array<Record<string, unknown>> | undefined) ?? []) parts.push(`\n\tnexthop via ${h.gateway} dev ${h.dev} weight ${h.weight}`)
  return parts.join(' ')
}

const routeChange = (verb: 'add' | 'replace' | 'append' | 'del') => (ctx: RunContext, args: string[]) =>
  withHandle(ctx, async (nl) => {
    const dst = need(args.shift(), 'DST')
    const via = take(args, 'via')
    const dev = take(args, 'dev')
    const metric = take(args, 'metric')
    const table = take(args, 'table')
    const src = take(args, 'src')
    done(args)
    const family = familyOf(ctx, undefined)
    await nl.route[verb]({
      dst,
      ...(via ? { gateway: via } : {}),
      ...(dev ? { interface: dev } : {}),
      ...(metric ? { metric: integer(metric, 'metric') } : {}),
      ...(table ? { table: tableOf(table) } : {}),
      ...(src ? { src } : {}),
      ...(family ? { family } : {}),
    })
  })

const route: Command = {
  summary: 'list, add, change and delete routes (IPv4 unless -6; table main unless table T)',
  usage: '[show [table T|all] [dev DEV]] | add|replace|append|del DST [via GW] [dev DEV] [metric N] [table T] [src ADDR]',
  positionals: true,
  example: ['lab-ip -n sw1 route add 10.9.0.0/16 via 10.0.0.254', 'lab-ip -n sw1 --json route'],
  run: verbs('route', {
    show: (ctx, args) =>
      withHandle(ctx, async (nl) => {
        const table = take(args, 'table')
        const dev = take(args, 'dev')
        done(args)
        // As ip: the main table shows IPv4 unless told otherwise; `table all` shows every family.
        const family = familyOf(ctx, table === 'all' ? undefined : 4)
        const routes = await nl.route.list({
          table: table === undefined ? 'main' : table === 'all' ? 'all' : tableOf(table),
          ...(family ? { family } : {}),
          ...(dev ? { link: dev } : {}),
        })
        const n = await names(nl)
        const json = routes.map((r) => routeJson(r, n, table !== undefined && table !== 'all', dev !== undefined))
        ctx.print(json, () => json.map(routeLine).join('\n'))
      }),
    add: routeChange('add'),
    replace: routeChange('replace'),
    append: routeChange('append'),
    del: routeChange('del'),
  }, { list: 'show', delete: 'del' }),
}

// ---- neigh

/** A neighbour as `ip -j neigh` prints it. */
function neighJson(e: Neighbour, n: Names): Record<string, unknown> {
  return {
    ...(e.address ? { dst: e.address } : {}),
    dev: n.get(e.index) ?? String(e.index),
    ...(e.lladdr ? { lladdr: e.lladdr } : {}),
    ...(e.router ? { router: null } : {}),
    state: e.state.map((s) => s.toUpperCase()),
  }
}

const neigh: Command = {
  summary: 'list ARP and NDP entries',
  usage: '[show [dev DEV]]',
  positionals: true,
  example: 'lab-ip -n sw1 neigh show dev v0',
  run: verbs('neigh', {
    show: (ctx, args) =>
      withHandle(ctx, async (nl) => {
        const dev = take(args, 'dev')
        done(args)
        const family = familyOf(ctx, undefined)
        const list = await nl.neigh.list({ ...(dev ? { link: dev } : {}), ...(family ? { family } : {}) })
        const n = await names(nl)
        const json = list.map((e) => neighJson(e, n))
        ctx.print(json, () => json.map((e) => `${e.dst ?? ''} dev ${e.dev}${e.lladdr ? ` lladdr ${e.lladdr}` : ''} ${(e.state as string[]).join(',')}`).join('\n'))
      }),
  }, { list: 'show' }),
}

// ---- rule

/** An address/length as ip prints it in a rule: the length only when it is not a host's. */
function ruleAddress(out: Record<string, unknown>, key: 'src' | 'dst', cidr: string, family: Family): void {
  const [address, length] = cidr.split('/')
  out[key] = address
  if (Number(length) !== (family === 4 ? 32 : 128)) out[`${key}len`] = Number(length)
}

/** A rule as `ip -j rule` prints it (iproute2 ip/iprule.c). */
function ruleJson(r: Rule): Record<string, unknown> {
  const out: Record<string, unknown> = { priority: r.priority ?? 0 }
  if (r.src) ruleAddress(out, 'src', r.src, r.family)
  else out.src = 'all'
  if (r.dst) ruleAddress(out, 'dst', r.dst, r.family)
  if (r.fwmark !== undefined || r.fwmask !== undefined) {
    out.fwmark = `0x${(r.fwmark ?? 0).toString(16)}`
    if (r.fwmask !== undefined && r.fwmask !== 0xffffffff) out.fwmask = `0x${r.fwmask.toString(16)}`
  }
  if (r.iif) out.iif = r.iif
  if (r.oif) out.oif = r.oif
  if (r.action === 'table') out.table = tableName(r.table)
  else out.action = r.action
  if (r.protocol !== undefined && r.protocol !== 0 && r.protocol !== C.RTPROT.kernel) out.protocol = nameOf(C.RTPROT, r.protocol)
  return out
}

function ruleLine(j: Record<string, unknown>): string {
  const part = (key: string) => `${j[key]}${j[`${key}len`] !== undefined ? `/${j[`${key}len`]}` : ''}`
  const words = [`${j.priority}:\tfrom ${part('src')}`]
  if (j.dst !== undefined) words.push(`to ${part('dst')}`)
  if (j.fwmark !== undefined) words.push(`fwmark ${j.fwmark}${j.fwmask !== undefined ? `/${j.fwmask}` : ''}`)
  if (j.iif) words.push(`iif ${j.iif}`)
  if (j.oif) words.push(`oif ${j.oif}`)
  words.push(j.table !== undefined ? `lookup ${j.table}` : String(j.action))
  if (j.protocol) words.push(`proto ${j.protocol}`)
  return words.join(' ')
}

const rule: Command = {
  summary: 'list policy routing rules (IPv4 unless -6, as ip rule)',
  usage: '[show]',
  positionals: true,
  example: ['lab-ip -n sw1 rule', 'lab-ip -n sw1 -6 --json rule'],
  run: verbs('rule', {
    show: (ctx, args) =>
      withHandle(ctx, async (nl) => {
        done(args)
        const rules = (await nl.rule.list({ family: familyOf(ctx, 4)! })).sort((a, b) => (a.priority ?? 0) - (b.priority ?? 0))
        const json = rules.map(ruleJson)
        ctx.print(json, () => json.map(ruleLine).join('\n'))
      }),
  }, { list: 'show' }),
}

// ---- netns

const netns: Command = {
  summary: 'list, add and delete named network namespaces (/run/netns, shared with ip netns)',
  usage: '[list] | add NAME | del NAME',
  positionals: true,
  example: 'lab-ip netns add sw1',
  run: verbs('netns', {
    show: async (ctx, args) => {
      done(args)
      const list = await Netns.list()
      ctx.print(list, () => list.join('\n'))
    },
    add: async (_ctx, args) => {
      const name = need(args.shift(), 'NAME')
      done(args)
      await Netns.add(name).catch((error: unknown) => rethrowUsage(error))
    },
    del: async (_ctx, args) => {
      const name = need(args.shift(), 'NAME')
      done(args)
      await Netns.del(name).catch((error: unknown) => rethrowUsage(error))
    },
  }, { list: 'show', delete: 'del' }),
}

function rethrowUsage(error: unknown): never {
  if (error instanceof ArgumentError) throw new UsageError(error.message)
  throw error
}

// ---- monitor

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

const KINDS: WatchKind[] = ['link', 'addr', 'route', 'neigh', 'rule']

const monitor: Command = {
  summary: 'print events until Ctrl-C (one JSON object per line with --json)',
  usage: '[link] [addr] [route] [neigh] [rule]',
  positionals: true,
  example: 'lab-ip -n sw1 monitor link addr',
  run: (ctx) =>
    withHandle(ctx, async (nl) => {
      for (const k of ctx.positionals) if (!KINDS.includes(k as WatchKind)) throw new UsageError(`unknown event kind "${k}"${suggest(k, KINDS)}`)
      const kinds = (ctx.positionals.length ? ctx.positionals : ['link', 'addr', 'route', 'neigh']) as WatchKind[]
      for await (const e of nl.watch(kinds, { signal: ctx.signal })) ctx.io.stdout(ctx.json ? JSON.stringify(e) : eventLine(e))
    }),
}

const program: Program = {
  name: 'lab-ip',
  summary: 'show and change links, addresses, routes, neighbours and rules in any network namespace',
  globalOptions: {
    netns: { type: 'string', short: 'n', value: 'NETNS', description: 'act inside this network namespace (a name under /run/netns or a path)' },
    json: { type: 'boolean', short: 'j', description: 'print machine-readable JSON (routes, rules and neighbours as ip -j prints them)' },
    ipv4: { type: 'boolean', short: '4', description: 'IPv4 only (the default for route and rule, as with ip)' },
    ipv6: { type: 'boolean', short: '6', description: 'IPv6 only' },
  },
  notes: 'A failure names errno, operation and object: lab-ip: EEXIST: link add v0',
  commands: { link, addr, route, neigh, rule, netns, monitor },
}

runProgram(program)
