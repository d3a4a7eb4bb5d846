// Building, converging and removing a lab. Every node is a network namespace named
// `<lab>-<node>`; links are veth pairs between them with the endpoints' interface names; a bridge
// node holds a Linux bridge `br0`, a nanoswitch node runs @lab/nanoswitch.
//
// Long-running parts (a nanoswitch, DHCP clients) run as detached child processes, their pids in the
// state file: `lab up` is a command that exits, so an in-process RunningSwitch would die with it,
// and a daemon of our own would be one more thing to supervise. A detached process outlives
// `lab up` (also a kill -9 of it), and `lab down` stops it by its recorded pid and start time.
import { spawn } from 'node:child_process'
import { mkdirSync, openSync, closeSync } from 'node:fs'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join, resolve } from 'node:path'
import { Netlink, Netns, Sysctl, isNotFound, parseDuration, spawnInNetns, type Logger } from '@lab/netlink-native'
import { TopologyError } from './errors.js'
import { applyImpairment } from './impairment.js'
import { VM_TAP, guestAddresses, runnerPath, shellLine, vmExec, vmImage, vmSocket, waitForVm } from './microvm.js'
import { addSlot } from './slot.js'
import { labDir, processAlive, processStart, readState, removeState, requireState, writeState, type LabState, type ProcessRecord, type SlotRecord } from './state.js'
import { linkKey, type Impairment, type LinkSpec, type NodeSpec, type Topology } from './topology.js'

export const BRIDGE = 'br0'

export function netnsName(lab: string, node: string): string {
  return `${lab}-${node}`
}

export interface UpOptions {
  /** The topology file's path, kept in the state for `lab down FILE` and `lab status`. */
  file?: string
  /**
   * Told how far each phase is, after every object (the CLI shows it as one line on a terminal:
   * `creating nodes 37/100`). The library itself prints nothing.
   */
  onProgress?: (progress: UpProgress) => void
  /** How long to wait for DHCP nodes to get an address (default 30 s). */
  dhcpTimeoutMs?: number
  logger?: Logger
}

/** Where `up` is: `done` of `total` objects of the phase (`total` counts only what this run changes). */
export interface UpProgress {
  phase: 'removing links' | 'removing nodes' | 'creating nodes' | 'creating links' | 'preparing microVM images' | 'configuring nodes' | 'impairing links' | 'waiting for DHCP leases' | 'waiting for microVMs'
  done: number
  total: number
}

export interface UpResult {
  name: string
  /** What changed, one line each; empty when the lab already matched the file. */
  actions: string[]
}

function binOf(pkg: string, bin: string): string {
  // The CJS build has a module-scoped `require` and no import.meta.url; the ESM build the reverse.
  const resolver = typeof require === 'function' && typeof require.resolve === 'function' ? require : createRequire(import.meta.url)
  return join(dirname(resolver.resolve(`${pkg}/package.json`)), 'bin', bin)
}

const sameJson = (a: unknown, b: unknown): boolean => JSON.stringify(a ?? null) === JSON.stringify(b ?? null)

/** The first link interface of a node (where its addresses and DHCP client go). */
function firstInterface(topology: { links: LinkSpec[] }, node: string): string | undefined {
  for (const link of topology.links) for (const e of link.endpoints) if (e.node === node) return e.interface
  return undefined
}

/** Runs `fn` over `items`, at most `limit` at a time (namespaces are made on libuv's worker threads). */
async function each<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!)
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
}

const CONCURRENCY = 16
/** The first interface index of a link end in a namespace `up` made (lo, br0 and tap0 come before). */
const FIRST_INDEX = 10

