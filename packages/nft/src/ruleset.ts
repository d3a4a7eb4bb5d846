// A whole ruleset as `nft list ruleset` prints it (nft 1.0.6): tables one after the other; in a
// table its named sets, then its chains, each block apart from the next by a blank line.
import { PRIORITIES } from './constants.js'
import { renderExpressions } from './expr/render.js'
import { priorityOf, type Chain } from './objects/chain.js'
import type { Rule } from './objects/rule.js'
import { durationText, elementsText, type Element, type NftSet } from './objects/set.js'
import type { Table } from './objects/table.js'

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

/** One rule's statements (and comment) as nft prints them; inline sets by their kernel name. */
export function renderRule(r: Rule, inlineByName?: Map<string, string>): string {
  const text = renderExpressions(r.exprs, { family: r.table.family, ...(inlineByName ? { inlineByName } : {}) })
  return r.comment !== undefined ? `${text} comment ${JSON.stringify(r.comment)}` : text
}

type SetWithElements = NftSet & { elements: Element[] }
type RulesetParts = { tables: Table[]; chains: Chain[]; rules: Rule[]; sets: SetWithElements[] }

const sameTable = (a: { family: string; name: string }, b: { family: string; name: string }) => a.family === b.family && a.name === b.name
const isAnonymous = (s: NftSet) => (s.flags ?? []).includes('anonymous')

/** A chain and its rules, as `nft list chain` prints it (one tab deeper inside a table). */
export function renderChain(c: Chain, rules: Rule[], inline?: Map<string, string>, indent = '\t'): string {
  const out = [`${indent}chain ${c.name} {`]
  if (c.hook) out.push(`${indent}\ttype ${c.type} hook ${c.hook}${c.device ? ` device ${JSON.stringify(c.device)}` : ''} priority ${priorityText(c)}; policy ${c.policy ?? 'accept'};`)
  for (const rule of rules.filter((x) => sameTable(x.table, c.table) && x.chain === c.name)) out.push(`${indent}\t${renderRule(rule, inline)}`)
  out.push(`${indent}}`)
  return out.join('\n')
}

/**
 * A set with its elements, as nft prints it inside a table. nft leaves the timeout flag out of
 * `flags` when the set has a default timeout (it prints `timeout 1m` instead), and calls the
 * eval flag `dynamic`.
 */
export function renderSet(s: SetWithElements, indent = '\t'): string {
  const out = [`${indent}${s.dataType ? 'map' : 'set'} ${s.name} {`, `${indent}\ttype ${s.type}${s.dataType ? ` : ${s.dataType}` : ''}`]
  const names: Record<string, string> = { constant: 'constant', interval: 'interval', timeout: 'timeout', eval: 'dynamic' }
  const flags = (s.flags ?? []).filter((f) => f !== 'anonymous' && !(f === 'timeout' && s.timeoutMs !== undefined)).map((f) => names[f] ?? f)
  if (flags.length) out.push(`${indent}\tflags ${flags.join(',')}`)
  if (s.timeoutMs !== undefined) out.push(`${indent}\ttimeout ${durationText(s.timeoutMs)}`)
  if (s.elements.length) out.push(`${indent}\telements = ${elementsText(s, s.elements)}`)
  out.push(`${indent}}`)
  return out.join('\n')
}

/** A table with its sets and chains, as `nft list table` prints it. */
export function renderTable(t: Table, r: Omit<RulesetParts, 'tables'>): string {
  const sets = r.sets.filter((x) => sameTable(x.table, t))
  const inline = new Map(sets.filter(isAnonymous).map((x) => [x.name, elementsText(x, x.elements, { anonymous: true })]))
  const blocks = [...sets.filter((x) => !isAnonymous(x)).map((s) => renderSet(s)), ...r.chains.filter((x) => sameTable(x.table, t)).map((c) => renderChain(c, r.rules, inline))]
  // nft separates the blocks of a table with a blank line (none before the first or after the last).
  return [`table ${t.family} ${t.name} {`, blocks.join('\n\n'), '}'].filter((l) => l !== '').join('\n')
}

export function renderRuleset(r: RulesetParts): string {
  return r.tables.map((t) => renderTable(t, r) + '\n').join('')
}
