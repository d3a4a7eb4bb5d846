import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TestNetns, cleanupAll, isRoot, vethPair } from '@lab/testkit'
import { connectTcp, listenTcp } from '@lab/netlink-native'
import { chainLines } from './helpers.js'
import { Nft, TransactionError, renderRule, rule, type NftEvent, type RuleBuilder, type TableRef } from '../src/index.js'


describe.skipIf(!isRoot())('nftables round trips and scale (needs root)', () => {
  let ns: TestNetns
  let nft: Nft
  const t: TableRef = { family: 'inet', name: 'rt' }
  beforeAll(async () => {
    ns = await TestNetns.create('nft2')
    nft = await Nft.open({ netns: ns.name })
  })
  afterAll(async () => {
    await nft?.close()
    cleanupAll()
  })

  it('round-trips every expression type through the kernel, reading back as nft prints it', async () => {
    const filter: Array<[string, RuleBuilder]> = [
      ['meta', rule().iifname('eth0').oifname('eth1', '!=').mark(7).accept()],
      ['ip', rule().ip('saddr', '10.0.0.0/8').ip('daddr', '192.168.1.1').counter().drop()],
      ['ip6', rule().ip6('saddr', 'fd00::/64').accept()],
      ['ports', rule().tcp('dport', 22).accept()],
      ['range', rule().udp('dport', '1024-2048').accept()],
      ['inline', rule().tcp('dport', [80, 443]).accept()],
      ['inline-ip', rule().ip('saddr', ['10.1.0.1', '10.1.0.2']).drop()],
      ['named', rule().ip('daddr', '@blocked').reject()],
      ['ct', rule().ctState('established', 'related').accept()],
      ['limit', rule().limit(10, 'second').log({ prefix: 'limited: ' }).accept()],
      ['limit-over', rule().limit(100, 'minute', { burst: 20, over: true }).drop()],
      ['reset', rule().tcp('dport', 23).reject('tcp-reset')],
      ['jump', rule().mark(1).jump('sub')],
      ['inline-vmap', rule().vmap('tcp dport', [[22, 'accept'], [23, 'drop'], [24, { verdict: 'jump', chain: 'sub' }]])],
      ['goto', rule().mark(2).goto('sub')],
    ]
    await nft.apply((tx) => {
      tx.addTable(t)
      tx.addChain({ table: t, name: 'input', type: 'filter', hook: 'input', priority: 'filter' })
      tx.addChain({ table: t, name: 'sub' })
      tx.addChain({ table: t, name: 'raw', type: 'filter', hook: 'prerouting', priority: 'raw' })
      tx.addChain({ table: t, name: 'post', type: 'nat', hook: 'postrouting', priority: 'srcnat' })
      tx.addChain({ table: t, name: 'pre', type: 'nat', hook: 'prerouting', priority: 'dstnat' })
      tx.addSet({ table: t, name: 'blocked', type: 'ipv4_addr' })
      for (const [, r] of filter) tx.addRule({ table: t, chain: 'input', exprs: r })
      tx.addRule({ table: t, chain: 'sub', exprs: rule().return() })
      tx.addRule({ table: t, chain: 'raw', exprs: rule().udp('dport', 53).notrack() })
      tx.addRule({ table: t, chain: 'post', exprs: rule().oifname('up0').masquerade([1024, 65535]) })
      tx.addRule({ table: t, chain: 'post', exprs: rule().ip('saddr', '169.254.0.21').snat('10.12.0.3', 4000) })
      tx.addRule({ table: t, chain: 'post', exprs: rule().ip('saddr', '10.9.0.0/16').snat('192.0.2.10-192.0.2.20', '1024-2048') })
      tx.addRule({ table: t, chain: 'pre', exprs: rule().tcp('dport', 8080).dnat('10.1.0.2', 80) })
      tx.addRule({ table: t, chain: 'pre', exprs: rule().tcp('dport', 8081).redirect(80) })
    })
    const theirs = chainLines((await ns.exec(['nft', 'list', 'ruleset'])).stdout)
    const ours = chainLines(await nft.rulesetText())
    expect(ours).toEqual(theirs)
    // What we built reads back as the same text, expression for expression.
    const input = await nft.rules({ table: t, chain: 'input' })
    expect(input.length).toBe(filter.length)
    for (const [i, [, built]] of filter.entries()) {
      expect(ours).toContain(built.toString('inet'))
      expect(input[i]!.exprs.map((e) => e.kind)).toEqual(built.expressionsFor('inet').map((e) => e.kind))
    }
  })

  it('creates verdict maps and data maps and uses them in rules, as nft reads them back', async () => {
    const m: TableRef = { family: 'ip', name: 'lookups' }
    await nft.apply((tx) => {
      tx.addTable(m)
      tx.addChain({ table: m, name: 'input', type: 'filter', hook: 'input', priority: 'filter' })
      tx.addChain({ table: m, name: 'pre', type: 'nat', hook: 'prerouting', priority: 'dstnat' })
      const svc = tx.addSet({ table: m, name: 'svc', type: 'inet_service', dataType: 'verdict' })
      tx.addElements(svc, [
        { key: 22, value: { verdict: 'accept' } },
        { key: 23, value: { verdict: 'drop' } },
      ])
      const backends = tx.addSet({ table: m, name: 'backends', type: 'inet_service', dataType: 'ipv4_addr' })
      tx.addElements(backends, [
        { key: 80, value: '10.1.0.2' },
        { key: 443, value: '10.1.0.3' },
      ])
      tx.addRule({ table: m, chain: 'input', exprs: rule().vmap('tcp dport', '@svc') })
      tx.addRule({ table: m, chain: 'pre', exprs: rule().natMap('dnat', 'tcp dport', '@backends') })
    })
    const theirs = (await ns.exec(['nft', 'list', 'ruleset'])).stdout
    const ours = await nft.rulesetText()
    expect(chainLines(ours).filter((l) => /vmap|map @/.test(l))).toEqual(chainLines(theirs).filter((l) => /vmap|map @/.test(l)))
    expect(chainLines(theirs)).toContain('tcp dport vmap @svc')
    expect(chainLines(theirs)).toContain('dnat to tcp dport map @backends')
    const values = await nft.elements({ table: m, name: 'backends', type: 'inet_service', dataType: 'ipv4_addr' })
    expect(values.map((e) => `${e.key}:${e.value}`).sort()).toEqual(['443:10.1.0.3', '80:10.1.0.2'])
    const verdicts = await nft.elements({ table: m, name: 'svc', type: 'inet_service', dataType: 'verdict' })
    expect(verdicts.map((e) => [e.key, e.value])).toEqual(expect.arrayContaining([['22', { verdict: 'accept' }], ['23', { verdict: 'drop' }]]))
    expect(theirs).toContain('map backends {')
    expect(ours).toContain('map backends {\n\t\ttype inet_service : ipv4_addr')
    await nft.apply((tx) => tx.delTable(m))
  })

  it('stores ranges in interval sets and elements with timeouts', async () => {
    const s: TableRef = { family: 'ip', name: 'ranges' }
    await nft.apply((tx) => {
      tx.addTable(s)
      const nets = tx.addSet({ table: s, name: 'nets', type: 'ipv4_addr', flags: ['interval'] })
      tx.addElements(nets, [{ key: '10.0.0.0/8' }, { key: ['192.168.1.10', '192.168.1.20'] }, { key: '172.16.0.1' }])
      const seen = tx.addSet({ table: s, name: 'seen', type: 'ipv4_addr', flags: ['timeout'], timeoutMs: 60_000 })
      tx.addElements(seen, [{ key: '10.1.1.1' }, { key: '10.1.1.2', timeoutMs: 5_000 }])
    })
    const json = JSON.parse((await ns.exec(['nft', '-j', 'list', 'table', 'ip', 'ranges'])).stdout) as { nftables: Array<Record<string, any>> }
    const sets = json.nftables.filter((o) => o.set).map((o) => o.set)
    const nets = sets.find((x) => x.name === 'nets')
    expect(nets.flags).toEqual(['interval'])
    expect(nets.elem).toEqual(expect.arrayContaining([{ prefix: { addr: '10.0.0.0', len: 8 } }, { range: ['192.168.1.10', '192.168.1.20'] }, '172.16.0.1']))
    const seen = sets.find((x) => x.name === 'seen')
    expect(seen.timeout).toBe(60)
    // An element on the set's default timeout shows none of its own; the other shows its 5 s.
    const timeouts = seen.elem.map((e: any) => (typeof e === 'string' ? [e, undefined] : [e.elem.val, e.elem.timeout]))
    expect(timeouts).toEqual(expect.arrayContaining([['10.1.1.1', undefined], ['10.1.1.2', 5]]))
    await nft.apply((tx) => tx.delTable(s))
  })

  it('leaves the ruleset exactly as it was when one message of a transaction fails', async () => {
    const before = (await ns.exec(['nft', '-j', 'list', 'ruleset'])).stdout
    const tx = nft.transaction()
    tx.addChain({ table: t, name: 'extra' })
    tx.addRule({ table: t, chain: 'extra', exprs: rule().accept() })
    tx.addRule({ table: t, chain: 'input', exprs: rule().jump('no-such-chain') })
    tx.addRule({ table: t, chain: 'extra', exprs: rule().drop() })
    const err = (await tx.commit().catch((e) => e)) as TransactionError
    expect(err).toBeInstanceOf(TransactionError)
    expect(err.failed.map((f) => f.index)).toEqual([2])
    expect((await ns.exec(['nft', '-j', 'list', 'ruleset'])).stdout).toBe(before)
  })

  it('inserts at a position given by a handle', async () => {
    const chain = { table: t, name: 'ordered' }
    await nft.apply((tx) => {
      tx.addChain(chain)
      tx.addRule({ table: t, chain: 'ordered', exprs: rule().mark(1).accept() })
      tx.addRule({ table: t, chain: 'ordered', exprs: rule().mark(3).accept() })
    })
    const [first, third] = await nft.rules({ table: t, chain: 'ordered' })
    await nft.apply((tx) => {
      tx.addRule({ table: t, chain: 'ordered', exprs: rule().mark(2).accept(), position: first!.handle! })
      tx.insertRule({ table: t, chain: 'ordered', exprs: rule().mark(0).accept(), position: first!.handle! })
    })
    const texts = (await nft.rules({ table: t, chain: 'ordered' })).map((r) => renderRule(r))
    expect(texts).toEqual([0, 1, 2, 3].map((m) => `meta mark 0x0000000${m} accept`))
    expect((await nft.rules({ table: t, chain: 'ordered' }))[3]!.handle).toBe(third!.handle)
  })

  it('handles sets of thousands of elements and batches of 20,000 rules in one transaction', async () => {
    const big: TableRef = { family: 'ip', name: 'big' }
    const elements = Array.from({ length: 5000 }, (_, i) => ({ key: `10.${20 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}` }))
    await nft.apply((tx) => {
      tx.addTable(big)
      tx.addChain({ table: big, name: 'c' })
      const set = tx.addSet({ table: big, name: 'many', type: 'ipv4_addr' })
      tx.addElements(set, elements)
      for (let i = 0; i < 20_000; i++) tx.addRule({ table: big, chain: 'c', exprs: rule().mark(i).accept() })
    })
    expect((await nft.elements({ table: big, name: 'many', type: 'ipv4_addr' })).length).toBe(5000)
    expect((await nft.rules({ table: big, chain: 'c' })).length).toBe(20_000)
    expect((await nft.rules({ table: big })).length).toBe(20_000)
    await nft.apply((tx) => tx.delTable(big))
  })

  it('reports ruleset changes as they are committed (monitor)', async () => {
    const controller = new AbortController()
    const events = await nft.monitor({ signal: controller.signal })
    const first = events.next()
    const m: TableRef = { family: 'ip', name: 'mon' }
    await nft.apply((tx) => {
      tx.addTable(m)
      tx.addChain({ table: m, name: 'c' })
      tx.addRule({ table: m, chain: 'c', exprs: rule().oifname('x').accept() })
    })
    const seen: NftEvent[] = [(await first).value]
    while (!seen.some((e) => e.kind === 'generation')) seen.push((await events.next()).value)
    expect(seen.map((e) => `${e.kind}${'action' in e ? ` ${e.action}` : ''}`)).toEqual(['table new', 'chain new', 'rule new', 'generation'])
    const r = seen.find((e) => e.kind === 'rule')
    expect(r && r.kind === 'rule' && r.rule.chain).toBe('c')
    controller.abort()
    expect((await events.next()).done).toBe(true)
    await nft.apply((tx) => tx.delTable(m))
  })
})

