// One transaction = one nfnetlink batch (BATCH_BEGIN, messages, BATCH_END) sent in one sendmsg:
// the kernel applies all of it or none. Only the last message asks for an ack: nfnetlink answers
// every message it refuses with its error whether or not that message asked for one, and those
// errors arrive before the last ack, so a failure still names each message that caused it while a
// 20,000-rule batch waits for one ack, not 20,000. (nft itself asks for none and polls for errors.)
// Each change is encoded into the batch's one growing buffer when it is queued: one pass, nothing
// kept per message but the index of its description, so a rule's builder objects die young.
// Runs of rules appended to one chain that have inline sets are sent in another order with the same
// result, which keeps the kernel's work linear (batch-order.ts); errors still name queue indices.
import { release } from 'node:os'
import { NLM_F_APPEND, NLM_F_CREATE, NLM_F_EXCL, nl, type NetlinkSocket } from './netlink.js'
import { MessageWriter, type AttributeWriter } from '@lab/netlink-native'
import { MSG, NFNL_MSG_BATCH_BEGIN, NFNL_MSG_BATCH_END, NFNL_SUBSYS_NFTABLES, RULE, SET, SET_ELEM_LIST, msgType } from './constants.js'
import { NetworkDependency, RuleBuilder, dependencyFor } from './builder.js'
import { NFT_ERROR_CODES, NftError, TransactionError } from './errors.js'
import type { Expression } from './expr/expression.js'
import { writeExpression } from './expr/wire.js'
import { validateChain, writeChain, type ChainSpec } from './objects/chain.js'
import { nfgenmsg, type TableRef } from './objects/header.js'
import { writeRule, writeRuleComment, type RuleSpec } from './objects/rule.js'
import { writeElements, writeSet, type ElementSpec, type SetSpec } from './objects/set.js'
import { writeTable } from './objects/table.js'
import { type AppendRun, type Piece, copyBytes, worthAnchoring, writeAnchored } from './batch-order.js'

export { TransactionError } from './errors.js'

/**
 * The ids one connection hands out to the sets its transactions create (NFTA_SET_ID), so rules in
 * the same batch can refer to a set the kernel has not named yet. They only need to be unique
 * within a batch; keeping them per connection keeps two handles (or two processes) independent.
 */
export class TransactionIds {
  #next = 1

  next(): number {
    const id = this.#next
    this.#next = this.#next >= 0xffffffff ? 1 : this.#next + 1
    return id
  }
}

/** Elements are at most ~60 bytes each when encoded: 512 keep a message's nest under 64 KiB. */
const ELEMENTS_PER_MESSAGE = 512

/**
 * NFT_MSG_DESTROY* exist from Linux 6.3 on; older kernels refuse them. No emulation: an "add then
 * delete" pair does not exist for rules and needs the set's type for sets, so on older kernels
 * destroy* throws before anything is sent, and callers use del* with isNotFound().
 */
function requireDestroy(description: string): void {
  const [major = 0, minor = 0] = release().split(/[.-]/).map(Number)
  if (major > 6 || (major === 6 && minor >= 3)) return
  throw new NftError(NFT_ERROR_CODES.unsupported, `${description}: needs Linux 6.3 or later (NFT_MSG_DESTROY*), this is ${release()}; use del* and isNotFound() instead`)
}

type RuleInput = Omit<RuleSpec, 'exprs'> & { exprs: Expression[] | RuleBuilder }

/**
 * A batch of changes, queued by the add/insert/del/destroy/flush calls and sent by commit().
 * Verbs as google/nftables' API conventions: `add` creates (and keeps what exists), `create`
 * fails if it exists, `del` fails if absent, `destroy` does not, `flush` empties and keeps.
 */
export class Transaction {
  readonly #socket: NetlinkSocket
  readonly #ids: TransactionIds
  /** The batch as it will be sent: BATCH_BEGIN, then each change as it is queued. */
  readonly #w = new MessageWriter(16384)
  #count = 0
  /** Where the last queued message starts (it gets the one NLM_F_ACK). */
  #last = -1
  /** Per message, its description's index in #texts; built once per distinct description. */
  readonly #which: number[] = []
  readonly #texts: string[] = []
  #ruleKey: { verb: string; family: string; table: string; chain: string; text: number } | undefined
  #committed = false
  /** Runs of rules appended to one chain (batch-order.ts); the last one is open while #run is set. */
  readonly #runs: AppendRun[] = []
  #run: AppendRun | undefined
  /** Set while a rule queues its inline sets, which do not end the run the rule belongs to. */
  #inRule = false

