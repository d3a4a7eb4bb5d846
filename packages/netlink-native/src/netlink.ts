// A handle on one network namespace's rtnetlink: links, addresses, routes, neighbours, rules,
// events, batches and sysctls. One handle per namespace; no global state.
import { closeSync, openSync } from 'node:fs'
import { NETLINK_ROUTE } from './netlink/constants.js'
import { NetlinkError } from './netlink/error.js'
import type { MessageWriter } from './netlink/message.js'
import { NetlinkSocket, type NetlinkReply, type NetlinkRequest } from './netlink/socket.js'
import { sys } from './errors.js'
import { EEXIST, ENODEV } from './sys/errno.js'
import { ifindexByName, ifindexInUse } from './sys/ifreq.js'
import { resolveNetnsPath } from './netns/path.js'
import { addrAdd, addrDel, addrDumpRequest, addrReplace, decodeAddress, type Address, type AddressOptions } from './rtnetlink/addr.js'
import * as C from './rtnetlink/constants.js'
import type { LinkRef, Operation, RequestContext } from './rtnetlink/context.js'
import { publishChange } from './diagnostics.js'
import type { Family } from './rtnetlink/inet.js'
import { decodeLink, linkAdd, linkDel, linkDumpRequest, linkGet, linkSet, linkSetBridgePort, type BridgePortOptions, type Link, type LinkAddOptions, type LinkAttributes } from './rtnetlink/link.js'
import { decodeNeighbour, neighAdd, neighDel, neighDumpRequest, neighReplace, type Neighbour, type NeighbourOptions } from './rtnetlink/neigh.js'
import { decodeRoute, routeAdd, routeAppend, routeDel, routeDumpRequest, routeReplace, tableNumber, type Route, type RouteOptions } from './rtnetlink/route.js'
import { decodeQdisc, qdiscAdd, qdiscChange, qdiscDel, qdiscDumpRequest, qdiscReplace, type Qdisc, type QdiscOptions, type QdiscRef } from './rtnetlink/qdisc.js'
import { decodeRule, ruleAdd, ruleDel, ruleDumpRequest, type Rule, type RuleOptions } from './rtnetlink/rule.js'
import { createPersistentTuntap } from './rtnetlink/tuntap.js'
import { watchEvents, type NetlinkEvent, type WatchKind } from './rtnetlink/watch.js'
import { Sysctl } from './sysctl.js'


export interface NetlinkOpenOptions {
  /** Namespace name (under /run/netns) or path; omitted: the caller's own namespace. */
  netns?: string
}

export type BatchResult = { ok: true } | { ok: false; error: NetlinkError }

/**
 * A list read by a dump. `interrupted` is true when the kernel reported the dump inconsistent
 * (the table changed while it was read) on every retry: the entries are returned, not dropped.
 */
export type DumpList<T> = T[] & { interrupted: boolean }

function dumpList<T>(items: T[], interrupted: boolean): DumpList<T> {
  return Object.assign(items, { interrupted })
}

