// The topology file: YAML (ours, or containerlab's) parsed and validated into a Topology before
// anything is created. Every error names the path of the bad field and its line:
// `nodes.h1.kind: unknown kind "nets" (line 4), expected one of netns, bridge, nanoswitch`.
import { readFileSync } from 'node:fs'
import { LineCounter, isCollection, isMap, isSeq, parseDocument, visit, type Document } from 'yaml'
import { parseCidr, parseDuration, parseIp, parsePercent, parseRate } from '@lab/netlink-native'
import { TopologyError } from './errors.js'

export const NODE_KINDS = ['netns', 'bridge', 'nanoswitch', 'microvm', 'slot'] as const
export type NodeKind = (typeof NODE_KINDS)[number]

export interface RouteSpec {
  to: string
  via?: string
}

export interface NodeSpec {
  kind: NodeKind
  /** Static addresses on the node's first link interface. */
  addresses?: string[]
  routes?: RouteSpec[]
  /** Run our DHCPv4 client (@lab/dhcp4) on the node's first link interface. */
  dhcp?: boolean
  /** nanoswitch: the switch's address on its bridge (default 10.1.0.1/24). */
  subnet?: string
  /**
   * Shell commands run in the node's namespace once it is up (containerlab's `exec`); for a
   * microVM, in the guest once its network is up; for a slot, in the slot's namespace.
   */
  exec?: string[]
  /** microvm: guest memory in MiB (default 256). */
  memory?: number
}

export interface Impairment {
  delay?: string
  jitter?: string
  loss?: string
  duplicate?: string
  reorder?: string
  corrupt?: string
  rate?: string
}
export const IMPAIRMENT_KEYS = ['delay', 'jitter', 'loss', 'duplicate', 'reorder', 'corrupt', 'rate'] as const

export interface Endpoint {
  node: string
  interface: string
}

export interface LinkSpec {
  endpoints: [Endpoint, Endpoint]
  impairment?: Impairment
}

export interface Topology {
  name: string
  nodes: Record<string, NodeSpec>
  links: LinkSpec[]
  /** Keys of a containerlab file that mean nothing here, by path (reported, not silently dropped). */
  unsupported: string[]
  format: 'lab' | 'containerlab'
}

export const LAB_NAME = /^[a-z0-9][a-z0-9_]{0,11}$/i
const NODE_NAME = /^[a-z0-9][a-z0-9_]{0,30}$/i
const IFNAME = /^[a-z0-9][a-z0-9_.]{0,14}$/i

/** A link's identity across runs: its two endpoints, in order. */
export function linkKey(link: LinkSpec): string {
  return link.endpoints.map((e) => `${e.node}:${e.interface}`).join('--')
}

export function loadTopology(file: string, options: { name?: string } = {}): Topology {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    throw new TopologyError(`${file}: ${(error as Error).message}`, { code: 'LAB_ERR_TOPOLOGY_FILE', cause: error })
  }
  return parseTopology(text, options)
}

type Path = Array<string | number>

class Checker {
  constructor(
    readonly doc: Document,
    readonly lines: LineCounter,
  ) {}

  /** The line of the value at `path`, or of its nearest ancestor the file has. */
  line(path: Path): number | undefined {
    for (let n = path.length; n >= 0; n--) {
      const node = this.doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined
      if (node?.range) return this.lines.linePos(node.range[0]).line
    }
    return undefined
  }

  /** The line of the key `path`'s last element (for unknown keys). */
  keyLine(path: Path): number | undefined {
    const parent = this.doc.getIn(path.slice(0, -1), true)
    if (isMap(parent)) {
      for (const pair of parent.items) {
        const key = pair.key as { value?: unknown; range?: [number, number, number] }
        if (key?.value === path[path.length - 1] && key.range) return this.lines.linePos(key.range[0]).line
      }
    }
    return this.line(path)
  }