  constructor(socket: NetlinkSocket, ids: TransactionIds = new TransactionIds()) {
    this.#socket = socket
    this.#ids = ids
    const at = this.#w.begin(NFNL_MSG_BATCH_BEGIN, nl.NLM_F_REQUEST, 0)
    nfgenmsg(this.#w, 'unspec', NFNL_SUBSYS_NFTABLES)
    this.#w.end(at)
  }

  get size(): number {
    return this.#count
  }

  #text(description: string): number {
    this.#texts.push(description)
    return this.#texts.length - 1
  }

  /** Writes one message; on an encoding error nothing of it stays in the batch. */
  #add(msg: number, family: TableRef['family'], flags: number, description: string | number, body: (w: AttributeWriter) => void): this {
    if (this.#committed) throw new NftError(NFT_ERROR_CODES.committed, 'transaction already committed')
    const w = this.#w
    if (!this.#inRule) this.#closeRun()
    const at = w.begin(msgType(msg), flags | nl.NLM_F_REQUEST, 0)
    try {
      nfgenmsg(w, family)
      body(w)
    } catch (error) {
      w.length = at
      throw error
    }
    w.end(at)
    this.#queued(at, typeof description === 'number' ? description : this.#text(description))
    return this
  }

  /** Ends the open run of appended rules (the next message is something else). */
  #closeRun(): void {
    const run = this.#run
    if (run === undefined) return
    run.end = this.#w.length
    run.qEnd = this.#count
    this.#run = undefined
  }

