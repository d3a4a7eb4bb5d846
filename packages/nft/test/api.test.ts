import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TestNetns, cleanupAll, isRoot } from '@lab/testkit'
import { LabError, isNotFound } from '@lab/netlink-native'
import { Nft, NftError, TransactionError, rule, type SetSpec, type TableRef, type Transaction } from '../src/index.js'

describe.skipIf(!isRoot())('the Nft handle and the transaction verbs (needs root)', () => {
  let ns: TestNetns
  let nft: Nft
  const t: TableRef = { family: 'ip', name: 'verbs' }

  beforeAll(async () => {
    ns = await TestNetns.create('nftapi')
    nft = await Nft.open({ netns: ns.name })
  })
  afterAll(async () => {
    await nft?.close()
    cleanupAll()
  })

  const theirs = async (...args: string[]) => (await ns.exec(['nft', ...args])).stdout

  it('opens a namespace by path as by name, closes idempotently, and supports await using', async () => {
    let seen: Nft | undefined
    {
      await using byPath = await Nft.open({ netns: ns.path })
      seen = byPath
      await byPath.apply((tx) => tx.addTable({ family: 'ip', name: 'bypath' }))
      expect(await theirs('list', 'tables')).toContain('table ip bypath')
    }
    expect(seen.closed).toBe(true)
    await seen.close()
    const err = (await seen.tables().catch((e: unknown) => e)) as NftError
    expect(err).toBeInstanceOf(NftError)
    expect(err).toBeInstanceOf(LabError)
    expect(err.code).toBe('LAB_ERR_NFT_CLOSED')
    await nft.apply((tx) => tx.delTable({ family: 'ip', name: 'bypath' }))
  })

  it('gives set ids per connection: each handle starts at 1, whatever other handles did', async () => {
    await using first = await Nft.open({ netns: ns.name })
    await using second = await Nft.open({ netns: ns.name })
    const a = first.transaction()
    a.addTable(t)
    expect(a.addSet({ table: t, name: 'a1', type: 'ipv4_addr' }).id).toBe(1)
    expect(a.addSet({ table: t, name: 'a2', type: 'ipv4_addr' }).id).toBe(2)
    await a.commit()
    const b = second.transaction()
    expect(b.addSet({ table: t, name: 'b1', type: 'ipv4_addr' }).id).toBe(1)
    // An inline set takes the connection's next id, and its rule finds it by that id.
    b.addChain({ table: t, name: 'c' })
    b.addRule({ table: t, chain: 'c', exprs: rule().tcp('dport', [22, 80]).accept() })
    expect(b.addSet({ table: t, name: 'b2', type: 'ipv4_addr' }).id).toBe(3)
    await b.commit()
    expect(await theirs('list', 'chain', 'ip', 'verbs', 'c')).toContain('tcp dport { 22, 80 } accept')
    await nft.apply((tx) => tx.delTable(t))
  })

  it('refuses a change that cannot be encoded when it is queued, keeping nothing of it (nor its inline sets)', async () => {
    const tx = nft.transaction()
    tx.addTable(t)
    tx.addChain({ table: t, name: 'enc' })
    expect(tx.size).toBe(2)
    // A comment over 254 bytes cannot be said in the rule's userdata; its inline set came first.
    expect(() => tx.addRule({ table: t, chain: 'enc', exprs: rule().tcp('dport', [22, 80]).accept(), comment: 'x'.repeat(300) })).toThrow(/comment/)
    expect(tx.size).toBe(2)
    tx.addRule({ table: t, chain: 'enc', exprs: rule().tcp('dport', [443, 8443]).accept(), comment: 'kept' })
    // After an inline set's two messages, a failing rule is still named by its own index.
    tx.addRule({ table: t, chain: 'enc', exprs: rule().jump('no-such-chain') })
    expect(tx.size).toBe(6)
    const err = (await tx.commit().catch((e: unknown) => e)) as TransactionError
    expect(err).toBeInstanceOf(TransactionError)
    expect(err.failed.map((f) => [f.index, f.description])).toEqual([[5, 'add rule ip verbs enc']])
    expect(await theirs('list', 'tables')).not.toContain('table ip verbs')
    const again = nft.transaction()
    again.addTable(t)
    again.addChain({ table: t, name: 'enc' })
    again.addRule({ table: t, chain: 'enc', exprs: rule().tcp('dport', [443, 8443]).accept(), comment: 'kept' })
    await again.commit()
    expect(await theirs('list', 'chain', 'ip', 'verbs', 'enc')).toContain('tcp dport { 443, 8443 } accept comment "kept"')
    await nft.apply((tx) => tx.delTable(t))
  })

  it('del* fails on what is absent (isNotFound), destroy* does not', async () => {
    const gone: TableRef = { family: 'inet', name: 'never-made' }
    const err = (await nft.apply((tx) => tx.delTable(gone)).catch((e: unknown) => e)) as TransactionError
    expect(err).toBeInstanceOf(TransactionError)
    expect(err).toBeInstanceOf(NftError)
    expect(err.code).toBe('LAB_ERR_NFT_TRANSACTION')
    expect(err.errors.map((e) => e.code)).toEqual(['ENOENT'])
    expect(isNotFound(err)).toBe(true)

    await nft.apply((tx) => {
      tx.destroyTable(gone)
      tx.addTable(t)
      tx.addChain({ table: t, name: 'c' })
      tx.destroyChain({ table: t, name: 'no-chain' })
      tx.destroySet({ table: t, name: 'no-set' })
      tx.destroyRule({ table: t, chain: 'c', handle: 999_999n })
    })
    const set: SetSpec = { table: t, name: 's', type: 'ipv4_addr', flags: ['interval'] }
    await nft.apply((tx) => {
      tx.addSet(set)
      tx.addElements(set, [{ key: '10.0.0.0/24' }, { key: '192.0.2.1' }])
    })
    await nft.apply((tx) => tx.destroyElements(set, [{ key: '10.0.0.0/24' }, { key: '198.51.100.1' }]))
    expect((await nft.elements(set)).map((e) => e.key)).toEqual(['192.0.2.1'])
    const missing = (await nft.apply((tx) => tx.delElements(set, [{ key: '198.51.100.1' }])).catch((e: unknown) => e)) as TransactionError
    expect(isNotFound(missing)).toBe(true)
    // A failure that is not "already gone" is not taken for one.
    const busy = (await nft.apply((tx) => tx.createTable(t)).catch((e: unknown) => e)) as TransactionError
    expect(busy.errors.map((e) => e.code)).toEqual(['EEXIST'])
    expect(isNotFound(busy)).toBe(false)
    await nft.apply((tx) => tx.delTable(t))
  })

  it('flushTable empties the chains and keeps chains, sets and elements, as nft flush table does', async () => {
    const build = (tx: Transaction) => {
      tx.addTable(t)
      tx.addChain({ table: t, name: 'in', type: 'filter', hook: 'input', priority: 'filter' })
      tx.addChain({ table: t, name: 'sub' })
      const s = tx.addSet({ table: t, name: 'peers', type: 'ipv4_addr' })
      tx.addElements(s, [{ key: '10.0.0.1' }])
      tx.addRule({ table: t, chain: 'in', exprs: rule().ip('saddr', '@peers').jump('sub') })
      tx.addRule({ table: t, chain: 'sub', exprs: rule().counter().accept() })
    }
    await nft.apply(build)
    await ns.exec(['nft', 'flush', 'table', 'ip', 'verbs'])
    const nftFlushed = await theirs('list', 'ruleset')
    await nft.apply((tx) => tx.delTable(t))
    await nft.apply(build)
    await nft.apply((tx) => tx.flushTable(t))
    expect(await theirs('list', 'ruleset')).toBe(nftFlushed)
    expect(nftFlushed).toContain('elements = { 10.0.0.1 }')
    expect(nftFlushed).toContain('chain sub {\n\t}')
    await nft.apply((tx) => tx.delTable(t))
  })

  it('refuses a committed transaction with an NftError code', async () => {
    const tx = nft.transaction()
    await tx.commit()
    expect(() => tx.addTable(t)).toThrow(expect.objectContaining({ code: 'LAB_ERR_NFT_COMMITTED' }))
  })
})
