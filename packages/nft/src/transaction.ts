// One transaction = one nfnetlink batch (BATCH_BEGIN, messages, BATCH_END) sent in one sendmsg:
// the kernel applies all of it or none. Every message asks for an ack, so a failure names the
// message that caused it.
import { NLM_F_APPEND, NLM_F_CREATE, NLM_F_EXCL, NetlinkError, type NetlinkRequest, type NetlinkSocket } from './netlink.js'
import type { AttributeWriter } from '@lab/netlink-native'
import { MSG, NFNL_MSG_BATCH_BEGIN, NFNL_MSG_BATCH_END, NFNL_SUBSYS_NFTABLES, SET, SET_ELEM_LIST, msgType } from './constants.js'
import { RuleBuilder, expandDependencies } from './builder.js'
import type { Expression } from './expr/expression.js'
import { validateChain, writeChain, type ChainSpec } from './objects/chain.js'
import { nfgenmsg, type TableRef } from './objects/header.js'
import { writeRule, type RuleSpec } from './objects/rule.js'
import { writeElements, writeSet, type ElementSpec, type SetSpec } from './objects/set.js'
import { writeTable } from './objects/table.js'

export class TransactionError extends Error {
  constructor(
    readonly failed: Array<{ index: number; description: string; error: NetlinkError }>,
  ) {
    const first = failed[0]!
    super(`nftables transaction rolled back: ${first.error.code}: ${first.description}${first.error.extack.message ? ` (${first.error.extack.message})` : ''}`)
    this.name = 'TransactionError'
  }

  get code(): string {
    return this.failed[0]!.error.code
  }
}

interface Queued {
  request: NetlinkRequest
  describe: () => string
}

let nextSetId = 1
/** Elements are at most ~60 bytes each when encoded: 512 keep a message's nest under 64 KiB. */
const ELEMENTS_PER_MESSAGE = 512

export class Transaction {
  readonly #socket: NetlinkSocket
  readonly #queued: Queued[] = []
  #committed = false

  constructor(socket: NetlinkSocket) {
    this.#socket = socket
  }

  get size(): number {
    return this.#queued.length
  }

  #add(msg: number, family: TableRef['family'], flags: number, description: string | (() => string), body: (w: AttributeWriter) => void): this {
    if (this.#committed) throw new Error('transaction already committed')
    // Descriptions are only needed when the kernel refuses a message: build them lazily.
    const describe = typeof description === 'string' ? () => description : description
    const request: NetlinkRequest = {
      type: msgType(msg),
      flags,
      op: 'nft',
      get object() {
        return describe()
      },
      body: (w) => {
        nfgenmsg(w, family)
        body(w)
      },
    }
    this.#queued.push({ request, describe })
    return this
  }

  addTable(t: TableRef & { flags?: number }): this {
    return this.#add(MSG.NEWTABLE, t.family, NLM_F_CREATE, `add table ${t.family} ${t.name}`, (w) => writeTable(w, t))
  }

  /** Creates the table, failing if it exists (`nft create table`). */
  createTable(t: TableRef): this {
    return this.#add(MSG.NEWTABLE, t.family, NLM_F_CREATE | NLM_F_EXCL, `create table ${t.family} ${t.name}`, (w) => writeTable(w, t))
  }

  deleteTable(t: TableRef): this {
    return this.#add(MSG.DELTABLE, t.family, 0, `delete table ${t.family} ${t.name}`, (w) => writeTable(w, t))
  }

  /** Removes every chain, rule and set in the table but keeps the table (`nft flush table`). */
  flushTable(t: TableRef): this {
    return this.#add(MSG.DELRULE, t.family, 0, `flush table ${t.family} ${t.name}`, (w) => writeTable(w, t))
  }

  addChain(c: ChainSpec): this {
    validateChain(c)
    return this.#add(MSG.NEWCHAIN, c.table.family, NLM_F_CREATE, `add chain ${c.table.family} ${c.table.name} ${c.name}`, (w) => writeChain(w, c))
  }

  deleteChain(c: Pick<ChainSpec, 'table' | 'name'>): this {
    return this.#add(MSG.DELCHAIN, c.table.family, 0, `delete chain ${c.table.family} ${c.table.name} ${c.name}`, (w) => writeChain(w, c))
  }

  /** Removes the rules of a chain (`nft flush chain`). */
  flushChain(c: Pick<ChainSpec, 'table' | 'name'>): this {
    return this.#add(MSG.DELRULE, c.table.family, 0, `flush chain ${c.table.family} ${c.table.name} ${c.name}`, (w) => writeRule(w, { table: c.table, chain: c.name, exprs: [] }))
  }

  /** Appends a rule to a chain (`nft add rule`); with `position`, after that rule. */
  addRule(r: Omit<RuleSpec, 'exprs'> & { exprs: Expression[] | RuleBuilder }): this {
    return this.#rule('add', NLM_F_CREATE | NLM_F_APPEND, r)
  }