  #queued(at: number, text: number): void {
    this.#last = at
    this.#which.push(text)
    this.#count++
  }

  #destroy(msg: number, family: TableRef['family'], description: string, body: (w: AttributeWriter) => void): this {
    requireDestroy(description)
    return this.#add(msg, family, 0, description, body)
  }

  /** Creates the table, or keeps it as it is (`nft add table`). */
  addTable(t: TableRef & { flags?: number }): this {
    return this.#add(MSG.NEWTABLE, t.family, NLM_F_CREATE, `add table ${t.family} ${t.name}`, (w) => writeTable(w, t))
  }

  /** Creates the table, failing if it exists (`nft create table`). */
  createTable(t: TableRef): this {
    return this.#add(MSG.NEWTABLE, t.family, NLM_F_CREATE | NLM_F_EXCL, `create table ${t.family} ${t.name}`, (w) => writeTable(w, t))
  }

  /** Deletes the table and all in it; fails (ENOENT) if it is not there (`nft delete table`). */
  delTable(t: TableRef): this {
    return this.#add(MSG.DELTABLE, t.family, 0, `delete table ${t.family} ${t.name}`, (w) => writeTable(w, t))
  }

  /** Deletes the table and all in it if it is there (`nft destroy table`; Linux 6.3+). */
  destroyTable(t: TableRef): this {
    return this.#destroy(MSG.DESTROYTABLE, t.family, `destroy table ${t.family} ${t.name}`, (w) => writeTable(w, t))
  }

  /**
   * Removes the rules of every chain in the table, keeping its chains and sets and their elements
   * (`nft flush table`: one DELRULE naming only the table).
   */
  flushTable(t: TableRef): this {
    return this.#add(MSG.DELRULE, t.family, 0, `flush table ${t.family} ${t.name}`, (w) => writeTable(w, t))
  }

  /** Creates the chain, or keeps it (`nft add chain`). */
  addChain(c: ChainSpec): this {
    validateChain(c)
    return this.#add(MSG.NEWCHAIN, c.table.family, NLM_F_CREATE, `add chain ${c.table.family} ${c.table.name} ${c.name}`, (w) => writeChain(w, c))
  }

  /** Deletes an empty, unreferenced chain; fails (ENOENT) if it is not there (`nft delete chain`). */
  delChain(c: Pick<ChainSpec, 'table' | 'name'>): this {
    return this.#add(MSG.DELCHAIN, c.table.family, 0, `delete chain ${c.table.family} ${c.table.name} ${c.name}`, (w) => writeChain(w, c))
  }

  /** Deletes the chain if it is there (`nft destroy chain`; Linux 6.3+). */
  destroyChain(c: Pick<ChainSpec, 'table' | 'name'>): this {
    return this.#destroy(MSG.DESTROYCHAIN, c.table.family, `destroy chain ${c.table.family} ${c.table.name} ${c.name}`, (w) => writeChain(w, c))
  }

  /** Removes the rules of a chain (`nft flush chain`). */
  flushChain(c: Pick<ChainSpec, 'table' | 'name'>): this {
    return this.#add(MSG.DELRULE, c.table.family, 0, `flush chain ${c.table.family} ${c.table.name} ${c.name}`, (w) => writeRule(w, { table: c.table, chain: c.name, exprs: [] }))
  }

  /** Appends a rule to a chain (`nft add rule`); with `position`, after that rule. */
  addRule(r: RuleInput): this {
    return this.#rule('add', NLM_F_CREATE | NLM_F_APPEND, r)
  }

  /** Prepends a rule (`nft insert rule`); with `position`, before that rule. */
  insertRule(r: RuleInput): this {
    return this.#rule('insert', NLM_F_CREATE, r)
  }

  /** The rule's description, made once for a run of rules into the same chain. */
  #ruleText(verb: string, r: RuleInput): number {
    const k = this.#ruleKey
    if (k !== undefined && k.verb === verb && k.chain === r.chain && k.table === r.table.name && k.family === r.table.family) return k.text
    const text = this.#text(`${verb} rule ${r.table.family} ${r.table.name} ${r.chain}`)
    this.#ruleKey = { verb, family: r.table.family, table: r.table.name, chain: r.chain, text }
    return text
  }

  #rule(verb: string, flags: number, r: RuleInput): this {
    if (this.#committed) throw new NftError(NFT_ERROR_CODES.committed, 'transaction already committed')
    const builder = r.exprs instanceof RuleBuilder ? r.exprs : undefined
    const exprs = builder ? builder.exprs : (r.exprs as Expression[])
    const family = r.table.family
    const w = this.#w
    const start = w.length
    const count = this.#count
    const last = this.#last
    const texts = this.#texts.length
    const run = this.#run
    // A plain append (no position, no handle) joins or opens the run of its chain; anything else ends it.
    const appended = flags === (NLM_F_CREATE | NLM_F_APPEND) && r.position === undefined && (r as { handle?: bigint }).handle === undefined
    if (run !== undefined && !(appended && run.chain === r.chain && run.table === r.table.name && run.family === family)) this.#closeRun()
    // Kept (in #runs) only once it has an inline-set rule: nothing is kept per plain rule.
    if (appended && this.#run === undefined) this.#run = { family, table: r.table.name, chain: r.chain, start, qStart: count, end: -1, qEnd: -1, groups: [] }
    try {
      // Inline sets go in first, with ids of this connection; the rule's lookups name them by id.
      let setIds: number[] | undefined
      if (builder && builder.anonymousSets.length > 0) {
        setIds = []
        for (const set of builder.anonymousSets) {
          const id = this.#ids.next()
          setIds[set.id] = id
          const spec: SetSpec = {
            table: r.table,
            name: set.name,
            type: set.type,
            flags: set.interval ? ['anonymous', 'constant', 'interval'] : ['anonymous', 'constant'],
            id,
            ...(set.verdicts ? { dataType: 'verdict' as const } : {}),
          }
          this.#inRule = true
          try {
            this.#add(MSG.NEWSET, family, NLM_F_CREATE, `add set ${family} ${r.table.name} (inline)`, (w) => writeSet(w, spec))
            this.addElements(spec, set.elements.map((key, i) => ({ key, ...(set.verdicts ? { value: set.verdicts[i]! } : {}) })))
          } finally {
            this.#inRule = false
          }
        }
      }
      const at = w.begin(msgType(MSG.NEWRULE), flags | nl.NLM_F_REQUEST, 0)
      nfgenmsg(w, family)
      w.str(RULE.TABLE, r.table.name)
      w.str(RULE.CHAIN, r.chain)
      // A rule read back (with its handle) and queued again: sent as before, for the kernel to judge.
      const handle = (r as { handle?: bigint }).handle
      if (handle !== undefined) w.be64(RULE.HANDLE, handle)
      if (r.position !== undefined) w.be64(RULE.POSITION, r.position)
      if (exprs.length > 0) {
        const list = w.beginNested(RULE.EXPRESSIONS)
        // Each protocol's check once per rule, as nft does (expandDependencies says the same).
        let seen = 0
        for (let i = 0; i < exprs.length; i++) {
          const e = exprs[i]!
          if (e instanceof NetworkDependency) {
            if (seen & (e.family === 4 ? 1 : 2)) continue
            seen |= e.family === 4 ? 1 : 2
            const pair = dependencyFor(e, family)
            if (pair) {
              writeExpression(w, pair[0])
              writeExpression(w, pair[1])
            }
          } else writeExpression(w, e, setIds)
        }
        w.endNested(list)
      }
      if (r.comment !== undefined) writeRuleComment(w, r.comment)
      w.end(at)
      this.#queued(at, this.#ruleText(verb, r))
      if (setIds !== undefined && appended) {
        const open = this.#run!
        if (open.groups.length === 0) this.#runs.push(open)
        open.groups.push({ start, rule: at, end: w.length, qStart: count, qRule: this.#count - 1, qEnd: this.#count })
      }
    } catch (error) {
      // Nothing of a rule that cannot be encoded stays queued, nor its inline sets.
      w.length = start
      this.#count = count
      this.#which.length = count
      this.#last = last
      this.#texts.length = texts
      if (this.#ruleKey && this.#ruleKey.text >= texts) this.#ruleKey = undefined
      // The run it ended (if any) goes on; one it opened is dropped (#runs gets runs on success only).
      this.#run = run
      if (run !== undefined) {
        run.end = -1
        run.qEnd = -1
      }
      throw error
    }
    return this
  }

  /** Deletes a rule by handle; fails (ENOENT) if it is not there (`nft delete rule ... handle N`). */
  delRule(r: { table: TableRef; chain: string; handle: bigint }): this {
    return this.#add(MSG.DELRULE, r.table.family, 0, `delete rule ${r.table.family} ${r.table.name} ${r.chain} handle ${r.handle}`, (w) => writeRule(w, { ...r, exprs: [] }))
  }

  /** Deletes a rule by handle if it is there (`nft destroy rule`; Linux 6.3+). */
  destroyRule(r: { table: TableRef; chain: string; handle: bigint }): this {
    return this.#destroy(MSG.DESTROYRULE, r.table.family, `destroy rule ${r.table.family} ${r.table.name} ${r.chain} handle ${r.handle}`, (w) => writeRule(w, { ...r, exprs: [] }))
  }

  /** Adds a named set (or keeps it); returns it with the id rules in this transaction can use. */
  addSet(s: SetSpec): SetSpec {
    const spec = { ...s, id: s.id ?? this.#ids.next() }
    this.#add(MSG.NEWSET, s.table.family, NLM_F_CREATE, `add set ${s.table.family} ${s.table.name} ${s.name}`, (w) => writeSet(w, spec))
    return spec
  }

  /** Deletes an unreferenced set; fails (ENOENT) if it is not there (`nft delete set`). */
  delSet(s: Pick<SetSpec, 'table' | 'name'>): this {
    return this.#add(MSG.DELSET, s.table.family, 0, `delete set ${s.table.family} ${s.table.name} ${s.name}`, (w) => writeSetName(w, s))
  }

  /** Deletes the set if it is there (`nft destroy set`; Linux 6.3+). */
  destroySet(s: Pick<SetSpec, 'table' | 'name'>): this {
    return this.#destroy(MSG.DESTROYSET, s.table.family, `destroy set ${s.table.family} ${s.table.name} ${s.name}`, (w) => writeSetName(w, s))
  }

  /** Removes every element of a set (`nft flush set`). */
  flushSet(s: Pick<SetSpec, 'table' | 'name'>): this {
    return this.#add(MSG.DELSETELEM, s.table.family, 0, `flush set ${s.table.family} ${s.table.name} ${s.name}`, (w) => {
      w.str(SET_ELEM_LIST.TABLE, s.table.name)
      w.str(SET_ELEM_LIST.SET, s.name)
    })
  }

  /** Adds elements (`nft add element`); in interval sets keys may be prefixes and ranges. */
  addElements(s: SetSpec, elements: ElementSpec[]): this {
    return this.#elements(MSG.NEWSETELEM, NLM_F_CREATE, 'add element', s, elements)
  }

  /** Deletes elements; fails (ENOENT) if one is not there (`nft delete element`). */
  delElements(s: SetSpec, elements: ElementSpec[]): this {
    return this.#elements(MSG.DELSETELEM, 0, 'delete element', { ...s, id: undefined }, elements)
  }

  /** Deletes those of the elements that are there; the set must exist (`nft destroy element`; Linux 6.3+). */
  destroyElements(s: SetSpec, elements: ElementSpec[]): this {
    requireDestroy(`destroy element ${s.table.family} ${s.table.name} ${s.name}`)
    return this.#elements(MSG.DESTROYSETELEM, 0, 'destroy element', { ...s, id: undefined }, elements)
  }

  #elements(msg: number, flags: number, verb: string, s: SetSpec, elements: ElementSpec[]): this {
    // An attribute holds at most 64 KiB: long element lists go in several messages.
    for (let at = 0; at < elements.length; at += ELEMENTS_PER_MESSAGE) {
      const chunk = elements.slice(at, at + ELEMENTS_PER_MESSAGE)
      this.#add(msg, s.table.family, flags, `${verb} ${s.table.family} ${s.table.name} ${s.name}`, (w) => writeElements(w, s, chunk))
    }
    return this
  }

  /**
   * The batch to send: as queued, or with runs of appended rules that have inline sets in the
   * anchored order (batch-order.ts), which spares the kernel a walk over the whole batch per
   * inline set. `pieces` maps the batch's messages back to their queue indices when reordered.
   */
  #ordered(): { w: MessageWriter; last: number; pieces?: Piece[] } {
    const w = this.#w
    const chosen = hasPositionId() ? this.#runs.filter((run) => worthAnchoring(run, run.qStart)) : []
    if (chosen.length === 0) return { w, last: this.#last }
    const out = new MessageWriter(w.length + 8 * (this.#count + 1) + 64)
    const pieces: Piece[] = []
    let from = 0
    let qFrom = 0
    let last = this.#last
    let ruleId = 0
    const nextRuleId = () => ++ruleId
    for (const run of chosen) {
      // What lies between runs goes as it is (BATCH_BEGIN first).
      copyBytes(out, w.buf, from, run.start)
      // A run keeps its place in the batch: only its own messages change places.
      if (run.qStart > qFrom) pieces.push({ at: qFrom, qStart: qFrom, count: run.qStart - qFrom, anchor: -1 })
      const written = writeAnchored(out, w.buf, run, run.qStart, nextRuleId)
      pieces.push(...written.pieces)
      if (run.qEnd === this.#count) last = written.last
      else last = this.#last + (out.length - run.end)
      from = run.end
      qFrom = run.qEnd
    }
    copyBytes(out, w.buf, from, w.length)
    if (this.#count > qFrom) pieces.push({ at: qFrom, qStart: qFrom, count: this.#count - qFrom, anchor: -1 })
    return { w: out, last, pieces }
  }

  /** Sends the batch; resolves when the kernel committed it, rejects with TransactionError otherwise. */
  async commit(): Promise<void> {
    if (this.#committed) throw new NftError(NFT_ERROR_CODES.committed, 'transaction already committed')
    this.#committed = true
    if (this.#count === 0) return
    this.#closeRun()
    const { w, last, pieces } = this.#ordered()
    // The one ack: on the last change (the batch delimiters are answered by no one).
    w.buf.writeUInt16LE(w.buf.readUInt16LE(last + 6) | nl.NLM_F_ACK, last + 6)
    const at = w.begin(NFNL_MSG_BATCH_END, nl.NLM_F_REQUEST, 0)
    nfgenmsg(w, 'unspec', NFNL_SUBSYS_NFTABLES)
    w.end(at)
    // Batch index (BATCH_BEGIN is 0) to queue index, where runs were sent in another order.
    const queued = (index: number): number => {
      if (pieces === undefined) return index - 1
      for (const p of pieces) if (index - 1 >= p.at && index - 1 < p.at + p.count) return p.qStart + (index - 1 - p.at)
      return index - 1
    }
    const describe = (index: number) => (index >= 1 && index <= this.#count ? this.#texts[this.#which[queued(index)]!] : 'nft batch')
    const failures = await this.#socket.sendBatch(w.view(), { op: 'nft', describe })
    let failed = failures.flatMap(({ index, error }) => (index >= 1 && index <= this.#count ? [{ index: queued(index), description: describe(index)!, error, batch: index - 1 }] : []))
    if (pieces !== undefined && failed.length > 0) {
      // A rule sent anchored to an inline-set rule the kernel refused fails with ENOENT for that
      // reason alone: only the anchor's own error is reported.
      const refused = new Set(failed.map((f) => f.index))
      const anchorOf = (batch: number) => pieces.find((p) => batch >= p.at && batch < p.at + p.count)?.anchor ?? -1
      failed = failed.filter((f) => !(f.error.code === 'ENOENT' && refused.has(anchorOf(f.batch))))
      failed.sort((a, b) => a.index - b.index)
    }
    if (failed.length > 0) throw new TransactionError(failed.map(({ index, description, error }) => ({ index, description, error })))
    // A batch delimiter refused (an old kernel, a bad subsystem): not one of the changes, but no commit either.
    if (failures.length > 0) throw new TransactionError(failures.map(({ index, error }) => ({ index, description: describe(index)!, error })))
  }
}

/** Linux 5.1 added NFTA_RULE_POSITION_ID, which the anchored order needs. */
function hasPositionId(): boolean {
  const [major = 0, minor = 0] = release().split(/[.-]/).map(Number)
  return major > 5 || (major === 5 && minor >= 1)
}

function writeSetName(w: AttributeWriter, s: Pick<SetSpec, 'table' | 'name'>): void {
  w.str(SET.TABLE, s.table.name)
  w.str(SET.NAME, s.name)
}