  fail(path: Path, message: string, key = false): never {
    // A key with spaces, quotes or line breaks is quoted, so the message stays one line (found by
    // the property tests).
    const at = path.map((p) => (typeof p === 'string' && /[\s"]/.test(p) ? JSON.stringify(p) : p)).join('.')
    const line = key ? this.keyLine(path) : this.line(path)
    throw new TopologyError(`${at}: ${message}${line ? ` (line ${line})` : ''}`, { path: at, line })
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

export function parseTopology(text: string, options: { name?: string } = {}): Topology {
  const lines = new LineCounter()
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false })
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!
    const line = e.linePos?.[0]?.line
    throw new TopologyError(`invalid YAML: ${e.message.split('\n')[0]}${line ? ` (line ${line})` : ''}`, { line })
  }
  // Found by the property tests: a mapping or list as a key (`? { a: 1 }`) became a multi-line
  // string key, with a warning printed by yaml; keys here are names.
  let complexKey: { range?: [number, number, number] | null } | undefined
  visit(doc, {
    Pair(_, pair) {
      if (!isCollection(pair.key)) return undefined
      complexKey = pair.key
      return visit.BREAK
    },
  })
  if (complexKey) {
    const line = complexKey.range ? lines.linePos(complexKey.range[0]).line : undefined
    throw new TopologyError(`invalid YAML: a mapping or list as a key${line ? ` (line ${line})` : ''}`, { line })
  }
  const c: Checker = new Checker(doc, lines)
  let root: unknown
  try {
    root = doc.toJS()
  } catch (error) {
    // Found by the property tests: an alias whose anchor is not set (`*a`), or more aliases than
    // toJS allows, threw a ReferenceError out of parseTopology.
    throw new TopologyError(`invalid YAML: ${(error as Error).message.split('\n')[0]}`, { cause: error })
  }
  if (!isObject(root)) c.fail([], 'expected a mapping with name, nodes and links')
  if (isObject(root.topology)) return containerlab(c, root, options)
  return ours(c, root, options)
}

function checkKeys(c: Checker, path: Path, value: Record<string, unknown>, allowed: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) c.fail([...path, key], `unknown key, expected one of ${allowed.join(', ')}`, true)
  }
}

function labName(c: Checker, root: Record<string, unknown>, override: string | undefined): string {
  const name = override ?? root.name
  if (typeof name !== 'string' || !LAB_NAME.test(name)) {
    c.fail(['name'], `expected a lab name of 1 to 12 letters, digits or _ (it prefixes every namespace), got ${JSON.stringify(name)}`)
  }
  return name
}

function ours(c: Checker, root: Record<string, unknown>, options: { name?: string }): Topology {
  checkKeys(c, [], root, ['name', 'nodes', 'links'])
  const name = labName(c, root, options.name)
  if (!isObject(root.nodes)) c.fail(['nodes'], 'expected a mapping of node names to nodes')
  const nodes: Record<string, NodeSpec> = {}
  for (const [node, raw] of Object.entries(root.nodes)) nodes[node] = nodeSpec(c, ['nodes', node], node, raw)
  const links = linkList(c, root.links, nodes, false)
  for (const [node, spec] of Object.entries(nodes)) {
    const linked = links.some((l) => l.endpoints.some((e) => e.node === node))
    if (!linked && spec.kind === 'slot') c.fail(['nodes', node], 'a slot node needs a link: its first link end is the slot host\'s uplink', true)
    if (!linked && (spec.addresses || spec.routes || spec.dhcp)) c.fail(['nodes', node], 'addresses, routes and dhcp need a link to the node', true)
  }
  return { name, nodes, links, unsupported: [], format: 'lab' }
}

