// Building, converging and removing a lab. Every node is a network namespace named
// `<lab>-<node>`; links are veth pairs between them with the endpoints' interface names; a bridge
// node holds a Linux bridge `br0`, a nanoswitch node runs @lab/nanoswitch.
//
// Long-running parts (a nanoswitch, DHCP clients) run as detached child processes, their pids in the
// state file: `lab up` is a command that exits, so an in-process RunningSwitch would die with it,
// and a daemon of our own would be one more thing to supervise. A detached process outlives
// `lab up` (also a kill -9 of it), and `lab down` stops it by its recorded pid and start time.
import { spawn } from 'node:child_process'
import { mkdirSync, openSync, closeSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, resolve } from 'node:path'
import { Netlink, Netns, isNotFound, parseDuration, spawnInNetns, type Logger } from '@lab/netlink-native'
import { TopologyError } from './errors.js'
import { applyImpairment } from './impairment.js'
import { labDir, processAlive, processStart, readState, removeState, requireState, writeState, type LabState, type ProcessRecord } from './state.js'
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
  phase: 'removing links' | 'removing nodes' | 'creating nodes' | 'creating links' | 'configuring nodes' | 'impairing links' | 'waiting for DHCP leases'
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

/**
 * Makes the lab match the topology: creates what is missing, removes what the file no longer has,
 * recreates nodes whose settings changed and re-applies changed impairments. Returns what it did.
 */
export async function up(topology: Topology, options: UpOptions = {}): Promise<UpResult> {
  const actions: string[] = []
  const say = (line: string) => void actions.push(line)
  const report = (phase: UpProgress['phase'], done: number, total: number) => options.onProgress?.({ phase, done, total })
  const name = topology.name
  const state: LabState = readState(name) ?? { name, format: topology.format, nodes: {}, links: {} }
  if (options.file) state.file = resolve(options.file)
  state.format = topology.format
  mkdirSync(labDir(name), { recursive: true })

  const desiredLinks = new Map(topology.links.map((l) => [linkKey(l), l]))
  // A node is recreated when its settings or its first interface (where addresses go) changed.
  const changed = (node: string) => {
    const old = state.nodes[node]
    if (!old) return false
    const oldFirst = firstInterface({ links: Object.values(state.links).map((l) => l.spec) }, node)
    return !sameJson(old.spec, topology.nodes[node]) || oldFirst !== firstInterface(topology, node)
  }
  const recreate = new Set(Object.keys(state.nodes).filter((n) => topology.nodes[n] && changed(n)))

  // Removal first: links, then nodes (a namespace takes its veth ends with it).
  const touchesRecreated = (link: LinkSpec) => link.endpoints.some((e) => recreate.has(e.node) || !topology.nodes[e.node])
  const oldLinks = Object.entries(state.links).filter(([key, link]) => !desiredLinks.has(key) || touchesRecreated(link.spec))
  for (const [i, [key, link]] of oldLinks.entries()) {
    const wanted = desiredLinks.get(key)
    if (!touchesRecreated(link.spec)) await deleteLink(name, link.spec)
    delete state.links[key]
    writeState(state)
    if (!touchesRecreated(link.spec) || wanted === undefined) say(`removed link ${key.replace('--', ' <-> ')}`)
    report('removing links', i + 1, oldLinks.length)
  }
  const oldNodes = Object.keys(state.nodes).filter((node) => !topology.nodes[node] || recreate.has(node))
  for (const [i, node] of oldNodes.entries()) {
    await removeNode(state, node)
    writeState(state)
    if (!recreate.has(node)) say(`removed node ${node}`)
    report('removing nodes', i + 1, oldNodes.length)
  }

  // Then creation: nodes, links, then what runs on the nodes.
  const added = new Set<string>()
  const newNodes = Object.entries(topology.nodes).filter(([node]) => !state.nodes[node])
  for (const [node, spec] of newNodes) {
    const netns = netnsName(name, node)
    state.nodes[node] = { netns, spec, processes: [] }
    writeState(state) // before the namespace exists: a kill from here on leaves it recorded
    await createNode(netns, spec)
    added.add(node)
    say(`${recreate.has(node) ? 'recreated' : 'added'} node ${node} (${spec.kind}, netns ${netns})`)
    report('creating nodes', added.size, newNodes.length)
  }
  const newLinks = [...desiredLinks].filter(([key]) => !state.links[key])
  for (const [i, [key, link]] of newLinks.entries()) {
    state.links[key] = { spec: link }
    writeState(state)
    await createLink(name, topology, link)
    say(`added link ${key.replace('--', ' <-> ')}`)
    report('creating links', i + 1, newLinks.length)
  }
  for (const [i, node] of [...added].entries()) {
    await configureNode(state, topology, node)
    report('configuring nodes', i + 1, added.size)
  }
  writeState(state)

  // Impairments: compared with what the interfaces hold now.
  const reimpaired = [...desiredLinks].filter(([key, link]) => !sameJson(state.links[key]!.impairment ?? {}, link.impairment ?? {}))
  for (const [i, [key, link]] of reimpaired.entries()) {
    const current = state.links[key]!
    for (const e of link.endpoints) await applyImpairment(netnsName(name, e.node), e.interface, link.impairment)
    current.impairment = link.impairment
    writeState(state)
    say(`${link.impairment && Object.keys(link.impairment).length ? 'impaired' : 'cleared impairment of'} link ${key.replace('--', ' <-> ')}${link.impairment ? ` ${formatImpairment(link.impairment)}` : ''}`)
    report('impairing links', i + 1, reimpaired.length)
  }

  await waitForDhcp(state, topology, added, options, report)
  return { name, actions }
}

