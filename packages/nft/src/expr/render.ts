// A rule's expressions as nft text: each expression renders its own part (see rule-text.ts).
import type { Expression } from './expression.js'
import { RuleText, type RenderOptions } from './rule-text.js'

export { RuleText, type Field, type RegisterValue, type RenderOptions } from './rule-text.js'

/** The statements of a rule as `nft list ruleset` prints them (`ip saddr 10.0.0.0/8 counter ... accept`). */
export function renderExpressions(exprs: readonly Expression[], options: RenderOptions = {}): string {
  const r = new RuleText(options)
  for (const e of exprs) e.render(r)
  return r.text()
}
