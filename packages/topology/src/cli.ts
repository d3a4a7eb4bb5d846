#!/usr/bin/env node
// lab: labs as code. `lab up topology.yaml` builds (or converges) a lab of namespaces, bridges and
// switches; `lab down` removes it; status, list, exec, impair, capture and graph work on a running one.
import { existsSync, openSync, writeSync, closeSync } from 'node:fs'
import { choiceFlag, createProgress, integerFlag, runProgram, UsageError, type Program } from '@lab/cli-kit'
import { capture, PcapWriter } from './capture.js'
import { graph } from './graph.js'
import { down, exec, formatImpairment, impair, status, up, type UpProgress } from './lab.js'
import { ping } from './ping.js'
import { listLabs, readState, requireState } from './state.js'
import { checkImpairment, loadTopology } from './topology.js'
import { TopologyError } from './errors.js'

/** NAME, or a topology FILE whose name is used. */
function labName(arg: string | undefined): string {
  if (!arg) throw new UsageError('expected a lab NAME or topology FILE')
  if (!arg.includes('/') && !/\.ya?ml$/.test(arg)) return arg
  if (!existsSync(arg)) throw new UsageError(`${arg}: no such file`)
  return loadTopology(arg).name
}

function one(positionals: string[], what: string): string {
  if (positionals.length !== 1) throw new UsageError(`expected ${what}`)
  return positionals[0]!
}