/** One rtnetlink handle per namespace for the length of one `up`: opening one costs a setns. */
class Handles {
  readonly #open = new Map<string, Promise<Netlink>>()
  get(netns: string): Promise<Netlink> {
    let h = this.#open.get(netns)
    if (!h) {
      h = Netlink.open({ netns })
      this.#open.set(netns, h)
    }
    return h
  }
  async forget(netns: string): Promise<void> {
    const h = this.#open.get(netns)
    this.#open.delete(netns)
    if (h) await (await h).close()
  }
  async closeAll(): Promise<void> {
    const all = [...this.#open.values()]
    this.#open.clear()
    for (const r of await Promise.allSettled(all)) if (r.status === 'fulfilled') await r.value.close()
  }
}

/** Kinds whose link ends join the node's bridge `br0` (a microVM's TAP joins it too). */
const BRIDGED = new Set(['bridge', 'microvm'])

/** Groups items by a key, keeping their order. */
function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>()
  for (const item of items) {
    const k = key(item)
    const list = out.get(k)
    if (list) list.push(item)
    else out.set(k, [item])
  }
  return out
}

/**
 * Makes the lab match the topology: creates what is missing, removes what the file no longer has,
 * recreates nodes whose settings changed and re-applies changed impairments. Returns what it did.
 *
 * The state file is written once per phase, before the phase creates anything (the names it is
 * about to create), so a `lab up` killed with -9 at any point leaves nothing `lab down` misses.
 * Namespaces are made concurrently, and each namespace's links, addresses and routes go to the
 * kernel as one pipelined netlink batch.
 */
export async function up(topology: Topology, options: UpOptions = {}): Promise<UpResult> {
  const actions: string[] = []
  const report: Report = (phase, done, total) => options.onProgress?.({ phase, done, total })
  const name = topology.name
  const state: LabState = readState(name) ?? { name, format: topology.format, nodes: {}, links: {} }
  if (options.file) state.file = resolve(options.file)
  state.format = topology.format
  mkdirSync(labDir(name), { recursive: true })
  const handles = new Handles()
  try {
    return await converge(topology, state, handles, options, report, actions)
  } finally {
    await handles.closeAll()
  }
}

type Report = (phase: UpProgress['phase'], done: number, total: number) => void