export class BatchError extends Error {
  constructor(
    readonly results: BatchResult[],
    readonly failed: Array<{ index: number; error: NetlinkError }>,
  ) {
    super(`${failed.length} of ${results.length} batch operations failed: ${failed.map((f) => `#${f.index} ${f.error.message}`).join('; ')}`)
    this.name = 'BatchError'
  }
}

/** Queues operations for `Netlink.batch()`; the same methods as the handle, without awaiting. */
export class BatchBuilder {
  readonly ops: Array<Operation<unknown>> = []
  readonly link = {
    add: (o: LinkAddOptions) => void this.ops.push(linkAdd(o)),
    set: (link: LinkRef, o: LinkAttributes) => void this.ops.push(linkSet(link, o)),
    del: (link: LinkRef) => void this.ops.push(linkDel(link)),
  }
  readonly addr = {
    add: (link: LinkRef, cidr: string, o?: AddressOptions) => void this.ops.push(addrAdd(link, cidr, o)),
    replace: (link: LinkRef, cidr: string, o?: AddressOptions) => void this.ops.push(addrReplace(link, cidr, o)),
    del: (link: LinkRef, cidr: string) => void this.ops.push(addrDel(link, cidr)),
  }
  readonly route = {
    add: (o: RouteOptions) => void this.ops.push(routeAdd(o)),
    replace: (o: RouteOptions) => void this.ops.push(routeReplace(o)),
    append: (o: RouteOptions) => void this.ops.push(routeAppend(o)),
    del: (o: RouteOptions) => void this.ops.push(routeDel(o)),
  }
  readonly neigh = {
    add: (o: NeighbourOptions) => void this.ops.push(neighAdd(o)),
    replace: (o: NeighbourOptions) => void this.ops.push(neighReplace(o)),
    del: (o: NeighbourOptions) => void this.ops.push(neighDel(o)),
  }
  readonly qdisc = {
    add: (o: QdiscOptions) => void this.ops.push(qdiscAdd(o)),
    change: (o: QdiscOptions) => void this.ops.push(qdiscChange(o)),
    replace: (o: QdiscOptions) => void this.ops.push(qdiscReplace(o)),
    del: (o: QdiscRef) => void this.ops.push(qdiscDel(o)),
  }
  readonly rule = {
    add: (o: RuleOptions) => void this.ops.push(ruleAdd(o)),
    del: (o: RuleOptions) => void this.ops.push(ruleDel(o)),
  }
}

export class Netlink {
  readonly netns: string | undefined
  readonly sysctl: Sysctl
  readonly #socket: NetlinkSocket

  private constructor(netns: string | undefined, socket: NetlinkSocket) {
    this.netns = netns
    this.#socket = socket
    this.sysctl = new Sysctl(netns)
  }

  static async open(options: NetlinkOpenOptions = {}): Promise<Netlink> {
    return new Netlink(options.netns, await NetlinkSocket.open({ protocol: NETLINK_ROUTE, netns: options.netns }))
  }

  /** The underlying socket, for families this handle does not wrap. */
  get socket(): NetlinkSocket {
    return this.#socket
  }

  /** Closes the handle's socket; safe to call more than once. */
  async close(): Promise<void> {
    await this.#socket.close()
  }

  /** `await using nl = await Netlink.open(...)` closes it at the end of the scope. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  readonly link = {
    add: async (o: LinkAddOptions): Promise<void> => {
      if (o.kind === 'tap' || o.kind === 'tun') return this.#addTuntap(o)
      await this.#one(linkAdd(o))
    },
    set: async (link: LinkRef, o: LinkAttributes): Promise<void> => this.#one(linkSet(link, o)),
    /** A bridge port's settings: `bridge link set dev vx0 learning off neigh_suppress on`. */
    setBridgePort: async (link: LinkRef, o: BridgePortOptions): Promise<void> => this.#one(linkSetBridgePort(link, o)),
    del: async (link: LinkRef): Promise<void> => this.#one(linkDel(link)),
    get: async (link: LinkRef): Promise<Link> => this.#one(linkGet(link)),
    list: async (filter: { kind?: string; master?: LinkRef } = {}): Promise<DumpList<Link>> => {
      const { items: links, interrupted } = await this.#dump(C.RTM_GETLINK, 'link list', linkDumpRequest, decodeLink)
      const master = filter.master === undefined ? undefined : typeof filter.master === 'number' ? filter.master : links.find((l) => l.name === filter.master)?.index ?? -1
      return dumpList(links.filter((l) => (filter.kind === undefined || l.kind === filter.kind) && (master === undefined || l.master === master)), interrupted)
    },
  }

  readonly addr = {
    add: async (link: LinkRef, cidr: string, o?: AddressOptions): Promise<void> => this.#one(addrAdd(link, cidr, o)),
    replace: async (link: LinkRef, cidr: string, o?: AddressOptions): Promise<void> => this.#one(addrReplace(link, cidr, o)),
    del: async (link: LinkRef, cidr: string): Promise<void> => this.#one(addrDel(link, cidr)),
    list: async (filter: { link?: LinkRef; family?: Family } = {}): Promise<DumpList<Address>> => {
      const index = filter.link === undefined ? undefined : await this.#indexOf(filter.link, 'addr list')
      const { items, interrupted } = await this.#dump(C.RTM_GETADDR, 'addr list', (w) => addrDumpRequest(w, filter.family), decodeAddress)
      return dumpList(items.filter((a) => (index === undefined || a.index === index) && (filter.family === undefined || a.family === filter.family)), interrupted)
    },
  }

