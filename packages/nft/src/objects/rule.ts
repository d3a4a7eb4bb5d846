import { ArgumentError, Attributes, type AttributeWriter, type NetlinkMessage } from '@lab/netlink-native'
import { EXPR, NFTA_LIST_ELEM, RULE } from '../constants.js'
import { decodeExpression, type Expression } from '../expr/expression.js'
import { writeExpression } from '../expr/wire.js'
// Importing the expression types registers their decoders.
import '../expr/index.js'
import { nfgenFamily, type TableRef } from './header.js'

export interface RuleSpec {
  table: TableRef
  chain: string
  exprs: Expression[]
  comment?: string
  /** Insert after (add) or before (insert) the rule with this handle. */
  position?: bigint
}

export interface Rule extends RuleSpec {
  handle?: bigint
}

// Userdata TLVs as nft writes them (type u8, length u8, value); type 0 is the comment.
const UDATA_RULE_COMMENT = 0

function commentUserdata(comment: string): Buffer {
  const text = Buffer.from(comment + '\0')
  if (text.length > 255) throw new ArgumentError('comment', 'longer than 254 bytes')
  return Buffer.concat([Buffer.from([UDATA_RULE_COMMENT, text.length]), text])
}

function commentOf(udata: Buffer | undefined): string | undefined {
  if (!udata) return undefined
  for (let at = 0; at + 2 <= udata.length; ) {
    const type = udata[at]!
    const len = udata[at + 1]!
    if (type === UDATA_RULE_COMMENT) return udata.toString('utf8', at + 2, at + 2 + len).replace(/\0+$/, '')
    at += 2 + len
  }
  return undefined
}

export function writeExpressions(w: AttributeWriter, exprs: Expression[]): void {
  const at = w.beginNested(RULE.EXPRESSIONS)
  for (let i = 0; i < exprs.length; i++) writeExpression(w, exprs[i]!)
  w.endNested(at)
}

export function writeRule(w: AttributeWriter, r: RuleSpec & { handle?: bigint }): void {
  w.str(RULE.TABLE, r.table.name)
  w.str(RULE.CHAIN, r.chain)
  if (r.handle !== undefined) w.be64(RULE.HANDLE, r.handle)
  if (r.position !== undefined) w.be64(RULE.POSITION, r.position)
  if (r.exprs.length > 0) writeExpressions(w, r.exprs)
  if (r.comment !== undefined) writeRuleComment(w, r.comment)
}

export function writeRuleComment(w: AttributeWriter, comment: string): void {
  w.attr(RULE.USERDATA, commentUserdata(comment))
}

export function decodeExpressions(list: Attributes | undefined): Expression[] {
  if (!list) return []
  return list.all(NFTA_LIST_ELEM).map((raw) => {
    const e = new Attributes(raw)
    const data = e.get(EXPR.DATA)
    return decodeExpression(e.str(EXPR.NAME) ?? '?', data ? new Attributes(data) : undefined, data ?? Buffer.alloc(0))
  })
}

export function decodeRule(m: NetlinkMessage): Rule {
  const family = nfgenFamily(m)
  const a = new Attributes(m.payload, 4)
  const rule: Rule = {
    table: { family, name: a.str(RULE.TABLE) ?? '' },
    chain: a.str(RULE.CHAIN) ?? '',
    exprs: decodeExpressions(a.nested(RULE.EXPRESSIONS)),
  }
  const handle = a.be64(RULE.HANDLE)
  if (handle !== undefined) rule.handle = handle
  const comment = commentOf(a.get(RULE.USERDATA))
  if (comment !== undefined) rule.comment = comment
  return rule
}
