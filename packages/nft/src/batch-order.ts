// Sending a run of appended rules with inline sets so that the kernel's work stays linear.
//
// When a rule binds an anonymous set (a lookup of an inline set), nf_tables marks the set's
// pending transaction as bound by walking the WHOLE list of the batch's pending changes, newest to
// oldest, without stopping (__nft_set_trans_bind in Linux 6.18). A rule with an inline set that
// comes after 50,000 other rules in a batch costs a walk over 50,000 changes, each a cache miss:
// 200 inline sets among 100,000 rules cost about 1.3 s of the kernel's 3.3 s (perf), the same for
// `nft -f`, and it grows with (rules x inline sets).
//
// So a run of rules appended to one chain is sent in another order that gives the same chain:
// first each inline set with its elements and its rule (appended in turn, so they keep their
// order, and the walks are over a few hundred changes), then the other rules, each inserted before
// the inline-set rule that followed it when queued (NFTA_RULE_POSITION_ID, added at the end of the
// message, naming that rule's NFTA_RULE_ID; the kernel finds it by walking the pending changes from
// the oldest, and it is near the front), and the rules after the last inline-set rule appended as
// before. The chain reads back the same; only the rule handles (allocated in the order the kernel
// sees the rules) are no longer increasing along the chain.
import { MessageWriter } from '@lab/netlink-native'
import { NLM_F_APPEND } from './netlink.js'
import { RULE } from './constants.js'

/** An inline-set rule in a run: its sets and elements [start, rule), the rule [rule, end). */
export interface RuleGroup {
  start: number
  rule: number
  end: number
  /** Queue indices of its first message, its rule, and one past its last message. */
  qStart: number
  qRule: number
  qEnd: number
}

/** Rules appended (no position) to one chain, one after another, with nothing else between. */
export interface AppendRun {
  family: string
  table: string
  chain: string
  start: number
  qStart: number
  /** Set when the run is closed. */
  end: number
  qEnd: number
  groups: RuleGroup[]
}

/** Final batch messages [at, at + count) are the queued messages [qStart, qStart + count). */
export interface Piece {
  at: number
  qStart: number
  count: number
  /** For rules inserted before an inline-set rule: that rule's queue index. */
  anchor: number
}

const NFTA_RULE_POSITION_ID = 10

/** A change passed by a cold walk costs about this many passed by a hot one (see worthAnchoring). */
const COLD_PER_HOT = 30

/**
 * Whether the run is worth sending in the anchored order. The walks compared, in pending changes
 * passed: as queued, each inline-set rule walks all changes before it (`before` precede the run);
 * anchored, each inline-set rule walks the front of the run, and each other rule (but the tail's)
 * walks from the oldest change to its anchor. The first are cache misses over changes the kernel
 * made long ago, the second a short walk over the same few hundred changes again and again. perf
 * on Linux 6.18 (100,000 rules, 200 inline sets): 1.31 s for 10 M changes passed as queued (about
 * 130 ns each), 0.12 s for 31 M anchored (about 4 ns each). So the anchored order is chosen when it
 * walks fewer than COLD_PER_HOT / 4 times as many (a margin for other machines and cache sizes).
 */
export function worthAnchoring(run: AppendRun, before: number): boolean {
  if (run.groups.length === 0) return false
  let asQueued = 0
  let anchored = 0
  let front = 0
  let prevQ = run.qStart
  for (const g of run.groups) {
    asQueued += before + (g.qRule - run.qStart)
    front += g.qEnd - g.qStart
    anchored += before + front + (g.qStart - prevQ) * (before + front)
    prevQ = g.qEnd
  }
  return anchored < asQueued * (COLD_PER_HOT / 4)
}

/** Appends bytes [from, to) of src. */
export function copyBytes(out: MessageWriter, src: Buffer, from: number, to: number): void {
  if (to <= from) return
  out.ensure(to - from)
  src.copy(out.buf, out.length, from, to)
  out.length += to - from
}

/**
 * Appends the `count` messages in bytes [from, to) of src, each with a u32 attribute added at its
 * end (the kernel reads attributes in any order) and the `clear` flags taken off; returns the
 * offset of the last. One native copy for all of them, then each message moved into place within
 * the output (left, by 8 bytes per message before it): no allocation per message.
 */
function copyWithAttribute(out: MessageWriter, src: Buffer, from: number, to: number, count: number, type: number, value: number, clear: number): number {
  if (count === 0) return -1
  out.ensure(to - from + 8 * count)
  const b = out.buf
  const o = out.length
  const staged = o + 8 * count
  src.copy(b, staged, from, to)
  let at = o
  let last = -1
  for (let s = staged; s < staged + (to - from); ) {
    const len = b.readUInt32LE(s)
    // Never overwrites what is still to be moved: `at` stays 8 bytes per message behind `s`.
    b.copyWithin(at, s, s + len)
    b.writeUInt32LE(len + 8, at)
    b.writeUInt16LE(b.readUInt16LE(at + 6) & ~clear, at + 6)
    b.writeUInt16LE(8, at + len)
    b.writeUInt16LE(type, at + len + 2)
    b.writeUInt32BE(value >>> 0, at + len + 4)
    last = at
    at += len + 8
    s += len
  }
  out.length = at
  return last
}

/**
 * Writes the run's messages (bytes [run.start, run.end) of src, in queue order) into `out` in the
 * anchored order; `ruleId()` hands out NFTA_RULE_IDs unique in the batch. Returns the pieces
 * (final message index `at` counted from `firstIndex`) and the offset of the last message written.
 */
export function writeAnchored(out: MessageWriter, src: Buffer, run: AppendRun, firstIndex: number, ruleId: () => number): { pieces: Piece[]; last: number } {
  const pieces: Piece[] = []
  const ids: number[] = []
  let index = firstIndex
  let last = -1
  // The inline sets, their elements and their rules, in queue order; each rule gets an id.
  for (const g of run.groups) {
    copyBytes(out, src, g.start, g.rule)
    const id = ruleId()
    ids.push(id)
    last = copyWithAttribute(out, src, g.rule, g.end, 1, RULE.ID, id, 0)
    pieces.push({ at: index, qStart: g.qStart, count: g.qEnd - g.qStart, anchor: -1 })
    index += g.qEnd - g.qStart
  }
  // Then each other rule, inserted before the inline-set rule it preceded (no NLM_F_APPEND).
  let from = run.start
  let qFrom = run.qStart
  for (const [k, g] of run.groups.entries()) {
    const count = g.qStart - qFrom
    if (count > 0) {
      last = copyWithAttribute(out, src, from, g.start, count, NFTA_RULE_POSITION_ID, ids[k]!, NLM_F_APPEND)
      pieces.push({ at: index, qStart: qFrom, count, anchor: g.qRule })
      index += count
    }
    from = g.end
    qFrom = g.qEnd
  }
  // The rules after the last inline-set rule: appended, as queued.
  if (run.qEnd > qFrom) {
    for (let at = from; at < run.end; at += src.readUInt32LE(at)) last = out.length + (at - from)
    copyBytes(out, src, from, run.end)
    pieces.push({ at: index, qStart: qFrom, count: run.qEnd - qFrom, anchor: -1 })
  }
  return { pieces, last }
}
