import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TestNetns, cleanupAll, isRoot, vethPair } from '@lab/testkit'
import { connectTcp, isNotFound, listenTcp } from '@lab/netlink-native'
import { Nft, NftError, TransactionError, rule, type TableRef } from '../src/index.js'
import { chainLines } from './helpers.js'

type NftJson = { nftables: Array<Record<string, any>> }

describe('rule builder renders like nft', () => {
  it.each([
    [rule().oifname('uplink').masquerade(), 'oifname "uplink" masquerade'],
    [rule().iifname('v1').oifname('up0').counter().accept(), 'iifname "v1" oifname "up0" counter packets 0 bytes 0 accept'],
    [rule().ip('saddr', '169.254.0.21').snat('10.12.0.3'), 'ip saddr 169.254.0.21 snat to 10.12.0.3'],
    [rule().ip('daddr', '10.0.0.0/8').drop(), 'ip daddr 10.0.0.0/8 drop'],
    [rule().ip('saddr', '@slots').masquerade([1024, 65535]), 'ip saddr @slots masquerade to :1024-65535'],
    [rule().tcp('dport', 22).accept(), 'tcp dport 22 accept'],
    [rule().udp('dport', 67).dnat('10.1.0.2', 6767), 'udp dport 67 dnat to 10.1.0.2:6767'],
    [rule().ctState('established', 'related').accept(), 'ct state established,related accept'],
    [rule().mark(16, '!=').jump('marked'), 'meta mark != 0x00000010 jump marked'],
  ])('%s', (built, text) => {
    expect(built.toString()).toBe(text)
  })

  it('refuses bad input before anything is sent, naming the field', () => {
    expect(() => rule().ip('saddr', '10.0.0.300')).toThrow(/ip saddr: invalid IP address/)
    expect(() => rule().ip('saddr', 'fd00::1')).toThrow(/not an IPv4 address/)
    expect(() => rule().oifname('a-very-long-interface-name')).toThrow(/ifname: interface name too long/)
    expect(() => rule().tcp('dport', 70000)).toThrow(/invalid port/)
    expect(() => rule().verdict('jump')).toThrow(/chain: jump needs a chain/)
  })
})

