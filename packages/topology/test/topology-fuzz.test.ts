// Property tests for the topology file parser and validator: whatever text or structure a file
// holds (ours or containerlab's), parseTopology returns a topology or throws one TopologyError,
// and a TopologyError about a value names its path (`nodes.h1.kind: ...`); only YAML that does not
// parse has no path, and says so. What parses refers only to nodes the file declares.
import { readFileSync } from 'node:fs'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { stringify } from 'yaml'
import { parseTopology, TopologyError, type Topology } from '../src/index.js'

// CI runs a few hundred inputs per property; `npm run fuzz` sets LAB_FUZZ_RUNS for the long campaign.
const RUNS = Number(process.env.LAB_FUZZ_RUNS ?? 400)

/** Parses `text`; anything thrown must be a TopologyError naming a path (or invalid YAML). */
function parsedOrTyped(text: string): Topology | undefined {
  let topology: Topology
  try {
    topology = parseTopology(text)
  } catch (error) {
    if (!(error instanceof TopologyError)) throw new Error(`escaped: ${(error as Error)?.stack ?? String(error)}`)
    expect(error.code).toMatch(/^LAB_ERR_TOPOLOGY/)
    expect(error.message.split('\n')).toHaveLength(1)
    if (error.path === undefined) expect(error.message).toMatch(/^invalid YAML: /)
    else expect(error.message.startsWith(`${error.path}: `)).toBe(true)
    return undefined
  }
  // Whatever parses is sound: every link end is a node the file declares, as its own key.
  for (const link of topology.links) {
    for (const end of link.endpoints) expect(Object.hasOwn(topology.nodes, end.node), `${end.node} is a declared node`).toBe(true)
  }
  return topology
}

const good = `name: demo
nodes:
  sw: { kind: nanoswitch, uplink: none }
  h1: { kind: netns, dhcp: true }
  h2: { kind: netns, addresses: [10.1.0.9/24], routes: [{ to: default, via: 10.1.0.1 }] }
links:
  - endpoints: [sw:p1, h1:eth1]
  - endpoints: [sw:p2, h2:eth1]
    impairment: { delay: 20ms, jitter: 5ms, loss: 1%, rate: 100mbit }
`

// Values that are nearly right, plainly wrong, or odd in JavaScript (prototype names).
const word = fc.constantFrom('sw', 'h1', 'h2', 'eth1', 'p1', 'lo', '__proto__', 'constructor', 'toString', 'hasOwnProperty', '', 'a'.repeat(40), 'x:y', 'h1:eth1', 'sw:p1')
const scalar = fc.oneof(word, fc.string({ maxLength: 12 }), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.constantFrom('10.1.0.9/24', '10.1.0.9', 'fd00::1/64', '10.1.0.0/33', 'default', '20ms', '1%', '100mbit', 'none', '-1'))
const value = fc.oneof({ depthSize: 'small' }, scalar, fc.jsonValue({ maxDepth: 2 }))
const nodeSpec = fc.record(
  {
    kind: fc.oneof(fc.constantFrom('netns', 'bridge', 'nanoswitch', 'microvm', 'slot', 'linux', 'ovs-bridge', 'nope'), value),
    addresses: fc.oneof(fc.array(scalar, { maxLength: 3 }), value),
    routes: fc.oneof(fc.array(fc.record({ to: scalar, via: scalar }, { requiredKeys: [] }), { maxLength: 2 }), value),
    dhcp: fc.oneof(fc.boolean(), value),
    subnet: scalar,
    uplink: fc.oneof(fc.constant('none'), scalar),
    memory: fc.oneof(fc.integer({ min: 0, max: 70000 }), scalar),
    exec: fc.oneof(fc.array(fc.string({ maxLength: 10 }), { maxLength: 2 }), value),
    colour: value,
  },
  { requiredKeys: [] },
)
const endpoint = fc.oneof(fc.tuple(word, word).map(([n, i]) => `${n}:${i}`), scalar)
const link = fc.record(
  {
    endpoints: fc.oneof(fc.array(endpoint, { minLength: 2, maxLength: 2 }), fc.array(endpoint, { maxLength: 3 }), value),
    impairment: fc.oneof(fc.dictionary(fc.constantFrom('delay', 'jitter', 'loss', 'duplicate', 'reorder', 'corrupt', 'rate', 'speed'), scalar, { maxKeys: 4 }), value),
  },
  { requiredKeys: [] },
)
const nodes = fc.oneof(fc.dictionary(word, fc.oneof(nodeSpec, value), { maxKeys: 4 }), value)
const links = fc.oneof(fc.array(link, { maxLength: 4 }), value)
const ours = fc.record({ name: fc.oneof(fc.constantFrom('demo', 'a_b', 'x'.repeat(13), 'Bad-Name'), scalar), nodes, links, extra: value }, { requiredKeys: [] })
const containerlab = fc.record({ name: fc.oneof(fc.constant('clab'), scalar), topology: fc.record({ nodes, links, kinds: value, defaults: value }, { requiredKeys: [] }), mgmt: value }, { requiredKeys: ['topology'] })

// Edits to a good file, in YAML's own syntax: anchors, aliases, merges, tags, flow and block marks.
const token = fc.constantFrom(':', '-', '[', ']', '{', '}', ',', '#', '&a ', '*a', '<<: *a', '!!str ', '!!binary ', '!!set ', '? ', '|', '>', '"', "'", '\t', '\n', '  ', '---\n', '...\n', '%YAML 1.2\n', '~', '.inf', '0x1F', '__proto__: ', 'nodes: ', 'kind: slot')
const edited = fc.array(fc.tuple(fc.nat(good.length), fc.nat(4), fc.oneof(token, fc.string({ maxLength: 4 }))), { minLength: 1, maxLength: 4 }).map((edits) => {
  let text = good
  for (const [at, cut, insert] of edits) text = text.slice(0, at % (text.length + 1)) + insert + text.slice((at % (text.length + 1)) + cut)
  return text
})

describe('topology files under random input', () => {
  it('any text: a topology or one TopologyError', () => {
    fc.assert(fc.property(fc.oneof(fc.string({ maxLength: 120 }), fc.string({ unit: 'binary', maxLength: 60 }), fc.json()), (text) => void parsedOrTyped(text)), { numRuns: RUNS })
  })

  it('random structures in our format and containerlab\'s: a topology or a TopologyError naming the path', () => {
    fc.assert(fc.property(fc.oneof(ours, containerlab), (doc) => void parsedOrTyped(stringify(doc))), { numRuns: RUNS })
  })

  it('a good file with YAML syntax inserted or cut anywhere: a topology or a TopologyError', () => {
    fc.assert(fc.property(edited, (text) => void parsedOrTyped(text)), { numRuns: RUNS })
  })

  it('the good file itself parses (the properties above also see files that parse)', () => {
    expect(parsedOrTyped(good)?.links).toHaveLength(2)
  })

  it('seed rows (testdata/fuzz-seeds.json: files that once broke the parser) parse or fail typed', () => {
    const seeds = JSON.parse(readFileSync(new URL('../testdata/fuzz-seeds.json', import.meta.url), 'utf8')) as Array<{ text: string; note: string }>
    expect(seeds.length).toBeGreaterThan(0)
    for (const seed of seeds) parsedOrTyped(seed.text)
  })
})