function nodeSpec(c: Checker, path: Path, node: string, raw: unknown): NodeSpec {
  if (!NODE_NAME.test(node)) c.fail(path, 'a node name is 1 to 31 letters, digits or _', true)
  if (!isObject(raw)) c.fail(path, 'expected a mapping such as { kind: netns }')
  const kind = raw.kind
  if (typeof kind !== 'string' || !(NODE_KINDS as readonly string[]).includes(kind)) {
    c.fail([...path, 'kind'], `unknown kind ${JSON.stringify(kind)}, expected one of ${NODE_KINDS.join(', ')}`)
  }
  const allowed: Record<NodeKind, string[]> = {
    netns: ['kind', 'addresses', 'routes', 'dhcp', 'exec'],
    bridge: ['kind', 'exec'],
    nanoswitch: ['kind', 'subnet', 'uplink', 'exec'],
    microvm: ['kind', 'addresses', 'routes', 'dhcp', 'memory', 'exec'],
    slot: ['kind', 'addresses', 'routes', 'dhcp', 'exec'],
  }
  checkKeys(c, path, raw, allowed[kind as NodeKind])
  const spec: NodeSpec = { kind: kind as NodeKind }
  if (raw.uplink !== undefined && raw.uplink !== 'none') c.fail([...path, 'uplink'], 'only "none" is supported: a lab switch has no uplink')
  if (raw.subnet !== undefined) spec.subnet = cidr(c, [...path, 'subnet'], raw.subnet)
  if (raw.addresses !== undefined) {
    if (!Array.isArray(raw.addresses)) c.fail([...path, 'addresses'], 'expected a list of addresses such as [10.9.0.2/24]')
    spec.addresses = raw.addresses.map((a, i) => cidr(c, [...path, 'addresses', i], a))
  }
  if (raw.routes !== undefined) {
    if (!Array.isArray(raw.routes)) c.fail([...path, 'routes'], 'expected a list such as [{ to: default, via: 10.9.0.1 }]')
    spec.routes = raw.routes.map((r, i) => route(c, [...path, 'routes', i], r))
  }
  if (raw.dhcp !== undefined) {
    if (typeof raw.dhcp !== 'boolean') c.fail([...path, 'dhcp'], 'expected true or false')
    if (raw.dhcp) spec.dhcp = true
  }
  if (raw.exec !== undefined) spec.exec = commands(c, [...path, 'exec'], raw.exec)
  if (raw.memory !== undefined) {
    if (typeof raw.memory !== 'number' || !Number.isInteger(raw.memory) || raw.memory < 64 || raw.memory > 65536) c.fail([...path, 'memory'], `expected guest memory in MiB, an integer from 64 to 65536, got ${JSON.stringify(raw.memory)}`)
    spec.memory = raw.memory
  }
  if (kind === 'microvm') {
    // The guest's one NIC is configured by its image: one address, a default route at most.
    if ((spec.addresses?.length ?? 0) > 1) c.fail([...path, 'addresses'], 'a microVM takes one address (its eth0)')
    if (spec.dhcp && spec.addresses?.length) c.fail([...path, 'dhcp'], 'a microVM takes dhcp or a static address, not both')
    spec.routes?.forEach((r, i) => {
      if (r.to !== 'default' || !r.via) c.fail([...path, 'routes', i], 'a microVM takes only { to: default, via: IP }')
    })
    if ((spec.routes?.length ?? 0) > 1) c.fail([...path, 'routes'], 'a microVM takes one default route')
  }
  return spec
}

function cidr(c: Checker, path: Path, value: unknown): string {
  try {
    if (typeof value !== 'string' || !value.includes('/')) throw new Error('no prefix length')
    parseCidr(value, path.join('.'))
    return value
  } catch {
    return c.fail(path, `expected an address with its prefix length such as 10.9.0.2/24, got ${JSON.stringify(value)}`)
  }
}

