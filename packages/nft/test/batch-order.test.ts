import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { TestNetns, cleanupAll, isRoot } from '@lab/testkit'
import { Nft, TransactionError, rule, type TableRef } from '../src/index.js'
import { worthAnchoring, type AppendRun } from '../src/batch-order.js'

/** A run of `rules` appended rules with an inline-set rule (3 messages) after every `every` plain ones. */
function run(rules: number, every: number, qStart: number): AppendRun {
  const r: AppendRun = { family: 'inet', table: 't', chain: 'c', start: 0, qStart, end: 0, qEnd: 0, groups: [] }
  let q = qStart
  for (let i = 0; i < rules; i++) {
    if (i % every === every - 1) {
      r.groups.push({ start: 0, rule: 0, end: 0, qStart: q, qRule: q + 2, qEnd: q + 3 })
      q += 3
    } else q += 1
  }
  r.qEnd = q
  return r
}

describe('when a run is worth the anchored order', () => {
  it('is for many rules with inline sets among them, at the start of a batch', () => {
    expect(worthAnchoring(run(100_000, 500, 6), 6)).toBe(true)
    expect(worthAnchoring(run(10_000, 500, 6), 6)).toBe(true)
  })
  it('is not without inline sets, nor after a long batch (each anchored rule would walk all of it)', () => {
    expect(worthAnchoring(run(10_000, 20_000, 6), 6)).toBe(false)
    expect(worthAnchoring(run(10_000, 500, 200_000), 200_000)).toBe(false)
  })
})

// Runs of appended rules with inline sets are sent anchored (src/batch-order.ts): the inline-set
// rules first, the others inserted before them by NFTA_RULE_POSITION_ID. The chain must read back
// as nft -f makes it from the same rules in order, and errors must name the queued change.
describe.skipIf(!isRoot())('anchored order of appended rules with inline sets (needs root)', () => {
  let ns: TestNetns
  let nft: Nft
  const t: TableRef = { family: 'inet', name: 'order' }

  beforeAll(async () => {
    ns = await TestNetns.create('nftord')
    nft = await Nft.open({ netns: ns.name })
  })
  afterAll(async () => {
    await nft?.close()
    cleanupAll()
  })
  // A failed test leaves nothing for the next one.
  afterEach(async () => {
    await ns.exec(['nft', 'delete', 'table', 'inet', 'order'], { allowFailure: true })
  })

  const theirs = async (...args: string[]) => (await ns.exec(['nft', ...args])).stdout

  /** Rule i as nft text and as a builder: an inline set every `every` rules, plain ones between. */
  const shape = (i: number, every: number): [string, ReturnType<typeof rule>] =>
    i % every === every - 1
      ? i % 2
        ? [`tcp dport { 22, ${1000 + i} } accept`, rule().tcp('dport', [22, 1000 + i]).accept()]
        : [`ip saddr { 10.${i & 255}.0.0/16, 192.0.2.${i & 255} } jump sub`, rule().ip('saddr', [`10.${i & 255}.0.0/16`, `192.0.2.${i & 255}`]).jump('sub')]
      : [`udp dport ${2000 + i} counter drop`, rule().udp('dport', 2000 + i).counter().drop()]

  it('lists the same as nft -f, after rules already in the chain, with the inline-set rules sent first', async () => {
    const rules = Array.from({ length: 400 }, (_, i) => shape(i, 7))
    const head = `add table inet order\nadd chain inet order c\nadd chain inet order sub\nadd rule inet order c meta mark 1 accept\n`
    await ns.exec(['nft', '-f', '-'], { input: head + rules.map(([text]) => `add rule inet order c ${text}\n`).join('') })
    const expected = await theirs('list', 'ruleset')
    await nft.apply((tx) => tx.delTable(t))

    await ns.exec(['nft', '-f', '-'], { input: head })
    await nft.apply((tx) => {
      for (const [, b] of rules) tx.addRule({ table: t, chain: 'c', exprs: b })
    })
    expect(await theirs('list', 'ruleset')).toBe(expected)
    // Sent anchored, the kernel numbered the inline-set rules before the rules queued ahead of them.
    const handles = [...(await theirs('-a', 'list', 'chain', 'inet', 'order', 'c')).matchAll(/# handle (\d+)/g)].map((m) => Number(m[1]))
    const increasing = handles.every((h, i) => i === 0 || h > handles[i - 1]!)
    expect(increasing).toBe(false)
  })

  it('keeps other changes and other chains in their places', async () => {
    await nft.apply((tx) => {
      tx.addTable(t)
      tx.addChain({ table: t, name: 'c' })
      tx.addChain({ table: t, name: 'sub' })
      tx.addChain({ table: t, name: 'd' })
      for (let i = 0; i < 60; i++) tx.addRule({ table: t, chain: i % 20 < 10 ? 'c' : 'd', exprs: shape(i, 4)[1] })
      // A flush in the middle empties what came before it only.
      tx.flushChain({ table: t, name: 'd' })
      for (let i = 60; i < 100; i++) tx.addRule({ table: t, chain: 'd', exprs: shape(i, 4)[1] })
      tx.insertRule({ table: t, chain: 'c', exprs: rule().tcp('dport', 1).drop() })
    })
    const text = await theirs('list', 'ruleset')
    const c = Array.from({ length: 60 }, (_, i) => i).filter((i) => i % 20 < 10)
    const lines = (chain: string) => text.split(`chain ${chain} {\n`)[1]!.split('\t}')[0]!.trim().split('\n').map((l) => l.trim())
    expect(lines('c')).toEqual(['tcp dport 1 drop', ...c.map((i) => shape(i, 4)[0].replace('counter', 'counter packets 0 bytes 0'))])
    expect(lines('d')).toEqual(Array.from({ length: 40 }, (_, k) => shape(60 + k, 4)[0].replace('counter', 'counter packets 0 bytes 0')))
  })

  it('names the queued change the kernel refused, not the rules anchored to it', async () => {
    const tx = nft.transaction()
    tx.addTable(t)
    tx.addChain({ table: t, name: 'c' })
    tx.addChain({ table: t, name: 'sub' })
    for (let i = 0; i < 20; i++) tx.addRule({ table: t, chain: 'c', exprs: shape(i, 7)[1] })
    // Queue index 23 + 2 + 2 messages per inline-set rule before it: a refused inline-set rule.
    tx.addRule({ table: t, chain: 'c', exprs: rule().tcp('dport', [80, 81]).jump('no-such-chain') })
    for (let i = 0; i < 5; i++) tx.addRule({ table: t, chain: 'c', exprs: shape(i, 100)[1] })
    // A plain rule refused among rules sent before the inline-set rule that follows it.
    tx.addRule({ table: t, chain: 'c', exprs: rule().jump('no-chain-either') })
    tx.addRule({ table: t, chain: 'c', exprs: rule().tcp('dport', [90, 91]).accept() })
    const err = (await tx.commit().catch((e: unknown) => e)) as TransactionError
    expect(err).toBeInstanceOf(TransactionError)
    // 3 + 20 rules + 2 inline sets (2 messages each) = 27; the refused rule's own sets, 27 and 28.
    expect(err.failed.map((f) => [f.index, f.description, f.error.code])).toEqual([
      [29, 'add rule inet order c', 'ENOENT'],
      [35, 'add rule inet order c', 'ENOENT'],
    ])
    expect(await theirs('list', 'tables')).not.toContain('order')
  })
})