async function converge(topology: Topology, state: LabState, handles: Handles, options: UpOptions, report: Report, actions: string[]): Promise<UpResult> {
  const say = (line: string) => void actions.push(line)
  const name = topology.name
  const desiredLinks = new Map(topology.links.map((l) => [linkKey(l), l]))
  // A node is recreated when its settings or its first interface (where addresses go) changed.
  const oldFirstOf = (node: string) => firstInterface({ links: Object.values(state.links).map((l) => l.spec) }, node)
  const changed = (node: string) => !sameJson(state.nodes[node]!.spec, topology.nodes[node]) || oldFirstOf(node) !== firstInterface(topology, node)
  const recreate = new Set(Object.keys(state.nodes).filter((n) => topology.nodes[n] && changed(n)))

  // Removal first: links, then nodes (a namespace takes its veth ends with it).
  const touchesRecreated = (link: LinkSpec) => link.endpoints.some((e) => recreate.has(e.node) || !topology.nodes[e.node])
  const oldLinks = Object.entries(state.links).filter(([key, link]) => !desiredLinks.has(key) || touchesRecreated(link.spec))
  if (oldLinks.length > 0) {
    const deletable = oldLinks.filter(([, link]) => !touchesRecreated(link.spec)).map(([, link]) => link.spec)
    let done = 0
    await each([...groupBy(deletable, (l) => netnsName(name, l.endpoints[0].node))], CONCURRENCY, async ([netns, links]) => {
      const nl = await handles.get(netns)
      const results = await nl.batch((b) => links.forEach((l) => b.link.del(l.endpoints[0].interface)), { throwOnError: false })
      // Already gone (someone deleted it) is what removal asks for.
      for (const r of results) if (!r.ok && !isNotFound(r.error) && r.error.code !== 'ENODEV') throw r.error
      report('removing links', (done += links.length), deletable.length)
    })
    for (const [key, link] of oldLinks) {
      delete state.links[key]
      if (!touchesRecreated(link.spec) || !desiredLinks.has(key)) say(`removed link ${key.replace('--', ' <-> ')}`)
    }
    writeState(state)
  }
  const oldNodes = Object.keys(state.nodes).filter((node) => !topology.nodes[node] || recreate.has(node))
  if (oldNodes.length > 0) {
    let done = 0
    await each(oldNodes, CONCURRENCY, async (node) => {
      await handles.forget(state.nodes[node]!.netns)
      await removeNode(state, node)
      report('removing nodes', ++done, oldNodes.length)
    })
    for (const node of oldNodes) if (!recreate.has(node)) say(`removed node ${node}`)
    writeState(state)
  }

  // Then creation, pipelined: each namespace is made, each link as soon as its two namespaces
  // exist, each node's addresses as soon as its links do; then what runs on the nodes.
  const newNodes = Object.entries(topology.nodes).filter(([node]) => !state.nodes[node])
  const added = new Set(newNodes.map(([node]) => node))
  for (const node of added) {
    const spec = topology.nodes[node]!
    if ((spec.addresses?.length || spec.routes?.length || spec.dhcp) && !firstInterface(topology, node)) {
      throw new TopologyError(`nodes.${node}: addresses, routes and dhcp need a link to the node`, { path: `nodes.${node}` })
    }
  }
  const newLinks = [...desiredLinks].filter(([key]) => !state.links[key])
  if (newNodes.length > 0 || newLinks.length > 0) {
    for (const [node, spec] of newNodes) state.nodes[node] = { netns: netnsName(name, node), spec, processes: [] }
    for (const [key, link] of newLinks) state.links[key] = { spec: link }
    writeState(state) // before anything exists: a kill from here on leaves it all recorded
    await build(state, topology, newNodes, newLinks.map(([, l]) => l), added, handles, report)
    for (const [node, spec] of newNodes) say(`${recreate.has(node) ? 'recreated' : 'added'} node ${node} (${spec.kind}, netns ${netnsName(name, node)})`)
    for (const [key] of newLinks) say(`added link ${key.replace('--', ' <-> ')}`)
  }
  if (added.size > 0) await configureNodes(state, topology, [...added], handles, options, report)

  // Impairments: compared with what the interfaces hold now.
  const reimpaired = [...desiredLinks].filter(([key, link]) => !sameJson(state.links[key]!.impairment ?? {}, link.impairment ?? {}))
  if (reimpaired.length > 0) {
    let done = 0
    await each(reimpaired, CONCURRENCY, async ([key, link]) => {
      for (const e of link.endpoints) await applyImpairment(await handles.get(netnsName(name, e.node)), e.interface, link.impairment)
      state.links[key]!.impairment = link.impairment
      report('impairing links', ++done, reimpaired.length)
    })
    for (const [key, link] of reimpaired) {
      say(`${link.impairment && Object.keys(link.impairment).length ? 'impaired' : 'cleared impairment of'} link ${key.replace('--', ' <-> ')}${link.impairment ? ` ${formatImpairment(link.impairment)}` : ''}`)
    }
    writeState(state)
  }

  await waitForNodes(state, topology, added, handles, options, report)
  return { name, actions }
}

export function formatImpairment(i: Impairment): string {
  return Object.entries(i)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ')
}

async function createNode(handles: Handles, netns: string, spec: NodeSpec): Promise<void> {
  // An empty resolv.conf of its own: `ip netns exec` mounts it over /etc/resolv.conf, so nothing
  // a user runs there (a DHCP client's script) rewrites the host's.
  // (On the thread pool, beside the namespace: on an overlay /etc each file costs a millisecond.)
  const resolvConf = mkdir(`/etc/netns/${netns}`, { recursive: true }).then(() => writeFile(`/etc/netns/${netns}/resolv.conf`, ''))
  await Promise.all([Netns.add(netns), resolvConf])
  // A bridge node is a switch: its ports carry no addresses. Without IPv6 on them (set before they
  // exist), they stay silent: each port would otherwise send DAD, MLD and router solicitations
  // when it comes up, flooded through every bridge of the lab to every host.
  const quiet = spec.kind === 'bridge' ? new Sysctl(netns).set('net.ipv6.conf.default.disable_ipv6', 1) : undefined
  const nl = await handles.get(netns)
  await quiet
  await nl.batch((b) => {
    b.link.set('lo', { up: true })
    if (BRIDGED.has(spec.kind)) b.link.add({ name: BRIDGE, kind: 'bridge', up: true })
  })
  // A microVM's NIC: a persistent TAP on the node's bridge, which the VM's runner attaches to.
  if (spec.kind === 'microvm') await nl.link.add({ name: VM_TAP, kind: 'tap', master: BRIDGE, up: true })
}