function route(c: Checker, path: Path, raw: unknown): RouteSpec {
  if (!isObject(raw)) c.fail(path, 'expected { to: default | CIDR, via: IP }')
  checkKeys(c, path, raw, ['to', 'via'])
  const to = raw.to
  if (to !== 'default') cidr(c, [...path, 'to'], to)
  const r: RouteSpec = { to: to as string }
  if (raw.via !== undefined) {
    try {
      parseIp(String(raw.via))
    } catch {
      c.fail([...path, 'via'], `expected an IP address, got ${JSON.stringify(raw.via)}`)
    }
    r.via = String(raw.via)
  }
  return r
}

function commands(c: Checker, path: Path, raw: unknown): string[] {
  if (!Array.isArray(raw) || raw.some((x) => typeof x !== 'string')) c.fail(path, 'expected a list of shell commands')
  return raw as string[]
}

function endpoint(c: Checker, path: Path, raw: unknown, nodes: Record<string, NodeSpec>): Endpoint {
  const m = typeof raw === 'string' ? /^([^:]+):(.+)$/.exec(raw) : null
  if (!m) c.fail(path, `expected NODE:INTERFACE such as h1:eth1, got ${JSON.stringify(raw)}`)
  const [, node, iface] = m
  // Own keys only: found by the property tests, `constructor:eth1` named Object's constructor.
  if (!Object.hasOwn(nodes, node!)) c.fail(path, `no node named "${node}" (nodes: ${Object.keys(nodes).join(', ')})`)
  if (!IFNAME.test(iface!) || iface === 'lo') c.fail(path, `"${iface}" is not a usable interface name (1 to 15 letters, digits, _ or .)`)
  return { node: node!, interface: iface! }
}

function impairment(c: Checker, path: Path, raw: unknown): Impairment {
  if (!isObject(raw)) c.fail(path, 'expected a mapping such as { delay: 20ms, loss: 1% }')
  checkKeys(c, path, raw, IMPAIRMENT_KEYS)
  return checkImpairment(raw, (key, message) => c.fail([...path, key], message))
}

/** Checks impairment values (also `lab impair`'s key=value pairs); `fail` names the bad key. */
export function checkImpairment(raw: Record<string, unknown>, fail: (key: string, message: string) => never): Impairment {
  const out: Impairment = {}
  const parsers: Record<string, (v: string) => unknown> = {
    delay: (v) => parseDuration(v),
    jitter: (v) => parseDuration(v),
    loss: (v) => parsePercent(v),
    duplicate: (v) => parsePercent(v),
    reorder: (v) => parsePercent(v),
    corrupt: (v) => parsePercent(v),
    rate: (v) => parseRate(v),
  }
  const examples: Record<string, string> = { delay: '20ms', jitter: '5ms', loss: '1%', duplicate: '1%', reorder: '25%', corrupt: '0.1%', rate: '100mbit' }
  for (const [key, value] of Object.entries(raw)) {
    const parse = parsers[key]
    if (!parse) fail(key, `unknown impairment, expected one of ${IMPAIRMENT_KEYS.join(', ')}`)
    try {
      if (typeof value !== 'string') throw new Error('not a string')
      parse(value)
    } catch {
      fail(key, `bad ${key} ${JSON.stringify(value)}, expected a value such as ${examples[key]}`)
    }
    out[key as keyof Impairment] = value as string
  }
  if (out.jitter && !out.delay) fail('jitter', 'jitter needs a delay')
  if (out.reorder && !out.delay) fail('reorder', 'reorder needs a delay')
  return out
}

