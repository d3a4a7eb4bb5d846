// The server's reply encoder writes exactly the bytes of DhcpMessage.encode(), across many replies
// through one encoder (its remembered option values must never leak into a reply that differs).
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { DhcpMessage } from '../src/index.js'
import { ReplyEncoder } from '../src/server/reply-encoder.js'

const RUNS = Number(process.env.LAB_FUZZ_RUNS ?? 300)

const ip = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((b) => b.join('.'))
const mac = fc.uint8Array({ minLength: 6, maxLength: 6 }).map((b) => [...b].map((x) => x.toString(16).padStart(2, '0')).join(':'))
// Few distinct values, so that the encoder's remembered values are hit and missed alike.
const few = <T>(...values: T[]) => fc.constantFrom(...values)

const reply = fc.record({
  type: few<'OFFER' | 'ACK' | 'NAK'>('OFFER', 'ACK', 'NAK'),
  xid: fc.nat(),
  chaddr: fc.oneof(mac, few('02:00:00:00:00:01', 'AA:BB:CC:DD:EE:FF', '2:0:0:0:0:1', '02:00:00:00:00:01:02')),
  yiaddr: fc.oneof(ip, few('0.0.0.0')),
  giaddr: fc.oneof(ip, few('0.0.0.0', '10.201.0.1')),
  ciaddr: few('0.0.0.0', '10.0.0.9'),
  broadcast: fc.boolean(),
  serverId: few('10.200.0.1', '10.1.0.1'),
  leaseTime: few(3600, 600, 0xffffffff),
  mask: few('255.255.0.0', '255.255.255.0'),
  routers: fc.oneof(few(['10.201.0.1'], ['10.1.0.1', '10.1.0.2']), fc.array(ip, { minLength: 1, maxLength: 3 })),
  dns: fc.option(few(['10.0.0.53'], ['10.0.0.53', '10.0.0.54'])),
  domain: fc.option(fc.oneof(few('lab.example', ''), fc.string({ maxLength: 300 }))),
  message: fc.option(few('wrong network', 'no requested address')),
  relay: fc.option(fc.uint8Array({ minLength: 1, maxLength: 20 }).map((b) => new Map([[1, Buffer.from(b)]]))),
  raw: fc.option(fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b))),
  sname: few('', '', '', 'boot'),
})

function message(r: typeof reply extends fc.Arbitrary<infer T> ? T : never): DhcpMessage {
  const m = new DhcpMessage({ op: 2, xid: r.xid, chaddr: r.chaddr, yiaddr: r.yiaddr, giaddr: r.giaddr, ciaddr: r.ciaddr, broadcast: r.broadcast, siaddr: r.serverId, sname: r.sname })
  m.set(53, r.type).set(54, r.serverId).set(51, r.leaseTime).set(58, Math.floor(r.leaseTime / 2)).set(1, r.mask).set(3, r.routers)
  if (r.dns) m.set(6, r.dns)
  if (r.domain !== null) m.set(15, r.domain)
  if (r.message) m.set(56, r.message)
  if (r.raw) m.setRaw(224, r.raw)
  if (r.relay) m.set(82, r.relay)
  return m
}

describe('ReplyEncoder', () => {
  it('writes the bytes of DhcpMessage.encode() for any sequence of replies', () => {
    fc.assert(
      fc.property(fc.array(reply, { minLength: 1, maxLength: 20 }), (replies) => {
        const encoder = new ReplyEncoder()
        for (const r of replies) {
          const m = message(r)
          expect(encoder.encode(m).equals(m.encode())).toBe(true)
          // A caller changing an array it gave must not change what the encoder remembered.
          ;(r.routers as string[]).reverse()
        }
      }),
      { numRuns: RUNS },
    )
  })

  it('throws what DhcpMessage.encode() throws for a value no option can carry', () => {
    const encoder = new ReplyEncoder()
    const good = new DhcpMessage({ op: 2, chaddr: '02:00:00:00:00:01' }).set(53, 'ACK').set(1, '255.255.255.0')
    encoder.encode(good)
    const bad = new DhcpMessage({ op: 2, chaddr: '02:00:00:00:00:01' }).set(53, 'ACK').set(1, '255.255.255.300')
    expect(() => encoder.encode(bad)).toThrow(/option 1/)
    expect(() => encoder.encode(new DhcpMessage({ op: 2, chaddr: '02:00:00:00:00:zz' }).set(53, 'ACK'))).toThrow(/chaddr/)
  })
})