/** Runs at most `limit` of the functions given to it at a time, in the order given. */
export function limiter(limit: number): <T>(fn: () => Promise<T>) => Promise<T> {
  let active = 0
  const queue: Array<() => void> = []
  const next = () => {
    if (active < limit) queue.shift()?.()
  }
  return (fn) =>
    new Promise((resolve, reject) => {
      queue.push(() => {
        active++
        fn()
          .then(resolve, reject)
          .finally(() => {
            active--
            next()
          })
      })
      next()
    })
}

/**
 * Makes the new nodes (16 namespaces at a time), their veth pairs and their addresses and routes,
 * each step as soon as what it needs exists, so the kernel works on links while namespaces are
 * still being made on libuv's threads. Veth pairs go in two batches per namespace: each pair is
 * made (up, on its bridge) from its first endpoint's namespace with the peer born in the second's,
 * then the second endpoints are brought up (and onto their bridges) there. Every step has ended
 * when this returns or throws (the first error).
 */
async function build(state: LabState, topology: Topology, nodes: Array<[string, NodeSpec]>, links: LinkSpec[], added: Set<string>, handles: Handles, report: Report): Promise<void> {
  const lab = state.name
  const tasks: Array<Promise<unknown>> = []
  const track = (p: Promise<void>): Promise<void> => {
    tasks.push(p)
    return p
  }
  const gate = limiter(CONCURRENCY)
  let made = 0
  const ready = new Map<string, Promise<void>>()
  for (const [node, spec] of nodes) {
    ready.set(
      node,
      track(
        gate(async () => {
          await createNode(handles, netnsName(lab, node), spec)
          report('creating nodes', ++made, nodes.length)
        }),
      ),
    )
  }
  const exists = (node: string) => ready.get(node) ?? Promise.resolve()
  const bridged = (node: string) => BRIDGED.has(topology.nodes[node]!.kind)
  // Interface indexes: each end's differs from its peer's. The first end of a pair to come up has
  // no carrier yet, so it drops what it sends (and a bridge port stays disabled) until the kernel's
  // link watcher sees the carrier; it does that at once for a veth whose peer has another index,
  // but up to a second later when the indexes happen to be equal (the first ARP request of a ping
  // lost, answered a second later). Only in namespaces this run made, where we know what is taken:
  // lo, br0 and tap0 are below FIRST_INDEX.
  const nextIndex = new Map<string, number>()
  const take = (node: string, not?: number): number | undefined => {
    if (!added.has(node)) return undefined
    let i = nextIndex.get(node) ?? FIRST_INDEX
    if (i === not) i++
    nextIndex.set(node, i + 1)
    return i
  }
  const indexes = new Map<LinkSpec, [number | undefined, number | undefined]>()
  for (const link of links) {
    const a = take(link.endpoints[0].node)
    indexes.set(link, [a, take(link.endpoints[1].node, a)])
  }
  let linked = 0
  const firstRound = new Map<LinkSpec, Promise<void>>()
  /** What a node's addresses wait for: its links made, and up on its side. */
  const linksOf = new Map<string, Array<Promise<void>>>()
  const waitFor = (node: string, p: Promise<void>) => {
    const list = linksOf.get(node)
    if (list) list.push(p)
    else linksOf.set(node, [p])
  }
  for (const [from, group] of groupBy(links, (l) => l.endpoints[0].node)) {
    const round = track(
      (async () => {
        await Promise.all([exists(from), ...group.map((l) => exists(l.endpoints[1].node))])
        const nl = await handles.get(netnsName(lab, from))
        await nl.batch((b) => {
          for (const link of group) {
            const [a, z] = link.endpoints
            const [index, peerIndex] = indexes.get(link)!
            b.link.add({ name: a.interface, kind: 'veth', ...(index ? { index } : {}), peer: { name: z.interface, netns: netnsName(lab, z.node), ...(peerIndex ? { index: peerIndex } : {}) }, ...(bridged(a.node) ? { master: BRIDGE } : {}), up: true })
          }
        })
        report('creating links', (linked += group.length / 2), links.length)
      })(),
    )
    waitFor(from, round)
    for (const link of group) firstRound.set(link, round)
  }
  for (const [to, group] of groupBy(links, (l) => l.endpoints[1].node)) {
    const round = track(
      (async () => {
        await Promise.all(group.map((l) => firstRound.get(l)))
        const nl = await handles.get(netnsName(lab, to))
        await nl.batch((b) => {
          for (const { endpoints: [, z] } of group) b.link.set(z.interface, { ...(bridged(z.node) ? { master: BRIDGE } : {}), up: true })
        })
        report('creating links', (linked += group.length / 2), links.length)
      })(),
    )
    waitFor(to, round)
  }
  let configured = 0
  for (const node of added) {
    const spec = topology.nodes[node]!
    const iface = firstInterface(topology, node)
    track(
      (async () => {
        await Promise.all([exists(node), ...(linksOf.get(node) ?? [])])
        // A microVM's addresses and routes are the guest's (its image configures them).
        if (spec.kind !== 'microvm' && (spec.addresses?.length || spec.routes?.length)) {
          const nl = await handles.get(netnsName(lab, node))
          await nl.batch((b) => {
            for (const a of spec.addresses ?? []) b.addr.add(iface!, a)
            for (const r of spec.routes ?? []) b.route.add({ dst: r.to, gateway: r.via })
          })
        }
        report('configuring nodes', ++configured, added.size)
      })(),
    )
  }
  const failed = (await Promise.allSettled(tasks)).find((r) => r.status === 'rejected')
  if (failed) throw failed.reason
}