export function formatImpairment(i: Impairment): string {
  return Object.entries(i)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ')
}

async function createNode(netns: string, spec: NodeSpec): Promise<void> {
  // An empty resolv.conf of its own: `ip netns exec` mounts it over /etc/resolv.conf, so nothing
  // a user runs there (a DHCP client's script) rewrites the host's.
  mkdirSync(`/etc/netns/${netns}`, { recursive: true })
  writeFileSync(`/etc/netns/${netns}/resolv.conf`, '')
  await Netns.add(netns)
  await using nl = await Netlink.open({ netns })
  await nl.link.set('lo', { up: true })
  if (spec.kind === 'bridge') await nl.link.add({ name: BRIDGE, kind: 'bridge', up: true })
}

async function createLink(lab: string, topology: Topology, link: LinkSpec): Promise<void> {
  const [a, b] = link.endpoints
  const nsA = netnsName(lab, a.node)
  const nsB = netnsName(lab, b.node)
  {
    await using nl = await Netlink.open({ netns: nsA })
    await nl.link.add({ name: a.interface, kind: 'veth', peer: { name: b.interface, netns: nsB } })
  }
  for (const e of link.endpoints) {
    await using nl = await Netlink.open({ netns: netnsName(lab, e.node) })
    if (topology.nodes[e.node]!.kind === 'bridge') await nl.link.set(e.interface, { master: BRIDGE })
    await nl.link.set(e.interface, { up: true })
  }
}

async function deleteLink(lab: string, link: LinkSpec): Promise<void> {
  const a = link.endpoints[0]
  try {
    await using nl = await Netlink.open({ netns: netnsName(lab, a.node) })
    await nl.link.del(a.interface)
  } catch (error) {
    // Already gone (its namespace went, or someone deleted it): what removal asks for.
    if (!isNotFound(error) && (error as { code?: string }).code !== 'ENODEV') throw error
  }
}

