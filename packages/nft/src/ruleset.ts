// A whole ruleset as `nft list ruleset` prints it.
import { PRIORITIES } from './constants.js'
import { priorityOf, type Chain } from './objects/chain.js'
import type { Rule } from './objects/rule.js'
import type { Element, NftSet } from './objects/set.js'
import type { Table } from './objects/table.js'
import { renderExpressions } from './render.js'

function priorityText(c: Chain): string {
  const value = priorityOf(c.priority)
  const names = c.type === 'nat' ? ['dstnat', 'srcnat', 'filter'] : ['raw', 'mangle', 'filter', 'security']
  for (const name of names) {
    const base = PRIORITIES[name]!
    if (value === base) return name
    if (Math.abs(value - base) <= 10) return `${name} ${value > base ? '+' : '-'} ${Math.abs(value - base)}`
  }
  return String(value)
}

export function renderRule(r: Rule, inlineByName?: Map<string, string>): string {
  const text = renderExpressions(r.exprs, { family: r.table.family, ...(inlineByName ? { inlineByName } : {}) })
  return r.comment !== undefined ? `${text} comment ${JSON.stringify(r.comment)}` : text
}

function renderElements(elements: Element[]): string {
  // nft prints elements in key order, whatever order the kernel keeps them in.
  const keys = elements
    .filter((e) => !e.intervalEnd)
    .sort((a, b) => Buffer.compare(a.bytes, b.bytes))
    .map((e) => e.key)
  return keys.join(', ')
}

export function renderRuleset(r: { tables: Table[]; chains: Chain[]; rules: Rule[]; sets: Array<NftSet & { elements: Element[] }> }): string {
  const out: string[] = []
  for (const t of r.tables) {
    const inline = new Map(
      r.sets
        .filter((x) => x.table.name === t.name && x.table.family === t.family && (x.flags ?? []).includes('anonymous'))
        .map((x) => [x.name, `{ ${renderElements(x.elements)} }`]),
    )
    out.push(`table ${t.family} ${t.name} {`)
    for (const s of r.sets.filter((x) => x.table.name === t.name && x.table.family === t.family && !(x.flags ?? []).includes('anonymous'))) {
      out.push(`\tset ${s.name} {`, `\t\ttype ${s.type}`)
      const flags = (s.flags ?? []).filter((f) => f !== 'anonymous')
      if (flags.length) out.push(`\t\tflags ${flags.join(',')}`)
      if (s.elements.length) out.push(`\t\telements = { ${renderElements(s.elements)} }`)
      out.push('\t}')
    }
    for (const c of r.chains.filter((x) => x.table.name === t.name && x.table.family === t.family)) {
      out.push(`\tchain ${c.name} {`)
      if (c.hook) out.push(`\t\ttype ${c.type} hook ${c.hook}${c.device ? ` device ${JSON.stringify(c.device)}` : ''} priority ${priorityText(c)}; policy ${c.policy ?? 'accept'};`)
      for (const rule of r.rules.filter((x) => x.table.name === t.name && x.table.family === t.family && x.chain === c.name)) out.push(`\t\t${renderRule(rule, inline)}`)
      out.push('\t}')
    }
    out.push('}')
  }
  return out.join('\n') + (out.length ? '\n' : '')
}