/**
 * What runs on the nodes: switches, DHCP clients
 * and microVM runners are started together and recorded in one state write right after, before
 * anything is awaited; slots and exec commands follow.
 */
async function configureNodes(state: LabState, topology: Topology, nodes: string[], handles: Handles, options: UpOptions, report: Report): Promise<void> {
  const dir = labDir(state.name)
  // microVM images first (a first run downloads the kernel): nothing is started before they exist.
  const vms = nodes.filter((n) => topology.nodes[n]!.kind === 'microvm')
  const images = new Map<string, { kernel: string; initramfs: string }>()
  for (const [i, node] of vms.entries()) {
    images.set(node, await vmImage(node, topology.nodes[node]!))
    report('preparing microVM images', i + 1, vms.length)
  }
  for (const node of nodes) {
    const record = state.nodes[node]!
    const { netns, spec } = record
    const iface = firstInterface(topology, node)
    if (spec.kind === 'nanoswitch') {
      const args = ['run', '--netns', netns, '--socket', join(dir, `${node}.sock`), '--lease-file', join(dir, `${node}.leases`)]
      if (spec.subnet) args.push('--subnet', spec.subnet)
      record.processes.push(startDetached(state, node, 'nanoswitch', binOf('@lab/nanoswitch', 'nanoswitch.js'), args))
    }
    if (spec.dhcp && spec.kind !== 'microvm') {
      record.processes.push(startDetached(state, node, `dhcp4 ${iface}`, binOf('@lab/dhcp4', 'lab-dhcp4.js'), ['client', '--netns', netns, '--interface', iface!, '--timeout', '3600']))
    }
    if (spec.kind === 'microvm') {
      const image = images.get(node)!
      record.processes.push(startDetached(state, node, 'microvm', runnerPath(), [JSON.stringify({ netns, tap: VM_TAP, ...image, memoryMiB: spec.memory ?? 256, socket: vmSocket(state.name, node) })]))
    }
  }
  writeState(state)
  for (const node of nodes) {
    const record = state.nodes[node]!
    if (record.spec.kind === 'slot') {
      record.slot = await addSlot(record.netns, firstInterface(topology, node))
      writeState(state)
    }
    if (record.spec.kind === 'microvm') continue // its exec commands run in the guest
    for (const command of record.spec.exec ?? []) {
      const code = await runIn(record.slot?.netns ?? record.netns, ['sh', '-c', command], 'pipe')
      if (code !== 0) throw new TopologyError(`nodes.${node}.exec: "${command}" exited with ${code}`, { path: `nodes.${node}.exec` })
    }
  }
}

