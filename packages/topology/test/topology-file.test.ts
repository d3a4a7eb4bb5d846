// The topology file's validation: a bad file fails before anything is created, naming the path of
// the bad field and its line.
import { describe, expect, it } from 'vitest'
import { parseTopology, TopologyError } from '../src/index.js'

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

function failure(text: string): TopologyError {
  try {
    parseTopology(text)
  } catch (error) {
    expect(error).toBeInstanceOf(TopologyError)
    return error as TopologyError
  }
  throw new Error('expected the file to be refused')
}

describe('topology files', () => {
  it('reads nodes, links and impairments', () => {
    const t = parseTopology(good)
    expect(t.name).toBe('demo')
    expect(t.nodes.h2).toEqual({ kind: 'netns', addresses: ['10.1.0.9/24'], routes: [{ to: 'default', via: '10.1.0.1' }] })
    expect(t.links[1]).toEqual({ endpoints: [{ node: 'sw', interface: 'p2' }, { node: 'h2', interface: 'eth1' }], impairment: { delay: '20ms', jitter: '5ms', loss: '1%', rate: '100mbit' } })
  })

  it('names the field and the line of an unknown kind', () => {
    const e = failure(good.replace('kind: netns, dhcp', 'kind: nets, dhcp'))
    expect(e.message).toBe('nodes.h1.kind: unknown kind "nets", expected one of netns, bridge, nanoswitch, microvm, slot (line 4)')
    expect(e.path).toBe('nodes.h1.kind')
    expect(e.line).toBe(4)
  })

  it('refuses a link to a missing node', () => {
    const e = failure(good.replace('[sw:p1, h1:eth1]', '[sw:p1, h9:eth1]'))
    expect(e.path).toBe('links.0.endpoints.1')
    expect(e.message).toMatch(/no node named "h9".*\(line 7\)/)
  })

  it('refuses a duplicate interface', () => {
    const e = failure(good.replace('[sw:p2, h2:eth1]', '[sw:p1, h2:eth1]'))
    expect(e.message).toMatch(/^links\.1\.endpoints\.0: duplicate interface sw:p1 \(also at links\.0\.endpoints\.0\) \(line 8\)/)
  })

  it('refuses a bad duration, naming the impairment key', () => {
    const e = failure(good.replace('delay: 20ms', 'delay: 20 parsecs'))
    expect(e.path).toBe('links.1.impairment.delay')
    expect(e.message).toMatch(/bad delay "20 parsecs", expected a value such as 20ms \(line 9\)/)
  })

  it('reads microvm and slot nodes', () => {
    const t = parseTopology(good.replace('kind: netns, dhcp: true', 'kind: microvm, memory: 256, dhcp: true').replace('h2: { kind: netns', 'h2: { kind: slot'))
    expect(t.nodes.h1).toEqual({ kind: 'microvm', memory: 256, dhcp: true })
    expect(t.nodes.h2!.kind).toBe('slot')
  })

  it('refuses what a microVM or a slot cannot take, naming the field', () => {
    expect(failure(good.replace('kind: netns, dhcp: true', 'kind: microvm, memory: 12')).message).toMatch(/^nodes\.h1\.memory: expected guest memory in MiB/)
    expect(failure(good.replace('kind: netns, dhcp: true', 'kind: microvm, dhcp: true, addresses: [10.1.0.7/24]')).message).toMatch(/^nodes\.h1\.dhcp: a microVM takes dhcp or a static address, not both/)
    expect(failure(good.replace('kind: netns, dhcp: true', 'kind: slot, subnet: 10.0.0.1/24')).message).toMatch(/^nodes\.h1\.subnet: unknown key/)
    expect(failure(good.replace('kind: netns, dhcp: true', 'kind: slot').replace('  - endpoints: [sw:p1, h1:eth1]\n', '')).message).toMatch(/^nodes\.h1: a slot node needs a link/)
  })

  it('refuses unknown keys, by name', () => {
    expect(failure(good.replace('dhcp: true', 'dhcp: true, colour: red')).message).toMatch(/^nodes\.h1\.colour: unknown key/)
    expect(failure('name: demo\nnodes:\n  a: { kind: netns\n').message).toMatch(/^invalid YAML/)
  })

  it('reads a containerlab file and reports the keys that mean nothing here', () => {
    const t = parseTopology(`name: clab1
mgmt: { network: fixedips }
topology:
  nodes:
    n1: { kind: linux, image: alpine, exec: ["ip addr add 10.0.0.1/24 dev eth1"] }
    n2: { kind: linux, image: alpine }
    br: { kind: bridge }
  links:
    - endpoints: ["n1:eth1", "br:p1"]
    - endpoints: ["n2:eth1", "br:p2"]
`)
    expect(t.format).toBe('containerlab')
    expect(t.nodes.n1).toEqual({ kind: 'netns', exec: ['ip addr add 10.0.0.1/24 dev eth1'] })
    expect(t.nodes.br!.kind).toBe('bridge')
    expect(t.unsupported).toEqual(['mgmt', 'topology.nodes.n1.image', 'topology.nodes.n2.image'])
    expect(t.links).toHaveLength(2)
    const e = failure('name: c\ntopology:\n  nodes:\n    n1: { kind: srl }\n')
    expect(e.message).toMatch(/^topology\.nodes\.n1\.kind: containerlab kind "srl" is not supported.*\(line 4\)/)
  })
})
