import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TestNetns, cleanupAll, isRoot } from '@lab/testkit'
import { Cmp, Ct, Nft, NFT_REG_1, rule, type ElementSpec, type SetSpec, type TableRef } from '../src/index.js'

// rulesetText() against `nft list ruleset` (nft 1.0.6 here), whole output, line for line.
describe.skipIf(!isRoot())('rulesetText() prints what nft list ruleset prints (needs root)', () => {
  let ns: TestNetns
  let nft: Nft
  const f: TableRef = { family: 'ip', name: 'filter4' }
  const d: TableRef = { family: 'inet', name: 'dual' }
  const e: TableRef = { family: 'ip', name: 'empty' }

  beforeAll(async () => {
    ns = await TestNetns.create('nftxt')
    nft = await Nft.open({ netns: ns.name })
  })
  afterAll(async () => {
    await nft?.close()
    cleanupAll()
  })

  const theirs = async () => (await ns.exec(['nft', 'list', 'ruleset'])).stdout

  it('matches for interval sets, maps and vmaps, several sets and chains per table, and inline sets', async () => {
    await nft.apply((tx) => {
      tx.addTable(f)
      // Chains first: the verdict map's `jump web` needs its chain.
      tx.addChain({ table: f, name: 'input', type: 'filter', hook: 'input', priority: 'filter', policy: 'drop' })
      tx.addChain({ table: f, name: 'web' })
      tx.addChain({ table: f, name: 'pre', type: 'nat', hook: 'prerouting', priority: 'dstnat' })
      const allowed = tx.addSet({ table: f, name: 'allowed', type: 'ipv4_addr', flags: ['interval'] })
      tx.addElements(allowed, [{ key: '10.0.0.0/24' }, { key: '10.1.0.0-10.1.0.9' }, { key: '192.168.0.1' }, { key: '172.16.0.0/12' }, { key: '255.255.255.0/24' }])
      const ports = tx.addSet({ table: f, name: 'ports', type: 'inet_service', flags: ['interval'] })
      tx.addElements(ports, [{ key: '1024-2047' }, { key: 22 }, { key: ['8000', '8080'] }, { key: 443 }, { key: 80 }, { key: '3000-3999' }])
      const plain = tx.addSet({ table: f, name: 'plain', type: 'ipv4_addr' })
      tx.addElements(plain, [{ key: '10.9.0.3' }, { key: '10.9.0.1' }, { key: '10.9.0.2' }])
      const names = tx.addSet({ table: f, name: 'names', type: 'ifname' })
      tx.addElements(names, [{ key: 'veth-22' }, { key: 'veth-1' }, { key: 'lo' }])
      const marks = tx.addSet({ table: f, name: 'marks', type: 'mark', flags: ['interval'] })
      tx.addElements(marks, [{ key: '0x10/28' }, { key: 256 }])
      const protos = tx.addSet({ table: f, name: 'protos', type: 'inet_proto' })
      tx.addElements(protos, [{ key: 'udp' }, { key: 6 }, { key: 'icmp' }])
      const svc = tx.addSet({ table: f, name: 'svc', type: 'inet_service', dataType: 'verdict' })
      tx.addElements(svc, [22, 23, 24, 25, 26].map((key) => ({ key, value: { verdict: 'drop' as const } })).concat([{ key: 80, value: { verdict: 'jump', chain: 'web' } as never }]))
      const backends = tx.addSet({ table: f, name: 'backends', type: 'inet_service', dataType: 'ipv4_addr' })
      tx.addElements(backends, [{ key: 80, value: '10.1.0.2' }, { key: 443, value: '10.1.0.3' }])
      const nets = tx.addSet({ table: f, name: 'nets', type: 'ipv4_addr', dataType: 'verdict', flags: ['interval'] })
      tx.addElements(nets, [{ key: '10.0.0.0/8', value: { verdict: 'accept' } }, { key: '192.0.2.1', value: { verdict: 'drop' } }])
      for (const r of [
        rule().ip('saddr', '@allowed').accept(),
        rule().tcp('dport', '@ports').accept(),
        rule().vmap('tcp dport', '@svc'),
        rule().vmap('ip saddr', '@nets'),
        rule().iifname('@names').accept(),
        rule().ip('saddr', ['10.0.0.0/8', '192.0.2.1', '198.51.100.10-198.51.100.20']).drop(),
        rule().ip('daddr', ['10.0.0.2', '10.0.0.1'], '!=').drop(),
        rule().tcp('dport', [443, 22, 80]).accept(),
        rule().udp('dport', ['1000-2000', 53]).accept(),
        rule().vmap('tcp dport', [[22, 'accept'], [23, 'drop']]),
      ]) tx.addRule({ table: f, chain: 'input', exprs: r })
      tx.addRule({ table: f, chain: 'web', exprs: rule().counter().accept() })
      tx.addRule({ table: f, chain: 'pre', exprs: rule().natMap('dnat', 'tcp dport', '@backends') })

      tx.addTable(d)
      const v6 = tx.addSet({ table: d, name: 'v6', type: 'ipv6_addr', flags: ['interval'] })
      tx.addElements(v6, [{ key: 'fd00::/64' }, { key: 'fd01::1-fd01::5' }, { key: 'fe80::/10' }])
      const all = tx.addSet({ table: d, name: 'all', type: 'ipv4_addr', flags: ['interval'] })
      tx.addElements(all, [{ key: '0.0.0.0/0' }])
      tx.addChain({ table: d, name: 'in', type: 'filter', hook: 'input', priority: 'filter' })
      tx.addChain({ table: d, name: 'idle' })
      tx.addRule({ table: d, chain: 'in', exprs: rule().ip6('saddr', '@v6').accept() })
      tx.addRule({ table: d, chain: 'in', exprs: rule().ip6('saddr', ['fd02::/64', 'fd00::1']).accept() })
      tx.addRule({ table: d, chain: 'in', exprs: rule().ip('saddr', '10.0.0.0/8').accept() })
      tx.addRule({ table: d, chain: 'in', exprs: rule().ip6('daddr', 'fd00::/64').drop() })

      tx.addTable(e)
    })
    const expected = await theirs()
    // Guards against a vacuous pass: the features under test are in nft's own output.
    expect(expected).toContain('elements = { 10.0.0.0/24, 10.1.0.0-10.1.0.9,\n')
    expect(expected).toContain('\t}\n\n\tchain input {')
    expect((await nft.rulesetText()).split('\n')).toEqual(expected.split('\n'))
  })

  it('reads interval elements back as prefixes and ranges that can be applied again unchanged', async () => {
    const allowed = (await nft.sets(f)).find((s) => s.name === 'allowed')!
    const elements = await nft.elements(allowed)
    expect(elements.map((x) => x.key)).toEqual(['10.0.0.0/24', '10.1.0.0-10.1.0.9', '172.16.0.0/12', '192.168.0.1', '255.255.255.0/24'])
    // Without the flags given, the interval ends still show it is an interval set.
    expect((await nft.elements({ table: f, name: 'allowed', type: 'ipv4_addr' })).map((x) => x.key)).toEqual(elements.map((x) => x.key))
    const ports = (await nft.elements({ table: f, name: 'ports', type: 'inet_service', flags: ['interval'] })).map((x) => x.key)
    expect(ports).toEqual(['22', '80', '443', '1024-2047', '3000-3999', '8000-8080'])
    const nets = await nft.elements({ table: f, name: 'nets', type: 'ipv4_addr', dataType: 'verdict', flags: ['interval'] })
    expect(nets.map((x) => [x.key, x.value])).toEqual([['10.0.0.0/8', { verdict: 'accept' }], ['192.0.2.1', { verdict: 'drop' }]])
    const names = await nft.elements({ table: f, name: 'names', type: 'ifname' })

    // Emptied and filled again from what was read: nft sees the same ruleset.
    const before = await theirs()
    const sets = await nft.sets()
    const readBack = await Promise.all(sets.filter((s) => !(s.flags ?? []).includes('anonymous')).map(async (s) => ({ s, elements: await nft.elements(s) })))
    await nft.apply((tx) => {
      for (const { s } of readBack) tx.flushSet(s)
      for (const { s, elements: els } of readBack) tx.addElements(s as SetSpec, els as ElementSpec[])
    })
    expect(await theirs()).toBe(before)
    expect(names.map((x) => x.key)).toEqual(['lo', 'veth-1', 'veth-22'])
  })

  it('sends prefixes and protocol checks as nft does (the same bytecode), and reads nft-made ones back', async () => {
    const p: TableRef = { family: 'inet', name: 'prefixes' }
    const rules: Array<[string, ReturnType<typeof rule>]> = [
      ['ip saddr 10.1.0.0/16 ip daddr != 10.0.0.0/8 accept', rule().ip('saddr', '10.1.0.0/16').ip('daddr', '10.0.0.0/8', '!=').accept()],
      ['ip saddr 10.1.2.0/24 tcp dport 22 ip daddr 10.1.2.0/23 drop', rule().ip('saddr', '10.1.2.0/24').tcp('dport', 22).ip('daddr', '10.1.2.0/23').drop()],
      ['ip6 saddr fd02:8::/48 ip6 daddr != fd00::/120 accept', rule().ip6('saddr', 'fd02:8::/48').ip6('daddr', 'fd00::/120', '!=').accept()],
      ['ip saddr 0.0.0.0/0 accept', rule().ip('saddr', '0.0.0.0/0').accept()],
    ]
    const bytecode = async () => (await ns.exec(['nft', '--debug=netlink', 'list', 'table', 'inet', 'prefixes'])).stdout
    await ns.exec(['nft', '-f', '-'], { input: `add table inet prefixes\nadd chain inet prefixes c\n${rules.map(([text]) => `add rule inet prefixes c ${text}\n`).join('')}` })
    const nftMade = await bytecode()
    // nft's own forms are under test: a prefix's bytes only (1 byte for /8), one ipv4 check per rule.
    expect(nftMade).toContain('[ payload load 1b @ network header + 16 => reg 1 ]')
    expect(nftMade.split('inet prefixes c')[1]!.match(/meta load nfproto/g)).toHaveLength(1)
    const text = await theirs()
    expect((await nft.rulesetText()).split('\n')).toEqual(text.split('\n'))
    await nft.apply((tx) => tx.delTable(p))
    await nft.apply((tx) => {
      tx.addTable(p)
      tx.addChain({ table: p, name: 'c' })
      for (const [, r] of rules) tx.addRule({ table: p, chain: 'c', exprs: r })
    })
    expect(await bytecode()).toBe(nftMade)
    expect(rules.map(([, r]) => r.toString('inet'))).toEqual(rules.map(([t]) => t))
    await nft.apply((tx) => tx.delTable(p))
  })

  it('ct original|reply proto-src|proto-dst: the same bytecode as nft sends, the same text, read back both ways', async () => {
    const t: TableRef = { family: 'ip', name: 'ctdir' }
    const port = (n: number) => Buffer.from([n >> 8, n & 0xff])
    await nft.apply((tx) => {
      tx.addTable(t)
      tx.addChain({ table: t, name: 'forward', type: 'filter', hook: 'forward', priority: 'filter', policy: 'accept' })
      tx.addRule({ table: t, chain: 'forward', exprs: rule().tcp('sport', 7002).expr(new Ct('proto-dst', NFT_REG_1, 'original'), new Cmp('==', port(17002))).counter() })
      tx.addRule({ table: t, chain: 'forward', exprs: rule().expr(new Ct('proto-src', NFT_REG_1, 'reply'), new Cmp('!=', port(7002))).accept() })
    })
    // nft's own rule, decoded by us.
    await ns.exec(['nft', 'add', 'rule', 'ip', 'ctdir', 'forward', 'meta', 'l4proto', 'tcp', 'ct', 'original', 'proto-dst', '8080', 'drop'])
    const text = await theirs()
    // Without a transport protocol matched first, nft cannot type the port (nor can a reader).
    expect(text).toContain('\t\ttcp sport 7002 ct original proto-dst 17002 counter packets 0 bytes 0\n\t\tct reply proto-src != 0x1b5a [invalid type] accept\n\t\tmeta l4proto tcp ct original proto-dst 8080 drop\n')
    expect((await nft.rulesetText()).split('\n')).toEqual(text.split('\n'))
    const [ours, made] = [(await nft.rules({ table: t, chain: 'forward' }))[0]!, (await nft.rules({ table: t, chain: 'forward' }))[2]!]
    // The same expressions (key, direction, register) whoever wrote the rule.
    expect(ours.exprs.find((e) => e instanceof Ct)).toEqual(made.exprs.find((e) => e instanceof Ct))
    expect(() => new Ct('proto-dst')).toThrow(/original' or 'reply/)
    await nft.apply((tx) => tx.delTable(t))
  })

  it('leaves a blank line between the blocks of a table and none around an empty one', async () => {
    const text = await nft.rulesetText()
    expect(text).toContain('\t}\n\n\tset ports {')
    expect(text).toContain('\t}\n\n\tchain idle {\n\t}\n}\ntable ip empty {\n}\n')
  })
})