function startDetached(state: LabState, node: string, role: string, bin: string, args: string[]): ProcessRecord {
  const log = join(labDir(state.name), `${node}.${role.replace(/\s+/g, '-')}.log`)
  const fd = openSync(log, 'a')
  try {
    // Its own process group (detached), so `lab down` signals it and whatever it started.
    const child = spawn(process.execPath, [bin, ...args], { detached: true, stdio: ['ignore', fd, fd] })
    child.unref()
    const pid = child.pid!
    return { role, pid, start: processStart(pid) ?? '', log }
  } finally {
    closeSync(fd)
  }
}

/** Waits for DHCP nodes' leases and microVMs' `LAB:ready`, all at once. */
async function waitForNodes(state: LabState, topology: Topology, added: Set<string>, handles: Handles, options: UpOptions, report: Report): Promise<void> {
  const timeoutMs = options.dhcpTimeoutMs ?? 30_000
  const leasing = [...added].filter((n) => topology.nodes[n]!.dhcp && topology.nodes[n]!.kind !== 'microvm')
  const vms = [...added].filter((n) => topology.nodes[n]!.kind === 'microvm')
  if (leasing.length > 0) report('waiting for DHCP leases', 0, leasing.length)
  if (vms.length > 0) report('waiting for microVMs', 0, vms.length)
  const deadline = Date.now() + timeoutMs
  let leased = 0
  let booted = 0
  await Promise.all([
    ...leasing.map(async (node) => {
      const iface = firstInterface(topology, node)!
      const nl = await handles.get(state.nodes[node]!.netns)
      while ((await nl.addr.list({ link: iface, family: 4 })).length === 0) {
        if (Date.now() > deadline) throw new TopologyError(`nodes.${node}.dhcp: no lease on ${iface} within ${timeoutMs / 1000} s (see ${labDir(state.name)})`, { code: 'LAB_ERR_DHCP_TIMEOUT' })
        await new Promise((r) => setTimeout(r, 100))
      }
      report('waiting for DHCP leases', ++leased, leasing.length)
    }),
    ...vms.map(async (node) => {
      // Booting under TCG takes about 2 s, a DHCP lease inside a little more.
      await waitForVm(state.nodes[node]!, node, Date.now() + Math.max(timeoutMs, 60_000))
      report('waiting for microVMs', ++booted, vms.length)
    }),
  ])
}

async function stopProcess(p: ProcessRecord): Promise<void> {
  if (!processAlive(p)) return
  try {
    process.kill(-p.pid, 'SIGTERM')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error
  }
  for (let i = 0; i < 50 && processAlive(p); i++) await new Promise((r) => setTimeout(r, 100))
  if (processAlive(p)) {
    try {
      process.kill(-p.pid, 'SIGKILL')
    } catch (error) {
      // Exited between the check and the signal: stopped, as asked.
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error
    }
  }
}

/**
 * Stops a node's processes and deletes its namespace and every namespace named after it
 * (`LAB-NODE-…`: a slot node's slot), also those a killed `lab up` made but never recorded.
 */
async function removeNode(state: LabState, node: string, namespaces?: string[]): Promise<void> {
  const record = state.nodes[node]!
  await Promise.all(record.processes.map(stopProcess))
  const children = (namespaces ?? (await Netns.list())).filter((n) => n.startsWith(`${record.netns}-`))
  await Promise.all([...[record.netns, ...children].map((n) => Netns.destroy(n)), rm(`/etc/netns/${record.netns}`, { recursive: true, force: true })])
  delete state.nodes[node]
}

/** Removes a lab: stops its processes, deletes its namespaces (and with them its links), forgets it. */
export async function down(name: string): Promise<string[]> {
  const state = requireState(name)
  const nodes = Object.keys(state.nodes)
  // Every process is asked to stop at once: each may take a second or two to stop cleanly.
  await Promise.all(Object.values(state.nodes).flatMap((n) => n.processes.map(stopProcess)))
  const namespaces = await Netns.list()
  await each(nodes, CONCURRENCY, (node) => removeNode(state, node, namespaces))
  removeState(name)
  return nodes
}