function linkList(c: Checker, raw: unknown, nodes: Record<string, NodeSpec>, clab: boolean): LinkSpec[] {
  if (raw === undefined) return []
  if (!Array.isArray(raw)) c.fail(['links'], 'expected a list of links such as - endpoints: [sw:p1, h1:eth1]')
  const seen = new Map<string, string>()
  return raw.map((l, i) => {
    const path: Path = ['links', i]
    if (!isObject(l)) c.fail(path, 'expected a mapping with endpoints')
    if (!clab) checkKeys(c, path, l, ['endpoints', 'impairment'])
    if (!Array.isArray(l.endpoints) || l.endpoints.length !== 2) c.fail([...path, 'endpoints'], 'expected two endpoints such as [sw:p1, h1:eth1]')
    const endpoints = l.endpoints.map((e, j) => {
      const ep = endpoint(c, [...path, 'endpoints', j], e, nodes)
      const key = `${ep.node}:${ep.interface}`
      const other = seen.get(key)
      if (other) c.fail([...path, 'endpoints', j], `duplicate interface ${key} (also at ${other})`)
      seen.set(key, `links.${i}.endpoints.${j}`)
      return ep
    }) as [Endpoint, Endpoint]
    const link: LinkSpec = { endpoints }
    if (!clab && l.impairment !== undefined) link.impairment = impairment(c, [...path, 'impairment'], l.impairment)
    return link
  })
}

// containerlab (https://containerlab.dev/manual/topo-def-file/): the parts that mean the same here.
const CLAB_KINDS: Record<string, NodeKind> = { linux: 'netns', bridge: 'bridge', 'ovs-bridge': 'bridge' }

function containerlab(c: Checker, root: Record<string, unknown>, options: { name?: string }): Topology {
  const unsupported: string[] = []
  for (const key of Object.keys(root)) if (!['name', 'topology'].includes(key)) unsupported.push(key)
  const name = labName(c, root, options.name)
  const topo = root.topology as Record<string, unknown>
  for (const key of Object.keys(topo)) if (!['nodes', 'links', 'kinds', 'defaults'].includes(key)) unsupported.push(`topology.${key}`)
  for (const key of ['kinds', 'defaults']) if (topo[key] !== undefined) unsupported.push(`topology.${key}`)
  if (!isObject(topo.nodes)) c.fail(['topology', 'nodes'], 'expected a mapping of node names to nodes')
  const nodes: Record<string, NodeSpec> = {}
  for (const [node, raw] of Object.entries(topo.nodes)) {
    const path: Path = ['topology', 'nodes', node]
    if (!NODE_NAME.test(node)) c.fail(path, 'a node name is 1 to 31 letters, digits or _ here', true)
    if (!isObject(raw)) c.fail(path, 'expected a mapping such as { kind: linux }')
    // Own keys only, of a string: `kind: constructor` must not find Object's, and a mapping has no text.
    const kind = typeof raw.kind === 'string' && Object.hasOwn(CLAB_KINDS, raw.kind) ? CLAB_KINDS[raw.kind] : undefined
    if (!kind) c.fail([...path, 'kind'], `containerlab kind ${JSON.stringify(raw.kind)} is not supported, expected one of ${Object.keys(CLAB_KINDS).join(', ')}`)
    const spec: NodeSpec = { kind }
    for (const key of Object.keys(raw)) {
      if (key === 'kind') continue
      if (key === 'exec') spec.exec = commands(c, [...path, 'exec'], raw.exec)
      else unsupported.push(`topology.nodes.${node}.${key}`)
    }
    nodes[node] = spec
  }
  const rawLinks = topo.links
  if (Array.isArray(rawLinks)) {
    rawLinks.forEach((l, i) => {
      if (isObject(l)) for (const key of Object.keys(l)) if (key !== 'endpoints') unsupported.push(`topology.links.${i}.${key}`)
    })
  }
  // Paths below are reported as links.N.endpoints.M: rewrite them to the containerlab nesting.
  const links = linkList(new PrefixedChecker(c, ['topology']), rawLinks, nodes, true)
  return { name, nodes, links, unsupported, format: 'containerlab' }
}

/** A Checker whose paths live under a prefix in the document (containerlab's `topology:`). */
class PrefixedChecker extends Checker {
  constructor(
    inner: Checker,
    readonly prefix: Path,
  ) {
    super(inner.doc, inner.lines)
  }
  override fail(path: Path, message: string, key = false): never {
    return super.fail([...this.prefix, ...path], message, key)
  }
}
