// A picture of a lab: Graphviz dot text, Mermaid text, or SVG (Graphviz's `dot -Tsvg` when it is
// installed, else a built-in layered layout: switches and bridges on top, then what hangs off them).
import { spawnSync } from 'node:child_process'
import type { LabStatus } from './lab.js'
import { formatImpairment } from './lab.js'

export type GraphFormat = 'dot' | 'mermaid' | 'svg'

const SHAPES: Record<string, string> = { nanoswitch: 'box3d', bridge: 'box', netns: 'ellipse' }
const COLORS: Record<string, string> = { nanoswitch: '#cfe2ff', bridge: '#d1e7dd', netns: '#fff3cd' }

function nodeLabel(n: LabStatus['nodes'][number]): string[] {
  return [n.node, n.kind, ...n.interfaces.flatMap((i) => i.addresses.map((a) => `${i.name} ${a}`))]
}

function edgeLabel(l: LabStatus['links'][number]): string {
  const ends = l.endpoints.map((e) => e.split(':')[1]).join(' - ')
  return l.impairment ? `${ends}\n${formatImpairment(l.impairment)}` : ends
}

const q = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`

export function toDot(s: LabStatus): string {
  const lines = [`graph ${q(s.name)} {`, '  rankdir=TB; node [style=filled, fontname="sans-serif"]; edge [fontname="sans-serif", fontsize=10];']
  for (const n of s.nodes) lines.push(`  ${q(n.node)} [label=${q(nodeLabel(n).join('\n'))}, shape=${SHAPES[n.kind] ?? 'ellipse'}, fillcolor=${q(COLORS[n.kind] ?? '#eeeeee')}];`)
  for (const l of s.links) {
    const [a, b] = l.endpoints.map((e) => e.split(':')[0]!)
    lines.push(`  ${q(a!)} -- ${q(b!)} [label=${q(edgeLabel(l))}${l.impairment ? ', color="#d63384", style=dashed' : ''}];`)
  }
  lines.push('}')
  return `${lines.join('\n')}\n`
}

export function toMermaid(s: LabStatus): string {
  const id = (n: string) => n.replace(/[^A-Za-z0-9_]/g, '_')
  const esc = (t: string) => t.replace(/"/g, '#quot;')
  const lines = ['graph TD']
  for (const n of s.nodes) {
    const text = esc(nodeLabel(n).join('<br/>'))
    lines.push(n.kind === 'netns' ? `  ${id(n.node)}(["${text}"])` : `  ${id(n.node)}["${text}"]`)
  }
  for (const l of s.links) {
    const [a, b] = l.endpoints.map((e) => e.split(':')[0]!)
    lines.push(`  ${id(a!)} ---|"${esc(edgeLabel(l).replace('\n', '<br/>'))}"| ${id(b!)}`)
  }
  return `${lines.join('\n')}\n`
}

/** A layered layout without Graphviz: a BFS from the switches gives each node a row. */
export function builtinSvg(s: LabStatus): string {
  const names = s.nodes.map((n) => n.node)
  const adj = new Map(names.map((n) => [n, new Set<string>()]))
  for (const l of s.links) {
    const [a, b] = l.endpoints.map((e) => e.split(':')[0]!)
    adj.get(a!)?.add(b!)
    adj.get(b!)?.add(a!)
  }
  const layer = new Map<string, number>()
  const roots = s.nodes.filter((n) => n.kind !== 'netns').map((n) => n.node)
  const queue = [...(roots.length ? roots : names.slice(0, 1))]
  for (const r of queue) layer.set(r, 0)
  while (queue.length || layer.size < names.length) {
    if (!queue.length) {
      const next = names.find((n) => !layer.has(n))!
      layer.set(next, 0)
      queue.push(next)
    }
    const n = queue.shift()!
    for (const m of adj.get(n) ?? []) {
      if (!layer.has(m)) {
        layer.set(m, layer.get(n)! + 1)
        queue.push(m)
      }
    }
  }
  const rows: string[][] = []
  for (const n of names) (rows[layer.get(n)!] ??= []).push(n)
  const W = 170
  const H = 70
  const GAP_X = 40
  const GAP_Y = 80
  const width = Math.max(...rows.map((r) => r.length)) * (W + GAP_X) + GAP_X
  const pos = new Map<string, { x: number; y: number }>()
  rows.forEach((row, y) => {
    const offset = (width - row.length * (W + GAP_X) + GAP_X) / 2
    row.forEach((n, i) => pos.set(n, { x: offset + i * (W + GAP_X), y: GAP_X + y * (H + GAP_Y) }))
  })
  const height = rows.length * (H + GAP_Y) + GAP_X
  const x = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
  const out = [`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`, `<title>${x(s.name)}</title>`]
  for (const l of s.links) {
    const [a, b] = l.endpoints.map((e) => pos.get(e.split(':')[0]!)!)
    const x1 = a!.x + W / 2
    const y1 = a!.y + H / 2
    const x2 = b!.x + W / 2
    const y2 = b!.y + H / 2
    out.push(`<line x1="${x1}" y1="${y1}" x2="${x2}" y2="${y2}" stroke="${l.impairment ? '#d63384' : '#555'}"${l.impairment ? ' stroke-dasharray="6 4"' : ''}/>`)
    edgeLabel(l)
      .split('\n')
      .forEach((t, i) => out.push(`<text x="${(x1 + x2) / 2 + 6}" y="${(y1 + y2) / 2 + i * 14}" fill="#333">${x(t)}</text>`))
  }
  for (const n of s.nodes) {
    const p = pos.get(n.node)!
    out.push(`<rect x="${p.x}" y="${p.y}" width="${W}" height="${H}" rx="${n.kind === 'netns' ? 30 : 4}" fill="${COLORS[n.kind] ?? '#eee'}" stroke="#333"/>`)
    nodeLabel(n)
      .slice(0, 4)
      .forEach((t, i) => out.push(`<text x="${p.x + W / 2}" y="${p.y + 18 + i * 15}" text-anchor="middle"${i === 0 ? ' font-weight="bold"' : ''}>${x(t)}</text>`))
  }
  out.push('</svg>')
  return `${out.join('\n')}\n`
}

export function graph(s: LabStatus, format: GraphFormat): string {
  if (format === 'dot') return toDot(s)
  if (format === 'mermaid') return toMermaid(s)
  const dot = spawnSync('dot', ['-Tsvg'], { input: toDot(s), encoding: 'utf8' })
  if (dot.status === 0 && dot.stdout) return dot.stdout
  return builtinSvg(s)
}