describe.skipIf(!isRoot())('DNAT and drop on real traffic (needs root)', () => {
  afterAll(() => cleanupAll())

  it('DNAT reaches the inner host, and a drop rule drops', async () => {
    const outside = await TestNetns.create('dn-o')
    const router = await TestNetns.create('dn-r')
    const inner = await TestNetns.create('dn-i')
    await vethPair({ netns: outside, ifname: 'o0', address: '192.0.2.2/24' }, { netns: router, ifname: 'wan', address: '192.0.2.1/24' })
    await vethPair({ netns: router, ifname: 'lan', address: '10.1.0.1/24' }, { netns: inner, ifname: 'i0', address: '10.1.0.2/24' })
    await inner.exec(['ip', 'route', 'add', 'default', 'via', '10.1.0.1'])
    await router.exec(['sysctl', '-qw', 'net.ipv4.ip_forward=1'])
    const nft = await Nft.open({ netns: router.name })
    const t: TableRef = { family: 'ip', name: 'edge' }
    await nft.apply((tx) => {
      tx.addTable(t)
      tx.addChain({ table: t, name: 'pre', type: 'nat', hook: 'prerouting', priority: 'dstnat' })
      tx.addChain({ table: t, name: 'fwd', type: 'filter', hook: 'forward', priority: 'filter' })
      tx.addRule({ table: t, chain: 'pre', exprs: rule().iifname('wan').tcp('dport', 8080).dnat('10.1.0.2', 80) })
      tx.addRule({ table: t, chain: 'pre', exprs: rule().iifname('wan').tcp('dport', 8081).dnat('10.1.0.2', 81) })
      tx.addRule({ table: t, chain: 'fwd', exprs: rule().tcp('dport', 81).drop() })
    })
    await nft.close()
    const servers = await Promise.all([80, 81].map((port) => listenTcp({ netns: inner.name, host: '10.1.0.2', port }, (s) => s.end('hello'))))
    const client = await connectTcp({ netns: outside.name, host: '192.0.2.1', port: 8080 })
    const reply = await new Promise<string>((resolve) => client.once('data', (d) => resolve(d.toString())))
    expect(reply).toBe('hello')
    client.destroy()
    const dropped = await Promise.race([
      connectTcp({ netns: outside.name, host: '192.0.2.1', port: 8081 }).then((s) => (s.destroy(), 'connected'), () => 'refused'),
      new Promise((r) => setTimeout(() => r('timed out'), 1500).unref()),
    ])
    expect(dropped).toBe('timed out')
    for (const s of servers) s.close()
  })
})