describe.skipIf(!isRoot())('nftables in a namespace (needs root)', () => {
  let ns: TestNetns
  let nft: Nft
  const t: TableRef = { family: 'ip', name: 'lab' }

  beforeAll(async () => {
    ns = await TestNetns.create('nft')
    nft = await Nft.open({ netns: ns.name })
  })
  afterAll(async () => {
    await nft?.close()
    cleanupAll()
  })

  async function nftJson(): Promise<NftJson> {
    return JSON.parse((await ns.exec(['nft', '-j', 'list', 'ruleset'])).stdout) as NftJson
  }

  it('commits tables, chains, sets and rules in one transaction that nft reads back', async () => {
    const tx = nft.transaction()
    tx.addTable(t)
    tx.addChain({ table: t, name: 'post', type: 'nat', hook: 'postrouting', priority: 'srcnat', policy: 'accept' })
    tx.addChain({ table: t, name: 'pre', type: 'nat', hook: 'prerouting', priority: 'dstnat' })
    tx.addChain({ table: t, name: 'forward', type: 'filter', hook: 'forward', priority: 'filter', policy: 'drop' })
    tx.addChain({ table: t, name: 'marked' })
    const sources = tx.addSet({ table: t, name: 'sources', type: 'ipv4_addr' })
    tx.addElements(sources, [{ key: '10.12.0.3' }, { key: '10.12.0.5' }])
    const ports = tx.addSet({ table: t, name: 'ports', type: 'ifname' })
    tx.addElements(ports, [{ key: 'veth-1' }, { key: 'veth-22' }])
    tx.addRule({ table: t, chain: 'post', exprs: rule().ip('saddr', '@sources').oifname('up0').masquerade() })
    tx.addRule({ table: t, chain: 'post', exprs: rule().oifname('uplink').masquerade(), comment: 'seed 000' })
    tx.addRule({ table: t, chain: 'pre', exprs: rule().iifname('eth0').ip('daddr', '10.11.0.1').dnat('169.254.0.21') })
    tx.addRule({ table: t, chain: 'forward', exprs: rule().ctState('established', 'related').accept() })
    tx.addRule({ table: t, chain: 'forward', exprs: rule().iifname('v1').oifname('up0').counter().accept() })
    tx.addRule({ table: t, chain: 'forward', exprs: rule().tcp('dport', 22).jump('marked') })
    await tx.commit()

    const json = await nftJson()
    const chains = json.nftables.filter((o) => o.chain).map((o) => o.chain)
    expect(chains.find((c) => c.name === 'post')).toMatchObject({ type: 'nat', hook: 'postrouting', prio: 100, policy: 'accept' })
    expect(chains.find((c) => c.name === 'forward')).toMatchObject({ type: 'filter', hook: 'forward', prio: 0, policy: 'drop' })
    const sets = json.nftables.filter((o) => o.set).map((o) => o.set)
    expect(sets.find((x) => x.name === 'sources')).toMatchObject({ type: 'ipv4_addr' })
    expect([...sets.find((x) => x.name === 'sources').elem].sort()).toEqual(['10.12.0.3', '10.12.0.5'])
    // Interface names read back as names: the set carries the key byte order nft expects.
    expect([...sets.find((x) => x.name === 'ports').elem].sort()).toEqual(['veth-1', 'veth-22'])
    const rules = json.nftables.filter((o) => o.rule).map((o) => o.rule)
    expect(rules.find((r) => r.comment === 'seed 000')?.expr).toEqual([{ match: { op: '==', left: { meta: { key: 'oifname' } }, right: 'uplink' } }, { masquerade: null }])
    expect(rules.find((r) => r.chain === 'pre')?.expr).toEqual([
      { match: { op: '==', left: { meta: { key: 'iifname' } }, right: 'eth0' } },
      { match: { op: '==', left: { payload: { protocol: 'ip', field: 'daddr' } }, right: '10.11.0.1' } },
      { dnat: { addr: '169.254.0.21' } },
    ])
  })

  it('reads the ruleset back as typed values and as the text nft prints', async () => {
    const ours = await nft.rulesetText()
    const theirs = (await ns.exec(['nft', 'list', 'ruleset'])).stdout
    // Rule lines are compared exactly, as nft prints them (counters are zero: no traffic here).
    expect(chainLines(ours)).toEqual(chainLines(theirs))
    const rules = await nft.rules({ table: t, chain: 'forward' })
    expect(rules.map((r) => r.handle !== undefined)).toEqual([true, true, true])
    expect((await nft.tables()).map((x) => `${x.family} ${x.name}`)).toEqual(['ip lab'])
    const elements = await nft.elements({ table: t, name: 'sources', type: 'ipv4_addr' })
    expect(elements.map((e) => e.key).sort()).toEqual(['10.12.0.3', '10.12.0.5'])
  })

  it('deletes a rule by handle and set elements, each in one transaction', async () => {
    const [first] = await nft.rules({ table: t, chain: 'forward' })
    await nft.apply((tx) => {
      tx.delRule({ table: t, chain: 'forward', handle: first!.handle! })
      tx.delElements({ table: t, name: 'sources', type: 'ipv4_addr' }, [{ key: '10.12.0.3' }])
    })
    expect((await nft.rules({ table: t, chain: 'forward' })).length).toBe(2)
    expect((await nft.elements({ table: t, name: 'sources', type: 'ipv4_addr' })).map((e) => e.key)).toEqual(['10.12.0.5'])
  })

  it('rolls the whole transaction back when one message fails, naming it', async () => {
    const other: TableRef = { family: 'inet', name: 'half' }
    const tx = nft.transaction()
    tx.addTable(other)
    tx.addChain({ table: other, name: 'input', type: 'filter', hook: 'input', priority: 0 })
    tx.addRule({ table: other, chain: 'missing', exprs: rule().accept() })
    const err = (await tx.commit().catch((e) => e)) as TransactionError
    expect(err).toBeInstanceOf(TransactionError)
    expect(err).toBeInstanceOf(NftError)
    expect(err.code).toBe('LAB_ERR_NFT_TRANSACTION')
    expect(err.errors.map((e) => e.code)).toEqual(['ENOENT'])
    expect(isNotFound(err)).toBe(true)
    expect(err.failed.map((f) => f.index)).toEqual([2])
    expect(err.message).toMatch(/^nftables transaction rolled back: ENOENT: add rule inet half missing/)
    expect((await nft.tables()).map((x) => x.name)).toEqual(['lab'])
  })

  it('deletes the table and everything in it', async () => {
    await nft.apply((tx) => tx.delTable(t))
    expect(await nft.tables()).toEqual([])
    expect((await nftJson()).nftables.filter((o) => !o.metainfo)).toEqual([])
  })
})

describe.skipIf(!isRoot())('NAT on real traffic (needs root)', () => {
  afterAll(() => cleanupAll())

  it('masquerades a client behind a router: the server sees the router address', async () => {
    const client = await TestNetns.create('nat-c')
    const router = await TestNetns.create('nat-r')
    const server = await TestNetns.create('nat-s')
    await vethPair({ netns: client, ifname: 'c0', address: '10.1.0.2/24' }, { netns: router, ifname: 'lan0', address: '10.1.0.1/24' })
    await vethPair({ netns: router, ifname: 'up0', address: '192.0.2.1/24' }, { netns: server, ifname: 's0', address: '192.0.2.2/24' })
    await client.exec(['ip', 'route', 'add', 'default', 'via', '10.1.0.1'])
    await router.exec(['sysctl', '-qw', 'net.ipv4.ip_forward=1'])
    const nft = await Nft.open({ netns: router.name })
    const t: TableRef = { family: 'ip', name: 'nat' }
    await nft.apply((tx) => {
      tx.addTable(t)
      tx.addChain({ table: t, name: 'postrouting', type: 'nat', hook: 'postrouting', priority: 'srcnat' })
      tx.addRule({ table: t, chain: 'postrouting', exprs: rule().oifname('up0').masquerade() })
    })
    await nft.close()
    const seen = new Promise<string>((resolve) => {
      void listenTcp({ netns: server.name, host: '192.0.2.2', port: 8000 }, (s) => {
        resolve(s.remoteAddress ?? '')
        s.end()
      })
    })
    const socket = await connectTcp({ netns: client.name, host: '192.0.2.2', port: 8000 })
    expect(await seen).toBe('192.0.2.1')
    socket.destroy()
  })
})
