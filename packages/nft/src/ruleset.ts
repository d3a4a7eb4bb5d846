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
    .map((e) => (e.value === undefined ? e.key : `${e.key} : ${typeof e.value === 'string' ? e.value : e.value.chain ? `${e.value.verdict} ${e.value.chain}` : e.value.verdict}`))
  return keys.join(', ')
}

type RulesetParts = { tables: Table[]; chains: Chain[]; rules: Rule[]; sets: Array<NftSet & { elements: Element[] }> }

const sameTable = (a: { family: string; name: string }, b: { family: string; name: string }) => a.family === b.family && a.name === b.name

/** A chain and its rules, as `nft list chain` prints it (one tab deeper inside a table). */
export function renderChain(c: Chain, rules: Rule[], inline?: Map<string, string>, indent = '\t'): string {
  const out = [`${indent}chain ${c.name} {`]
  if (c.hook) out.push(`${indent}\ttype ${c.type} hook ${c.hook}${c.device ? ` device ${JSON.stringify(c.device)}` : ''} priority ${priorityText(c)}; policy ${c.policy ?? 'accept'};`)
  for (const rule of rules.filter((x) => sameTable(x.table, c.table) && x.chain === c.name)) out.push(`${indent}\t${renderRule(rule, inline)}`)
  out.push(`${indent}}`)
  return out.join('\n')
}

/** A set with its elements, as nft prints it inside a table. */
export function renderSet(s: NftSet & { elements: Element[] }, indent = '\t'): string {
  const out = [`${indent}${s.dataType ? 'map' : 'set'} ${s.name} {`, `${indent}\ttype ${s.type}${s.dataType ? ` : ${s.dataType}` : ''}`]
  const flags = (s.flags ?? []).filter((f) => f !== 'anonymous')
  if (flags.length) out.push(`${indent}\tflags ${flags.join(',')}`)
  if (s.elements.length) out.push(`${indent}\telements = { ${renderElements(s.elements)} }`)
  out.push(`${indent}}`)
  return out.join('\n')
}

/** A table with its sets and chains, as `nft list table` prints it. */
export function renderTable(t: Table, r: Omit<RulesetParts, 'tables'>): string {
  const sets = r.sets.filter((x) => sameTable(x.table, t))
  const inline = new Map(sets.filter((x) => (x.flags ?? []).includes('anonymous')).map((x) => [x.name, `{ ${renderElements(x.elements)} }`]))
  const out = [`table ${t.family} ${t.name} {`]
  for (const s of sets.filter((x) => !(x.flags ?? []).includes('anonymous'))) out.push(renderSet(s))
  for (const c of r.chains.filter((x) => sameTable(x.table, t))) out.push(renderChain(c, r.rules, inline))
  out.push('}')
  return out.join('\n')
}

export function renderRuleset(r: RulesetParts): string {
  return r.tables.map((t) => renderTable(t, r) + '\n').join('')
}