export interface NodeStatus {
  node: string
  kind: string
  netns: string
  up: boolean
  interfaces: Array<{ name: string; up: boolean; addresses: string[]; qdisc?: string }>
  processes: Array<{ role: string; pid: number; running: boolean }>
  /** microvm: the guest's eth0 addresses (its DHCP lease, or the static one). */
  guest?: { interface: 'eth0'; addresses: string[] }
  /** slot: the slot @lab/slots made behind the node. */
  slot?: SlotRecord
}

export interface LabStatus {
  name: string
  file?: string
  nodes: NodeStatus[]
  links: Array<{ endpoints: string[]; impairment?: Impairment }>
}

export async function status(name: string): Promise<LabStatus> {
  const state = requireState(name)
  const nodes: NodeStatus[] = []
  for (const [node, record] of Object.entries(state.nodes)) {
    const s: NodeStatus = { node, kind: record.spec.kind, netns: record.netns, up: Netns.exists(record.netns), interfaces: [], processes: record.processes.map((p) => ({ role: p.role, pid: p.pid, running: processAlive(p) })) }
    if (s.up) {
      await using nl = await Netlink.open({ netns: record.netns })
      const addrs = await nl.addr.list()
      const qdiscs = await nl.qdisc.list()
      for (const link of await nl.link.list()) {
        if (link.name === 'lo') continue
        const q = qdiscs.find((x) => x.index === link.index && x.parent === 'root' && (x.kind === 'netem' || x.kind === 'tbf'))
        s.interfaces.push({ name: link.name, up: link.up, addresses: addrs.filter((a) => a.index === link.index && a.scope === 0).map((a) => a.cidr), ...(q ? { qdisc: q.kind } : {}) })
      }
    }
    if (record.spec.kind === 'microvm') s.guest = { interface: 'eth0', addresses: guestAddresses(record) }
    if (record.slot) s.slot = record.slot
    nodes.push(s)
  }
  const links = Object.values(state.links).map((l) => ({ endpoints: l.spec.endpoints.map((e) => `${e.node}:${e.interface}`), ...(l.impairment && Object.keys(l.impairment).length ? { impairment: l.impairment } : {}) }))
  return { name, file: state.file, nodes, links }
}

/** Changes one interface's impairment at run time (`lab impair NAME NODE:IFACE delay=50ms`). */
export async function impair(name: string, target: string, impairment: Impairment): Promise<void> {
  const state = requireState(name)
  const [node, iface] = target.split(':')
  const record = node ? state.nodes[node] : undefined
  if (!record || !iface) throw new TopologyError(`${target}: no such NODE:INTERFACE in lab ${name}`, { code: 'LAB_ERR_NO_NODE' })
  if (impairment.delay) parseDuration(impairment.delay)
  await applyImpairment(record.netns, iface, impairment)
  for (const link of Object.values(state.links)) {
    if (link.spec.endpoints.some((e) => e.node === node && e.interface === iface)) link.impairment = impairment
  }
  writeState(state)
}

/** Runs a command in a node's namespace with the caller's stdio; resolves to its exit code. */
export function runIn(netns: string, argv: string[], stdio: 'inherit' | 'pipe' = 'inherit'): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const child = spawnInNetns(netns, argv[0]!, argv.slice(1), { stdio: stdio === 'pipe' ? ['ignore', 'ignore', 'inherit'] : 'inherit' })
    child.once('error', reject)
    child.once('exit', (code, signal) => resolvePromise(code ?? (signal ? 128 : 1)))
  })
}

export async function exec(name: string, node: string, argv: string[]): Promise<number> {
  const state = requireState(name)
  const record = state.nodes[node]
  if (!record) throw new TopologyError(`no node ${node} in lab ${name} (nodes: ${Object.keys(state.nodes).join(', ')})`, { code: 'LAB_ERR_NO_NODE' })
  if (record.spec.kind === 'microvm') {
    // In the guest, through its console shell: output arrives when the command has ended.
    const { status: code, output } = await vmExec(name, node, shellLine(argv))
    process.stdout.write(output.replace(/\r\n/g, '\n'))
    return code
  }
  return runIn(record.slot?.netns ?? record.netns, argv)
}