  /** Prepends a rule (`nft insert rule`); with `position`, before that rule. */
  insertRule(r: Omit<RuleSpec, 'exprs'> & { exprs: Expression[] | RuleBuilder }): this {
    return this.#rule('insert', NLM_F_CREATE, r)
  }

  #rule(verb: string, flags: number, r: Omit<RuleSpec, 'exprs'> & { exprs: Expression[] | RuleBuilder }): this {
    const exprs = expandDependencies(r.exprs instanceof RuleBuilder ? r.exprs.exprs : r.exprs, r.table.family)
    // Inline sets go in first: the rule finds them by their transaction id.
    if (r.exprs instanceof RuleBuilder) {
      for (const set of r.exprs.anonymousSets) {
        const spec: SetSpec = { table: r.table, name: set.name, type: set.type, flags: ['anonymous', 'constant'], id: set.id, ...(set.verdicts ? { dataType: 'verdict' as const } : {}) }
        this.#add(MSG.NEWSET, r.table.family, NLM_F_CREATE, `add set ${r.table.family} ${r.table.name} (inline)`, (w) => writeSet(w, spec))
        this.addElements(spec, set.elements.map((key, i) => ({ key, ...(set.verdicts ? { value: set.verdicts[i]! } : {}) })))
      }
    }
    const spec = { ...r, exprs }
    return this.#add(MSG.NEWRULE, r.table.family, flags, () => `${verb} rule ${r.table.family} ${r.table.name} ${r.chain}`, (w) => writeRule(w, spec))
  }

  deleteRule(r: { table: TableRef; chain: string; handle: bigint }): this {
    return this.#add(MSG.DELRULE, r.table.family, 0, `delete rule ${r.table.family} ${r.table.name} ${r.chain} handle ${r.handle}`, (w) => writeRule(w, { ...r, exprs: [] }))
  }

  /** Adds a named set; returns it with the transaction id rules in this transaction can use. */
  addSet(s: SetSpec): SetSpec {
    const spec = { ...s, id: s.id ?? nextSetId++ }
    this.#add(MSG.NEWSET, s.table.family, NLM_F_CREATE, `add set ${s.table.family} ${s.table.name} ${s.name}`, (w) => writeSet(w, spec))
    return spec
  }

  deleteSet(s: Pick<SetSpec, 'table' | 'name'>): this {
    return this.#add(MSG.DELSET, s.table.family, 0, `delete set ${s.table.family} ${s.table.name} ${s.name}`, (w) => {
      w.str(SET.TABLE, s.table.name)
      w.str(SET.NAME, s.name)
    })
  }

  /** Removes every element of a set (`nft flush set`). */
  flushSet(s: Pick<SetSpec, 'table' | 'name'>): this {
    return this.#add(MSG.DELSETELEM, s.table.family, 0, `flush set ${s.table.family} ${s.table.name} ${s.name}`, (w) => {
      w.str(SET_ELEM_LIST.TABLE, s.table.name)
      w.str(SET_ELEM_LIST.SET, s.name)
    })
  }

  addElements(s: SetSpec, elements: ElementSpec[]): this {
    // An attribute holds at most 64 KiB: long element lists go in several messages.
    for (let at = 0; at < elements.length; at += ELEMENTS_PER_MESSAGE) {
      const chunk = elements.slice(at, at + ELEMENTS_PER_MESSAGE)
      this.#add(MSG.NEWSETELEM, s.table.family, NLM_F_CREATE, `add element ${s.table.family} ${s.table.name} ${s.name}`, (w) => writeElements(w, s, chunk))
    }
    return this
  }

  deleteElements(s: SetSpec, elements: ElementSpec[]): this {
    for (let at = 0; at < elements.length; at += ELEMENTS_PER_MESSAGE) {
      const chunk = elements.slice(at, at + ELEMENTS_PER_MESSAGE)
      this.#add(MSG.DELSETELEM, s.table.family, 0, `delete element ${s.table.family} ${s.table.name} ${s.name}`, (w) => writeElements(w, { ...s, id: undefined }, chunk))
    }
    return this
  }

  /** Sends the batch; resolves when the kernel committed it, rejects with TransactionError otherwise. */
  async commit(): Promise<void> {
    if (this.#committed) throw new Error('transaction already committed')
    this.#committed = true
    if (this.#queued.length === 0) return
    const delimiter = (type: number): NetlinkRequest => ({
      type,
      noReply: true,
      op: 'nft batch',
      body: (w) => nfgenmsg(w, 'unspec', NFNL_SUBSYS_NFTABLES),
    })
    const requests = [delimiter(NFNL_MSG_BATCH_BEGIN), ...this.#queued.map((q) => q.request), delimiter(NFNL_MSG_BATCH_END)]
    const results = await this.#socket.exchange(requests, { atomic: true, ackLastOnly: true })
    const failed = results.slice(1, -1).flatMap((r, index) => (r instanceof NetlinkError ? [{ index, description: this.#queued[index]!.describe(), error: r }] : []))
    if (failed.length > 0) throw new TransactionError(failed)
  }
}