const program: Program = {
  name: 'lab',
  summary: 'labs as code: namespaces, bridges, switches, microVMs and slots from one YAML file (or a containerlab file)',
  notes: `a complete lab (demo.yaml):
  name: demo
  nodes:
    sw:  { kind: nanoswitch, uplink: none }      # bridge + DHCP server on 10.1.0.1/24
    h1:  { kind: netns, dhcp: true }             # a namespace, DHCP on its first link
    h2:  { kind: netns, addresses: [10.1.0.50/24], routes: [{ to: default, via: 10.1.0.1 }] }
    vm1: { kind: microvm, memory: 256, dhcp: true }   # a QEMU microVM on a TAP
    s1:  { kind: slot, addresses: [10.1.0.60/24] }    # a @lab/slots sandbox slot behind s1
  links:
    - endpoints: [sw:p1, h1:eth1]
    - endpoints: [sw:p2, h2:eth1]
      impairment: { rate: 10mbit }           # also delay, jitter, loss, duplicate, reorder, corrupt (netem)
    - endpoints: [sw:p3, vm1:eth0]
    - endpoints: [sw:p4, s1:up]
then: lab up demo.yaml; lab exec demo vm1 -- ping -c 1 10.1.0.50; lab down demo

State lives in /run/lab/NAME (LAB_RUN_DIR overrides it); every namespace is named NAME-NODE.`,
  commands: {
    up: {
      summary: 'build the lab, or converge a running one to the file (prints what changed)',
      usage: 'FILE [--name NAME]',
      positionals: true,
      options: { name: { type: 'string', value: 'NAME', description: 'the lab name (default: the file\'s name:)' } },
      example: 'lab up demo.yaml',
      async run({ positionals, values, print, io }) {
        const file = one(positionals, 'one topology FILE')
        const topology = loadTopology(file, { name: values.name as string | undefined })
        for (const key of topology.unsupported) io.stderr(`lab: ${file}: ${key} is not supported (ignored)\n`)
        // One line rewritten in place on a terminal (`creating nodes 37/100`); nothing when piped.
        using progress = createProgress()
        const result = await up(topology, { file, ...(progress.enabled ? { onProgress: (p: UpProgress) => progress.count(p.phase, p.done, p.total) } : {}) })
        progress.done()
        print(result, result.actions.length === 0 ? `lab ${result.name}: up to date, nothing changed` : `lab ${result.name}:\n${result.actions.map((a) => `  ${a}`).join('\n')}`)
      },
    },
    down: {
      summary: 'remove a lab: its processes, namespaces and links (also after a killed lab up)',
      usage: 'NAME|FILE',
      positionals: true,
      example: 'lab down demo',
      async run({ positionals, print }) {
        const name = labName(one(positionals, 'a lab NAME or FILE'))
        const removed = await down(name)
        print({ name, removed }, `lab ${name}: removed ${removed.length} node(s)`)
      },
    },
    status: {
      summary: 'nodes, interfaces, addresses, processes and impairments of a lab',
      usage: 'NAME [--json]',
      positionals: true,
      example: 'lab status demo --json',
      async run({ positionals, print }) {
        const s = await status(labName(one(positionals, 'a lab NAME')))
        print(s, () => {
          const lines = [`lab ${s.name}${s.file ? ` (${s.file})` : ''}`]
          for (const n of s.nodes) {
            lines.push(`  ${n.node} ${n.kind} netns ${n.netns}${n.up ? '' : ' MISSING'}`)
            for (const i of n.interfaces) lines.push(`    ${i.name} ${i.up ? 'up' : 'down'} ${i.addresses.join(' ')}${i.qdisc ? ` [${i.qdisc}]` : ''}`)
            if (n.guest) lines.push(`    guest ${n.guest.interface} ${n.guest.addresses.join(' ')}`)
            if (n.slot) lines.push(`    slot ${n.slot.index} netns ${n.slot.netns} guest ${n.slot.guestIP} on ${n.slot.tapName}, reached from ${n.node} at ${n.slot.hostReachableIP}`)
            for (const p of n.processes) lines.push(`    ${p.role} pid ${p.pid} ${p.running ? 'running' : 'NOT RUNNING'}`)
          }
          for (const l of s.links) lines.push(`  link ${l.endpoints.join(' <-> ')}${l.impairment ? ` ${formatImpairment(l.impairment)}` : ''}`)
          return lines.join('\n')
        })
      },
    },
    list: {
      summary: 'the labs on this machine',
      example: 'lab list',
      run({ print }) {
        const labs = listLabs().map((name) => {
          const s = readState(name)
          return { name, nodes: Object.keys(s?.nodes ?? {}).length, links: Object.keys(s?.links ?? {}).length, file: s?.file }
        })
        print(labs, labs.length === 0 ? 'no labs' : labs.map((l) => `${l.name}\t${l.nodes} nodes\t${l.links} links\t${l.file ?? ''}`).join('\n'))
      },
    },
    exec: {
      summary: "run a command in a node's namespace (a microVM's guest; a slot node's slot)",
      usage: 'NAME NODE -- CMD [ARG]...',
      positionals: true,
      example: 'lab exec demo h1 -- ping -c 1 10.1.0.1',
      async run({ positionals }) {
        const [name, node, ...argv] = positionals
        if (!name || !node || argv.length === 0) throw new UsageError('expected NAME NODE -- CMD...')
        return exec(name, node, argv)
      },
    },
    ping: {
      summary: "every host pings its neighbours (hosts on its link, its switch or a switch linked to it), or every other host with --all; exit 1 if any fails",
      usage: 'NAME|FILE [--all] [--count N] [--timeout MS] [--json]',
      positionals: true,
      options: {
        all: { type: 'boolean', description: 'all pairs of hosts, as mininet\'s pingall' },
        count: { type: 'string', value: 'N', description: 'echo requests per pair (default 1)' },
        timeout: { type: 'string', value: 'MS', description: 'wait for each reply this long (default 2000)' },
      },
      example: 'lab ping demo --all',
      async run({ positionals, values, print }) {
        const name = labName(one(positionals, 'a lab NAME or FILE'))
        const count = integerFlag('count', values.count as string | undefined, { min: 1 })
        const timeoutMs = integerFlag('timeout', values.timeout as string | undefined, { min: 1 })
        const result = await ping(name, { all: values.all === true, count, timeoutMs })
        print(result, () => {
          const lines = result.pairs.map((p) => {
            const rtt = p.rtts.length ? ` ${(p.rtts.reduce((a, b) => a + b, 0) / p.rtts.length).toFixed(3)} ms` : ''
            return `${p.from} -> ${p.to} ${p.address} ${p.received}/${p.transmitted}${rtt}${p.error ? ` ${p.error}` : p.lost ? ' LOST' : ''}`
          })
          const sent = result.pairs.reduce((n, p) => n + p.transmitted, 0)
          const received = result.pairs.reduce((n, p) => n + p.received, 0)
          lines.push(result.pairs.length === 0 ? `lab ${name}: no pairs of hosts with addresses to ping` : `lab ${name}: ${received}/${sent} replies, ${result.failed} of ${result.pairs.length} pairs failed`)
          return lines.join('\n')
        })
        return result.failed > 0 ? 1 : 0
      },
    },
    impair: {
      summary: "change an interface's impairment at run time (no values: clear it)",
      usage: 'NAME NODE:IFACE [delay=50ms] [jitter=5ms] [loss=2%] [duplicate=1%] [reorder=25%] [corrupt=0.1%] [rate=10mbit]',
      positionals: true,
      example: 'lab impair demo h2:eth1 delay=50ms loss=2%',
      async run({ positionals, print }) {
        const [name, target, ...pairs] = positionals
        if (!name || !target) throw new UsageError('expected NAME NODE:IFACE key=value...')
        const raw: Record<string, string> = {}
        for (const p of pairs) {
          const m = /^([a-z]+)=(.+)$/.exec(p)
          if (!m) throw new UsageError(`${p}: expected key=value such as delay=50ms`)
          raw[m[1]!] = m[2]!
        }
        const impairment = checkImpairment(raw, (key, message) => {
          throw new UsageError(`${key}: ${message}`)
        })
        await impair(name, target, impairment)
        print({ name, target, impairment }, `${target}: ${pairs.length ? formatImpairment(impairment) : 'impairment cleared'}`)
      },
    },
    capture: {
      summary: 'capture on a node interface as pcap (-w FILE, or -w - for a pipe into wireshark -k -i -)',
      usage: 'NAME NODE:IFACE [-w FILE|-] [--count N]',
      positionals: true,
      options: {
        write: { type: 'string', short: 'w', value: 'FILE', description: 'write pcap there (- is stdout); without it, one line per frame' },
        count: { type: 'string', value: 'N', description: 'stop after N frames (default: until Ctrl-C)' },
      },
      example: 'lab capture demo sw:p1 -w dhcp.pcap --count 4',
      async run({ positionals, values, signal, io }) {
        const [name, target] = positionals
        if (!name || !target || positionals.length !== 2) throw new UsageError('expected NAME NODE:IFACE')
        const [node, iface] = target.split(':')
        const state = requireState(name)
        const record = node ? state.nodes[node] : undefined
        if (!record || !iface) throw new TopologyError(`${target}: no such NODE:INTERFACE in lab ${name}`, { code: 'LAB_ERR_NO_NODE' })
        const count = integerFlag('count', values.count as string | undefined, { min: 1 })
        const out = values.write as string | undefined
        const fd = out === undefined || out === '-' ? 1 : openSync(out, 'w')
        try {
          const writer = out === undefined ? undefined : new PcapWriter((chunk) => void writeSync(fd, chunk))
          const n = await capture({
            netns: record.netns,
            interface: iface,
            count,
            signal,
            writer,
            onFrame: out === undefined ? (d) => io.stdout(`${new Date().toISOString()} ${d.length} bytes ethertype 0x${d.readUInt16BE(12).toString(16).padStart(4, '0')}\n`) : undefined,
          })
          if (out !== '-') io.stderr(`${n} frame(s) captured\n`)
        } finally {
          if (fd !== 1) closeSync(fd)
        }
      },
    },
    graph: {
      summary: 'draw the lab: svg (Graphviz dot when installed, else a built-in layout), mermaid or dot',
      usage: 'NAME [--format svg|mermaid|dot]',
      positionals: true,
      options: { format: { type: 'string', value: 'FORMAT', description: 'svg (default), mermaid or dot' } },
      example: 'lab graph demo --format svg > demo.svg',
      async run({ positionals, values, io }) {
        const format = choiceFlag('format', values.format as string | undefined, ['svg', 'mermaid', 'dot'] as const, 'svg')
        io.stdout(graph(await status(labName(one(positionals, 'a lab NAME'))), format))
      },
    },
    check: {
      summary: 'validate a topology file without creating anything',
      usage: 'FILE',
      positionals: true,
      example: 'lab check demo.yaml',
      run({ positionals, print }) {
        const t = loadTopology(one(positionals, 'one topology FILE'))
        print({ name: t.name, nodes: Object.keys(t.nodes).length, links: t.links.length, unsupported: t.unsupported }, `${t.name}: ${Object.keys(t.nodes).length} nodes, ${t.links.length} links${t.unsupported.length ? `; not supported: ${t.unsupported.join(', ')}` : ''}`)
      },
    },
  },
}

runProgram(program)
