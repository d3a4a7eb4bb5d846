// `lab ping`: hosts ping their neighbours (or every other host, as mininet's pingall) with
// @lab/netlink-native's Pinger: one raw ICMP socket per source node and family, every request of
// that node in flight at once, no process per ping.
import { Netlink, Pinger, parseIp, type PingResult } from '@lab/netlink-native'
import { TopologyError } from './errors.js'
import { guestAddresses } from './microvm.js'
import { limiter } from './lab.js'
import { requireState, type LabState } from './state.js'

export interface LabPingOptions {
  /** Every host pings every other host (mininet's `pingall`); default: only its neighbours. */
  all?: boolean
  /** Exactly these `[from, to]` node pairs instead (`all` is then ignored). */
  pairs?: ReadonlyArray<readonly [string, string]>
  /** Echo requests per pair (default 1). */
  count?: number
  /** How long to wait for each reply, in ms (default 2000). */
  timeoutMs?: number
  /**
   * Source nodes pinging at once (default 32), each with all its requests in flight. Every first
   * ping to a neighbour floods an ARP request through the whole layer-2 segment: hundreds at once
   * along a long chain of bridges overflow the kernel's receive backlog and are lost.
   */
  concurrency?: number
}

export interface PingPairResult extends Omit<PingResult, 'error'> {
  from: string
  to: string
  /** Why no request left (`ENETUNREACH: ping send …`: no route), when that happened. */
  error?: string
}

export interface LabPingResult {
  name: string
  pairs: PingPairResult[]
  /** Pairs with a request lost or not sent. */
  failed: number
}

/** Kinds that forward frames between their links: a host on one is a neighbour of the hosts on it. */
const SWITCHES = new Set(['bridge', 'nanoswitch'])
/** Kinds whose own namespace can send pings (a microVM's guest cannot be reached from here). */
const SENDERS = new Set(['netns', 'nanoswitch', 'slot'])

/** The address a node is pinged at: its first static address, its lease, or a nanoswitch's gateway. */
async function addressOf(state: LabState, node: string): Promise<string | undefined> {
  const record = state.nodes[node]!
  const spec = record.spec
  if (spec.kind === 'bridge') return undefined
  if (spec.kind === 'microvm') return guestAddresses(record)[0]?.split('/')[0]
  if (spec.kind === 'nanoswitch') return (spec.subnet ?? '10.1.0.1/24').split('/')[0]
  if (spec.addresses?.length) return spec.addresses[0]!.split('/')[0]
  if (!spec.dhcp) return undefined
  // A DHCP lease: whatever global IPv4 address the node's links hold now.
  await using nl = await Netlink.open({ netns: record.netns })
  return (await nl.addr.list({ family: 4 })).find((a) => a.scope === 0)?.address
}

/**
 * Neighbours: two hosts on one link, on one switch node, or on two switch nodes linked directly
 * (mininet's linear topology: h1 and h2 on the linked switches s1 and s2). A nanoswitch is a
 * switch and a host (its gateway address).
 */
function neighbourPairs(state: LabState, hosts: string[]): Array<[string, string]> {
  const adjacent = new Map<string, Set<string>>()
  const link = (a: string, b: string) => {
    if (!adjacent.has(a)) adjacent.set(a, new Set())
    adjacent.get(a)!.add(b)
  }
  for (const { spec } of Object.values(state.links)) {
    const [a, b] = spec.endpoints
    link(a.node, b.node)
    link(b.node, a.node)
  }
  const isSwitch = (node: string) => SWITCHES.has(state.nodes[node]?.spec.kind ?? '')
  const attached = new Map(hosts.map((h) => [h, [h, ...[...(adjacent.get(h) ?? [])].filter(isSwitch)]]))
  const pairs: Array<[string, string]> = []
  for (const a of hosts) {
    for (const b of hosts) {
      if (a === b) continue
      const near = attached.get(a)!.some((x) => attached.get(b)!.some((y) => x === y || adjacent.get(x)?.has(y)))
      if (near) pairs.push([a, b])
    }
  }
  return pairs
}

/**
 * Pings between a lab's hosts: each host its neighbours (default), every other host (`all`), or
 * the given `pairs`. Sources are netns, slot and nanoswitch nodes; targets also microVM guests.
 * Resolves with one result per pair, in order; throws TopologyError for an unknown lab or node.
 */
export async function ping(name: string, options: LabPingOptions = {}): Promise<LabPingResult> {
  const state = requireState(name)
  const nodes = Object.keys(state.nodes)
  const check = (node: string) => {
    if (!state.nodes[node]) throw new TopologyError(`no node ${node} in lab ${name} (nodes: ${nodes.join(', ')})`, { code: 'LAB_ERR_NO_NODE' })
  }
  let pairs: Array<readonly [string, string]>
  const addresses = new Map<string, string | undefined>()
  if (options.pairs) {
    for (const [from, to] of options.pairs) {
      check(from)
      check(to)
      if (!SENDERS.has(state.nodes[from]!.spec.kind)) throw new TopologyError(`${from}: a ${state.nodes[from]!.spec.kind} node cannot send pings`, { code: 'LAB_ERR_NO_ADDRESS' })
    }
    pairs = [...options.pairs]
    const targets = [...new Set(pairs.map(([, to]) => to))]
    const found = await Promise.all(targets.map((node) => addressOf(state, node)))
    targets.forEach((node, i) => addresses.set(node, found[i]))
    for (const to of targets) if (!addresses.get(to)) throw new TopologyError(`${to}: no address to ping`, { code: 'LAB_ERR_NO_ADDRESS' })
  } else {
    const found = await Promise.all(nodes.map((node) => addressOf(state, node)))
    nodes.forEach((node, i) => addresses.set(node, found[i]))
    const hosts = nodes.filter((n) => addresses.get(n))
    pairs = options.all ? hosts.flatMap((a) => hosts.filter((b) => b !== a).map((b) => [a, b] as const)) : neighbourPairs(state, hosts)
    pairs = pairs.filter(([from]) => SENDERS.has(state.nodes[from]!.spec.kind))
  }
  const results: PingPairResult[] = pairs.map(([from, to]) => ({ from, to, address: addresses.get(to)!, transmitted: 0, received: 0, lost: 0, rtts: [] }))
  // One Pinger per source node and family; each source's requests all at once.
  const bySource = new Map<string, PingPairResult[]>()
  for (const r of results) {
    const key = `${r.from} ${parseIp(r.address, `nodes.${r.to}.addresses`).family}`
    const list = bySource.get(key)
    if (list) list.push(r)
    else bySource.set(key, [r])
  }
  const concurrency = options.concurrency ?? 32
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new TopologyError(`concurrency: expected an integer >= 1, got ${String(concurrency)}`, { code: 'LAB_ERR_ARGUMENT' })
  const gate = limiter(concurrency)
  await Promise.all(
    [...bySource].map(([key, list]) => gate(async () => {
      const [from, family] = key.split(' ') as [string, string]
      const record = state.nodes[from]!
      await using pinger = await Pinger.open({ netns: record.netns, family: family === '6' ? 6 : 4 })
      await Promise.all(
        list.map(async (r) => {
          const { error, ...answer } = await pinger.ping(r.address, { count: options.count, timeoutMs: options.timeoutMs, intervalMs: 200 })
          Object.assign(r, answer, error ? { error: error.message } : {})
        }),
      )
    })),
  )
  return { name, pairs: results, failed: results.filter((r) => r.error || r.lost > 0 || r.transmitted === 0).length }
}
