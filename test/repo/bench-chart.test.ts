// scripts/bench-chart.mjs: the SVG bar chart the benches write with --chart. The SVG must be
// well-formed XML (checked by a small parser here: balanced tags, quoted attributes, known
// entities) and each bar's length proportional to its value within its panel.
import { describe, expect, it } from 'vitest'
// @ts-expect-error: a plain .mjs script without types
import { chartOption, formatValue, renderBarChart } from '../../scripts/bench-chart.mjs'

interface Element {
  name: string
  attributes: Record<string, string>
  children: Element[]
  text: string
}

/** Parses XML without a DTD into elements; throws on anything not well-formed. */
function parseXml(xml: string): Element {
  const root: Element = { name: '#document', attributes: {}, children: [], text: '' }
  const stack = [root]
  const entity = /&(amp|lt|gt|quot|apos|#\d+|#x[0-9a-f]+);/gi
  const checkText = (t: string) => {
    if (t.replace(entity, '').includes('&')) throw new Error(`bad entity in ${JSON.stringify(t)}`)
    if (t.includes('<') || t.includes('>')) throw new Error(`bare < or > in ${JSON.stringify(t)}`)
  }
  let at = 0
  while (at < xml.length) {
    const open = xml.indexOf('<', at)
    const text = xml.slice(at, open === -1 ? xml.length : open)
    checkText(text)
    stack[stack.length - 1]!.text += text
    if (open === -1) break
    const close = xml.indexOf('>', open)
    if (close === -1) throw new Error('unterminated tag')
    const tag = xml.slice(open + 1, close)
    at = close + 1
    if (tag.startsWith('/')) {
      const top = stack.pop()!
      if (top.name !== tag.slice(1).trim()) throw new Error(`</${tag.slice(1)}> closes <${top.name}>`)
      continue
    }
    const m = /^([A-Za-z_][\w.:-]*)((?:\s+[A-Za-z_][\w.:-]*="[^"<]*")*)\s*(\/?)$/.exec(tag)
    if (!m) throw new Error(`malformed tag <${tag}>`)
    const attributes: Record<string, string> = {}
    for (const [, k, v] of m[2]!.matchAll(/([A-Za-z_][\w.:-]*)="([^"]*)"/g)) {
      if (k! in attributes) throw new Error(`attribute ${k} twice`)
      checkText(v!)
      attributes[k!] = v!
    }
    const element: Element = { name: m[1]!, attributes, children: [], text: '' }
    stack[stack.length - 1]!.children.push(element)
    if (!m[3]) stack.push(element)
  }
  if (stack.length !== 1) throw new Error(`<${stack[stack.length - 1]!.name}> not closed`)
  if (root.children.length !== 1) throw new Error('expected one root element')
  return root.children[0]!
}

const all = (e: Element, name: string): Element[] => [...(e.name === name ? [e] : []), ...e.children.flatMap((c) => all(c, name))]
const texts = (svg: Element) => all(svg, 'text').map((t) => t.text)

const chart = {
  title: 'DHCPv4 <DORA> & "friends"',
  subtitle: "relayed, 10,000 clients, median of 3 rounds",
  note: 'load 1.00 on 2 CPUs',
  panels: [
    { title: 'exchanges per second', unit: '/s', better: 'higher', baseline: 'kea-dhcp4', bars: [{ label: '@lab/dhcp4', value: 9000, ours: true }, { label: 'kea-dhcp4', value: 4500 }, { label: 'dnsmasq', value: 3000 }] },
    { title: 'p99 latency', unit: 'ms', better: 'lower', bars: [{ label: '@lab/dhcp4', value: 2.5, ours: true }, { label: 'kea-dhcp4', value: 10 }] },
  ],
}

describe('renderBarChart', () => {
  it('writes well-formed SVG with labels, values, ratios and escaped text', () => {
    const svg = parseXml(renderBarChart(chart))
    expect(svg.name).toBe('svg')
    expect(svg.attributes.xmlns).toBe('http://www.w3.org/2000/svg')
    const shown = texts(svg)
    expect(shown).toContain('DHCPv4 &lt;DORA&gt; &amp; &quot;friends&quot;')
    expect(shown).toEqual(expect.arrayContaining(['@lab/dhcp4', 'kea-dhcp4', 'dnsmasq', '9,000 /s  2.00x', '4,500 /s  1.00x', '3,000 /s  0.67x', '2.50 ms', '10.0 ms', 'load 1.00 on 2 CPUs']))
    expect(shown.some((t) => t.startsWith('exchanges per second (higher is better); ratio to kea-dhcp4'))).toBe(true)
    // Everything drawn fits in the picture.
    const height = Number(svg.attributes.height)
    for (const e of [...all(svg, 'text'), ...all(svg, 'rect')]) expect(Number(e.attributes.y ?? 0)).toBeLessThan(height)
  })

  it('draws bars proportional to their values within each panel, ours in another colour', () => {
    const bars = all(parseXml(renderBarChart(chart)), 'rect').filter((r) => r.attributes.class === 'bar')
    expect(bars).toHaveLength(5)
    const width = (i: number) => Number(bars[i]!.attributes.width)
    expect(width(1) / width(0)).toBeCloseTo(4500 / 9000, 2)
    expect(width(2) / width(0)).toBeCloseTo(3000 / 9000, 2)
    expect(width(3) / width(4)).toBeCloseTo(2.5 / 10, 2)
    // The longest bar of each panel has the same length: each panel has its own scale.
    expect(width(0)).toBe(width(4))
    expect(bars[0]!.attributes.fill).not.toBe(bars[1]!.attributes.fill)
    expect(bars[1]!.attributes.fill).toBe(bars[2]!.attributes.fill)
  })

  it('draws a zero as no bar and refuses what it cannot draw, naming the field', () => {
    const zero = all(parseXml(renderBarChart({ title: 't', panels: [{ title: 'p', bars: [{ label: 'a', value: 0 }, { label: 'b', value: 0 }] }] })), 'rect').filter((r) => r.attributes.class === 'bar')
    expect(zero.map((r) => r.attributes.width)).toEqual(['0', '0'])
    expect(() => renderBarChart({ title: 't', panels: [] })).toThrow(/chart\.panels/)
    expect(() => renderBarChart({ title: 't', panels: [{ title: 'p', bars: [{ label: 'a', value: Number.NaN }] }] })).toThrow(/chart\.panels\[0\]\.bars\[0\]\.value/)
    expect(() => renderBarChart({ title: 't', panels: [{ title: 'p', bars: [{ label: 'a', value: -1 }] }] })).toThrow(/>= 0/)
    expect(() => renderBarChart({ title: 't', panels: [{ title: 'p', baseline: 'x', bars: [{ label: 'a', value: 1 }] }] })).toThrow(/baseline/)
  })

  it('the XML check itself rejects what is not well-formed', () => {
    for (const bad of ['<svg><text>a</svg>', '<svg a=1/>', '<svg>&nbsp;</svg>', '<svg>a < b</svg>', '<svg/><svg/>']) expect(() => parseXml(bad), bad).toThrow()
  })
})

describe('chartOption and formatValue', () => {
  it('takes --chart FILE or --chart=FILE out of the arguments, keeping the rest in order', () => {
    expect(chartOption(['100', '--chart', 'out.svg', '3'])).toEqual({ chart: 'out.svg', args: ['100', '3'] })
    expect(chartOption(['--chart=docs/bench.svg'])).toEqual({ chart: 'docs/bench.svg', args: [] })
    expect(chartOption(['5'])).toEqual({ chart: undefined, args: ['5'] })
    expect(() => chartOption(['--chart'])).toThrow(/--chart: expected a FILE/)
  })

  it('formats values with three significant figures or whole numbers', () => {
    expect([12345.6, 123.4, 12.34, 1.234, 0].map(formatValue)).toEqual(['12,346', '123', '12.3', '1.23', '0.00'])
  })
})