  readonly route = {
    add: async (o: RouteOptions): Promise<void> => this.#one(routeAdd(o)),
    replace: async (o: RouteOptions): Promise<void> => this.#one(routeReplace(o)),
    append: async (o: RouteOptions): Promise<void> => this.#one(routeAppend(o)),
    del: async (o: RouteOptions): Promise<void> => this.#one(routeDel(o)),
    /** Routes of one table (default main; 'all' for every table) and family. */
    list: async (filter: { table?: RouteOptions['table'] | 'all'; family?: Family; link?: LinkRef } = {}): Promise<DumpList<Route>> => {
      const table = filter.table === 'all' ? undefined : tableNumber(filter.table ?? 'main')
      const index = filter.link === undefined ? undefined : await this.#indexOf(filter.link, 'route list')
      const { items: all, interrupted } = await this.#dump(C.RTM_GETROUTE, 'route list', (w) => routeDumpRequest(w, filter.family), decodeRoute)
      return dumpList(all.filter(
        (r) =>
          (table === undefined || r.table === table) &&
          (filter.family === undefined || r.family === filter.family) &&
          (index === undefined || r.index === index || r.multipath?.some((h) => h.index === index)),
      ), interrupted)
    },
  }

  readonly neigh = {
    add: async (o: NeighbourOptions): Promise<void> => this.#one(neighAdd(o)),
    replace: async (o: NeighbourOptions): Promise<void> => this.#one(neighReplace(o)),
    del: async (o: NeighbourOptions): Promise<void> => this.#one(neighDel(o)),
    list: async (filter: { link?: LinkRef; family?: Family | 'bridge' } = {}): Promise<DumpList<Neighbour>> => {
      const index = filter.link === undefined ? undefined : await this.#indexOf(filter.link, 'neigh list')
      const { items, interrupted } = await this.#dump(C.RTM_GETNEIGH, 'neigh list', (w) => neighDumpRequest(w, filter.family), decodeNeighbour)
      return dumpList(items.filter((n) => (index === undefined || n.index === index) && (filter.family === undefined || n.family === filter.family)), interrupted)
    },
  }

  /**
   * Queueing disciplines: netem (delay, jitter, loss, duplicate, reorder, corrupt) and tbf (a rate
   * limit). `add` is `tc qdisc add dev IF root netem delay 50ms`; `change` alters the one there
   * (ENOENT if none), `replace` adds or swaps it, `del` removes it.
   */
  readonly qdisc = {
    add: async (o: QdiscOptions): Promise<void> => this.#one(qdiscAdd(o)),
    change: async (o: QdiscOptions): Promise<void> => this.#one(qdiscChange(o)),
    replace: async (o: QdiscOptions): Promise<void> => this.#one(qdiscReplace(o)),
    del: async (o: QdiscRef): Promise<void> => this.#one(qdiscDel(o)),
    list: async (filter: { link?: LinkRef } = {}): Promise<DumpList<Qdisc>> => {
      const index = filter.link === undefined ? undefined : await this.#indexOf(filter.link, 'qdisc list')
      const { items, interrupted } = await this.#dump(C.RTM_GETQDISC, 'qdisc list', qdiscDumpRequest, decodeQdisc)
      return dumpList(items.filter((q) => index === undefined || q.index === index), interrupted)
    },
  }

  readonly rule = {
    add: async (o: RuleOptions): Promise<void> => this.#one(ruleAdd(o)),
    del: async (o: RuleOptions): Promise<void> => this.#one(ruleDel(o)),
    list: async (filter: { family?: Family } = {}): Promise<DumpList<Rule>> => {
      const families: Family[] = filter.family ? [filter.family] : [4, 6]
      const out: Rule[] = []
      let interrupted = false
      for (const family of families) {
        const dump = await this.#dump(C.RTM_GETRULE, 'rule list', (w) => ruleDumpRequest(w, family), decodeRule)
        out.push(...dump.items)
        interrupted ||= dump.interrupted
      }
      return dumpList(out, interrupted)
    },
  }

