import { describe, expect, it } from 'vitest'
import { Bitwise, Cmp, Counter, Immediate, Lookup, Meta, Payload, UnknownExpression, renderExpressions, rule } from '../src/index.js'

// Each expression renders its own part of a rule's text; these check the parts on their own and
// what is printed when the parts do not make an nft statement.
describe('expressions render themselves', () => {
  it.each([
    ['ip and ip6 take the same shapes', rule().ip('saddr', ['192.0.2.1', '10.0.0.0/8']).ip6('daddr', ['fd01::1', 'fd00::/64']).accept(), 'ip saddr { 10.0.0.0/8, 192.0.2.1 } ip6 daddr { fd00::/64, fd01::1 } accept'],
    ['inline interval sets print as nft does', rule().ip('saddr', ['192.0.2.1', '10.0.0.0/8', '198.51.100.10-198.51.100.20']).drop(), 'ip saddr { 10.0.0.0/8, 192.0.2.1, 198.51.100.10-198.51.100.20 } drop'],
    ['an inverted inline set', rule().ip('daddr', ['10.0.0.2', '10.0.0.1'], '!=').drop(), 'ip daddr != { 10.0.0.1, 10.0.0.2 } drop'],
    ['ports and port ranges', rule().tcp('dport', ['8000-8080', 22]).accept(), 'tcp dport { 22, 8000-8080 } accept'],
    ['ip6 single values', rule().ip6('saddr', 'fd00::/64').ip6('daddr', 'fd00::1', '!=').drop(), 'ip6 saddr fd00::/64 ip6 daddr != fd00::1 drop'],
  ])('%s', (_name, built, text) => {
    expect(built.toString()).toBe(text)
  })

  it('loads only the bytes of a byte-aligned prefix and checks each protocol once, as nft does', () => {
    const built = rule().ip('saddr', '10.1.0.0/16').ip('daddr', '10.1.2.0/23').ip6('saddr', 'fd02:8::/48', '!=')
    expect(built.expressionsFor('inet').map(String)).toEqual([
      '[ meta load nfproto => reg 1 ]',
      '[ cmp eq reg 1 0x00000002 ]',
      '[ payload load 2b @ network header + 12 => reg 1 ]',
      '[ cmp eq reg 1 0x0000010a ]',
      '[ payload load 4b @ network header + 16 => reg 1 ]',
      '[ bitwise reg 1 = ( reg 1 & 0x00feffff ) ^ 0x00000000 ]',
      '[ cmp eq reg 1 0x0002010a ]',
      '[ meta load nfproto => reg 1 ]',
      '[ cmp eq reg 1 0x0000000a ]',
      '[ payload load 6b @ network header + 8 => reg 1 ]',
      '[ cmp neq reg 1 0x080002fd 0x00000000 ]',
    ])
    expect(built.toString('inet')).toBe('ip saddr 10.1.0.0/16 ip daddr 10.1.2.0/23 ip6 saddr != fd02:8::/48')
  })

  it('reads nft --debug=netlink forms when a part has no statement to join', () => {
    // A comparison with nothing loaded before it.
    expect(renderExpressions([new Cmp('==', Buffer.from([10, 0, 0, 1]))])).toBe('[ cmp eq reg 1 0x0100000a ]')
    expect(renderExpressions([new Lookup('s', 2)])).toBe('[ lookup reg 2 set s ]')
    expect(String(new Payload('network', 12, 4))).toBe('[ payload load 4b @ network header + 12 => reg 1 ]')
    expect(String(Immediate.verdict('jump', 'sub'))).toBe('[ immediate reg 0 jump -> sub ]')
  })

  it('prints an expression it has no type for as its kernel name and bytes, never dropping it', () => {
    const raw = Buffer.from('0800010000000001', 'hex')
    const text = renderExpressions([new Meta('mark'), new UnknownExpression('quota', raw), new Counter(3n, 180n)])
    expect(text).toBe('[ quota 0x0800010000000001 ] counter packets 3 bytes 180')
  })

  it('prints a masked field that is not a prefix as nft does', () => {
    const mask = Buffer.alloc(4)
    mask.writeUInt32LE(0xff00)
    const value = Buffer.alloc(4)
    value.writeUInt32LE(0x100)
    expect(renderExpressions([new Meta('mark'), new Bitwise(mask), new Cmp('==', value)])).toBe('meta mark & 0x0000ff00 == 0x00000100')
  })
})