async function configureNode(state: LabState, topology: Topology, node: string): Promise<void> {
  const record = state.nodes[node]!
  const { netns, spec } = record
  const iface = firstInterface(topology, node)
  if (spec.addresses?.length || spec.routes?.length) {
    if (!iface) throw new TopologyError(`nodes.${node}: addresses and routes need a link to the node`, { path: `nodes.${node}` })
    await using nl = await Netlink.open({ netns })
    for (const a of spec.addresses ?? []) await nl.addr.add(iface, a)
    for (const r of spec.routes ?? []) await nl.route.add({ dst: r.to, gateway: r.via })
  }
  if (spec.kind === 'nanoswitch') {
    const args = ['run', '--netns', netns, '--socket', join(labDir(state.name), `${node}.sock`), '--lease-file', join(labDir(state.name), `${node}.leases`)]
    if (spec.subnet) args.push('--subnet', spec.subnet)
    record.processes.push(startDetached(state, node, 'nanoswitch', binOf('@lab/nanoswitch', 'nanoswitch.js'), args))
    writeState(state)
  }
  if (spec.dhcp) {
    if (!iface) throw new TopologyError(`nodes.${node}.dhcp: needs a link to the node`, { path: `nodes.${node}.dhcp` })
    record.processes.push(startDetached(state, node, `dhcp4 ${iface}`, binOf('@lab/dhcp4', 'lab-dhcp4.js'), ['client', '--netns', netns, '--interface', iface, '--timeout', '3600']))
    writeState(state)
  }
  for (const command of spec.exec ?? []) {
    const code = await runIn(netns, ['sh', '-c', command], 'pipe')
    if (code !== 0) throw new TopologyError(`nodes.${node}.exec: "${command}" exited with ${code}`, { path: `nodes.${node}.exec` })
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

async function waitForDhcp(state: LabState, topology: Topology, added: Set<string>, options: UpOptions, report: (phase: UpProgress['phase'], done: number, total: number) => void): Promise<void> {
  const waiting = [...added].filter((n) => topology.nodes[n]!.dhcp)
  if (waiting.length === 0) return
  const deadline = Date.now() + (options.dhcpTimeoutMs ?? 30_000)
  report('waiting for DHCP leases', 0, waiting.length)
  for (const [i, node] of waiting.entries()) {
    const iface = firstInterface(topology, node)!
    await using nl = await Netlink.open({ netns: state.nodes[node]!.netns })
    for (;;) {
      const addrs = await nl.addr.list({ link: iface, family: 4 })
      if (addrs.length > 0) {
        report('waiting for DHCP leases', i + 1, waiting.length)
        break
      }
      if (Date.now() > deadline) throw new TopologyError(`nodes.${node}.dhcp: no lease on ${iface} within ${(options.dhcpTimeoutMs ?? 30_000) / 1000} s (see ${labDir(state.name)})`, { code: 'LAB_ERR_DHCP_TIMEOUT' })
      await new Promise((r) => setTimeout(r, 100))
    }
  }
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

async function removeNode(state: LabState, node: string): Promise<void> {
  const record = state.nodes[node]!
  for (const p of record.processes) await stopProcess(p)
  await Netns.destroy(record.netns)
  rmSync(`/etc/netns/${record.netns}`, { recursive: true, force: true })
  delete state.nodes[node]
}

/** Removes a lab: stops its processes, deletes its namespaces (and with them its links), forgets it. */
export async function down(name: string): Promise<string[]> {
  const state = requireState(name)
  const removed: string[] = []
  // Every process is asked to stop at once: each may take a second or two to stop cleanly.
  await Promise.all(Object.values(state.nodes).flatMap((n) => n.processes.map(stopProcess)))
  for (const node of Object.keys(state.nodes)) {
    await removeNode(state, node)
    writeState(state)
    removed.push(node)
  }
  removeState(name)
  return removed
}

export interface NodeStatus {
  node: string
  kind: string
  netns: string
  up: boolean
  interfaces: Array<{ name: string; up: boolean; addresses: string[]; qdisc?: string }>
  processes: Array<{ role: string; pid: number; running: boolean }>
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
  return runIn(record.netns, argv)
}