  /**
   * Runs many operations pipelined: they go to the kernel in as few sendmsg calls as their
   * dependencies allow (an address on a link created in the same batch needs that link's index),
   * and each gets its own result. Rejects with BatchError naming the failed operations unless
   * `throwOnError` is false.
   */
  async batch(build: (b: BatchBuilder) => void, options: { throwOnError?: boolean } = {}): Promise<BatchResult[]> {
    const builder = new BatchBuilder()
    build(builder)
    const results = await this.#run(builder.ops)
    const out: BatchResult[] = results.map((r) => (r instanceof NetlinkError ? { ok: false, error: r } : { ok: true }))
    const failed = out.flatMap((r, index) => (r.ok ? [] : [{ index, error: r.error }]))
    if (failed.length > 0 && options.throwOnError !== false) throw new BatchError(out, failed)
    return out
  }

  /**
   * Typed events for the given kinds until the loop breaks or `signal` aborts. When events are
   * lost (the kernel's receive queue overflowed, or the consumer fell `maxQueued` events behind,
   * default 10 000), an `overrun` event is followed by the current state of every watched kind as
   * `new` events with `resync: true`: nothing is lost silently, and memory stays bounded.
   */
  watch(kinds: WatchKind[] = ['link', 'addr', 'route', 'neigh'], options: { signal?: AbortSignal; maxQueued?: number } = {}): AsyncIterableIterator<NetlinkEvent> {
    return watchEvents(this.netns, kinds, options.signal, (kind) => this.#snapshot(kind), undefined, options.maxQueued)
  }

  async #snapshot(kind: WatchKind): Promise<NetlinkEvent[]> {
    switch (kind) {
      case 'link':
        return (await this.link.list()).map((link) => ({ kind, action: 'new', link, resync: true }))
      case 'addr':
        return (await this.addr.list()).map((addr) => ({ kind, action: 'new', addr, resync: true }))
      case 'route':
        return (await this.route.list({ table: 'all' })).map((route) => ({ kind, action: 'new', route, resync: true }))
      case 'neigh':
        return (await this.neigh.list()).map((neigh) => ({ kind, action: 'new', neigh, resync: true }))
      case 'rule':
        return (await this.rule.list()).map((rule) => ({ kind, action: 'new', rule, resync: true }))
    }
  }

