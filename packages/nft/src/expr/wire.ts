// Writing a rule's expressions (NFTA_LIST_ELEM { NFTA_EXPR_NAME, NFTA_EXPR_DATA { ... } }) straight
// into the batch's writer: no closure per nest, the name attribute copied from a cache, and for
// the expressions the builder shares between rules (a `tcp dport` load, `accept`, `counter`) the
// whole element encoded once and copied after that.
import { AttributeWriter } from '@lab/netlink-native'
import { EXPR, NFTA_LIST_ELEM } from '../constants.js'
import type { Expression } from './expression.js'
import { Lookup } from './lookup.js'

const names = new Map<string, Buffer>()

function nameAttribute(kind: string): Buffer {
  let b = names.get(kind)
  if (b === undefined) {
    const w = new AttributeWriter(32)
    w.str(EXPR.NAME, kind)
    b = Buffer.from(w.view())
    names.set(kind, b)
  }
  return b
}

/**
 * Shared expressions and their cached element: null until first written, false once written
 * once (only what is used again is worth a copy), then the bytes.
 */
const wire = new WeakMap<Expression, Buffer | null | false>()

/**
 * Marks an expression as a shared constant: used by many rules, never changed. Its encoding is
 * cached on first use.
 */
export function shared<T extends Expression>(e: T): T {
  if (!wire.has(e)) wire.set(e, null)
  return e
}

/**
 * Writes one expression as a list element. `setIds[id]`, when given, is the transaction's id for
 * the builder's inline set `id`: lookups into it are written with that id.
 */
export function writeExpression(w: AttributeWriter, e: Expression, setIds?: number[]): void {
  const cached = wire.get(e)
  if (cached) {
    w.raw(cached)
    return
  }
  const start = w.length
  const at = w.beginNested(NFTA_LIST_ELEM)
  w.raw(nameAttribute(e.kind))
  const data = w.beginNested(EXPR.DATA)
  const id = setIds !== undefined && e instanceof Lookup && e.setId !== undefined ? setIds[e.setId] : undefined
  if (id !== undefined) (e as Lookup).encodeWith(w, id)
  else e.encode(w)
  w.endNested(data)
  w.endNested(at)
  if (cached === null) wire.set(e, false)
  else if (cached === false) wire.set(e, Buffer.from(w.buf.subarray(start, w.length)))
}