  async #addTuntap(o: LinkAddOptions): Promise<void> {
    const exists = await this.#socket.exchange([linkGet(o.name).encode(noContext)])
    if (!(exists[0] instanceof NetlinkError)) throw new NetlinkError(EEXIST, 'link add', o.name, { message: 'a link with this name exists' })
    await createPersistentTuntap(this.netns === undefined ? null : resolveNetnsPath(this.netns), { name: o.name, mode: o.kind as 'tun' | 'tap' })
    const rest: LinkAttributes = { ...o }
    delete (rest as Partial<LinkAddOptions>).kind
    delete (rest as Partial<LinkAddOptions>).name
    publishChange(this.netns, { kind: 'link', action: 'add', link: o.name, options: o })
    if (Object.values(rest).some((v) => v !== undefined)) await this.link.set(o.name, rest)
  }

  async #one<T>(op: Operation<T>): Promise<T> {
    const [result] = await this.#run([op])
    if (result instanceof NetlinkError) throw result
    return result as T
  }

  async #dump<T>(type: number, op: string, body: (w: MessageWriter) => void, decode: (m: NetlinkReply['messages'][number]) => T): Promise<{ items: T[]; interrupted: boolean }> {
    const reply = await this.#socket.dump({ type, op, object: this.netns, body })
    return { items: reply.messages.map(decode), interrupted: reply.interrupted }
  }

  async #indexOf(link: LinkRef, op: string): Promise<number> {
    if (typeof link === 'number') return link
    const known = await this.#resolve([link])
    const index = known.get(link)
    if (index === undefined) throw new NetlinkError(ENODEV, op, link, { message: `no link named ${link}` })
    return index
  }

  /**
   * Resolves link names to indexes with SIOCGIFINDEX on the netlink socket (which answers for the
   * socket's namespace), as `ip` does through if_nametoindex: cheaper than an RTM_GETLINK reply.
   * Names that do not exist are left out.
   */
  async #resolve(names: Iterable<string>, into = new Map<string, number>()): Promise<Map<string, number>> {
    for (const name of names) {
      if (into.has(name)) continue
      try {
        into.set(name, ifindexByName(this.#socket.fd, name))
      } catch (error) {
        if ((error as { errno?: number }).errno !== ENODEV) throw error
      }
    }
    return into
  }

  /**
   * Executes operations in order. Names are resolved up front; an operation that refers to a link
   * created earlier in the same run waits until the operations before it were sent, so its index
   * can be looked up.
   */
  async #run(ops: Array<Operation<unknown>>): Promise<unknown[]> {
    const results: unknown[] = new Array(ops.length)
    const createdHere = new Set(ops.flatMap((o) => o.creates ?? []))
    const known = await this.#resolve(ops.flatMap((o) => o.refs.filter((r) => !createdHere.has(r))))
    // Links created with an index given up front are known before they exist, so nothing waits
    // for their creation: unless that index is taken now (the creation will fail with EEXIST),
    // where operations naming them wait and look them up as for any other created link.
    for (const [name, index] of ops.flatMap((o) => o.indexes ?? [])) {
      if (!ifindexInUse(this.#socket.fd, index)) known.set(name, index)
    }
    let segment: number[] = []
    const flush = async () => {
      if (segment.length === 0) return
      const indexes = segment
      segment = []
      const fds: number[] = []
      const ctx: RequestContext = {
        index: (link) => (typeof link === 'number' ? link : known.get(link)!),
        netnsFd: (netns) => {
          const fd = sys('open netns', netns, () => openSync(resolveNetnsPath(netns), 'r'))
          fds.push(fd)
          return fd
        },
      }
      try {
        const requests: NetlinkRequest[] = indexes.map((i) => ops[i]!.encode(ctx))
        // Only the last request asks for an ack: the kernel answers every refused one with its
        // error anyway, before that ack, so each still gets its own result, without the kernel
        // making (and us reading) an ack per message.
        const replies = await this.#socket.exchange(requests, { ackLastOnly: true })
        replies.forEach((reply, k) => {
          const i = indexes[k]!
          results[i] = reply instanceof NetlinkError ? reply : ops[i]!.decode(reply)
        })
      } finally {
        for (const fd of fds) closeSync(fd)
      }
    }
    // Names created here that some operation refers to, and those of them created by operations
    // queued so far but not looked up yet: each name is looked up once, whatever the batch's order.
    const needed = new Set(ops.flatMap((o) => o.refs.filter((r) => createdHere.has(r) && !known.has(r))))
    const unresolved = new Set<string>()
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i]!
      let missing = op.refs.filter((r) => !known.has(r))
      if (missing.some((r) => createdHere.has(r))) {
        await flush()
        await this.#resolve(unresolved, known)
        unresolved.clear()
        missing = op.refs.filter((r) => !known.has(r))
      }
      if (missing.length > 0) {
        const request = op.encode({ index: () => 0, netnsFd: () => -1 })
        results[i] = new NetlinkError(ENODEV, request.op, request.object, { message: `no link named ${missing.join(', ')}` })
        continue
      }
      segment.push(i)
      for (const name of op.creates ?? []) if (needed.has(name) && !known.has(name)) unresolved.add(name)
    }
    await flush()
    for (let i = 0; i < ops.length; i++) {
      const change = ops[i]!.change
      if (change && !(results[i] instanceof NetlinkError)) publishChange(this.netns, change)
    }
    return results
  }
}

const noContext: RequestContext = {
  index: (link) => (typeof link === 'number' ? link : 0),
  netnsFd: () => -1,
}
