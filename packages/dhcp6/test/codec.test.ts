import { isDeepStrictEqual } from 'node:util'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { formatIp, parseIp } from '@lab/netlink-native'
import {
  Dhcp6DecodeError,
  Dhcp6Message,
  Dhcp6Options,
  Dhcp6RelayMessage,
  decodeDuid,
  decodeMessage,
  duidHex,
  encodeDuid,
  type AnyDhcp6Message,
  type Duid,
} from '../src/index.js'
import { DEFINITIONS, isKnown } from '../src/codec/definitions.js'
import { ipv6Text, parseIpv6Hex } from '../src/codec/address.js'

/**
 * expect(actual).toEqual(expected), with node's deep-strict comparison first: where that holds,
 * toEqual holds too, at a fraction of the cost (vitest's equality was a third of a round-trip
 * property's time, which counts at the million inputs of `npm run fuzz`).
 */
function expectEqual(actual: unknown, expected: unknown): void {
  if (!isDeepStrictEqual(actual, expected)) expect(actual).toEqual(expected)
}

// Golden packets built with scapy (testdata/make-golden.py, the command is on its first line).
const golden = Object.fromEntries(
  readFileSync(fileURLToPath(new URL('../testdata/scapy-golden.txt', import.meta.url)), 'utf8')
    .trim()
    .split('\n')
    .map((l) => l.split(' ') as [string, string]),
)
const bytes = (name: string) => Buffer.from(golden[name]!, 'hex')

describe('golden packets from scapy', () => {
  it.each(Object.keys(golden))('%s decodes and re-encodes to the same bytes', (name) => {
    const m = decodeMessage(bytes(name))
    expect(m.encode().toString('hex')).toBe(golden[name])
  })

  it('reads a Solicit: DUID-LLT, rapid commit, elapsed time, ORO, IA_NA, IA_PD with a prefix hint', () => {
    const m = decodeMessage(bytes('solicit')) as Dhcp6Message
    expect(m.type).toBe('SOLICIT')
    expect(m.transactionId).toBe(0x123456)
    expect(m.options.get(1)).toEqual({ type: 'llt', hardwareType: 1, time: 0x2a2b2c2d, linkLayerAddress: '02:00:00:00:00:01' })
    expect(m.options.get(14)).toBe(true)
    expect(m.options.get(8)).toBe(150)
    expect(m.options.get(6)).toEqual([23, 24])
    expect(m.options.get(3)).toMatchObject({ iaid: 7, t1: 0, t2: 0 })
    const pd = m.options.get(25)!
    expect(pd.iaid).toBe(8)
    expect(pd.options.get(26)).toMatchObject({ prefixLength: 56, prefix: '::' })
  })

  it('reads an Advertise: DUID-LL, preference, IA Address, DNS servers (RFC 3646), domain list', () => {
    const m = decodeMessage(bytes('advertise')) as Dhcp6Message
    expect(m.type).toBe('ADVERTISE')
    expect(m.options.get(2)).toEqual({ type: 'll', hardwareType: 1, linkLayerAddress: '02:00:00:00:00:fe' })
    expect(m.options.get(7)).toBe(255)
    const ia = m.options.get(3)!
    expect(ia).toMatchObject({ iaid: 7, t1: 1800, t2: 2880 })
    expect(ia.options.get(5)).toMatchObject({ address: 'fd00:1::1000', preferredLifetime: 3600, validLifetime: 7200 })
    expect(m.options.get(23)).toEqual(['fd00:1::53', 'fd00:1::54'])
    expect(m.options.get(24)).toEqual(['lab.example', 'example'])
  })

  it('reads a Reply: DUID-EN, status codes inside an IA and at the top, IA Prefix, reconfigure accept', () => {
    const m = decodeMessage(bytes('reply-nobinding')) as Dhcp6Message
    expect(m.options.get(2)).toEqual({ type: 'en', enterpriseNumber: 2495, identifier: Buffer.from([1, 2, 3, 4]) })
    expect(m.options.get(3)!.options.get(13)).toEqual({ code: 3, message: 'no binding' })
    expect(m.options.get(25)!.options.get(26)).toMatchObject({ prefix: 'fd00:100:0:100::', prefixLength: 56, validLifetime: 7200 })
    expect(m.options.get(20)).toBe(true)
    expect(m.options.get(13)).toEqual({ code: 0, message: 'ok' })
  })

  it('reads a Relay-Forward: hop count, link and peer addresses, interface-id, the nested Solicit with IA_TA', () => {
    const m = decodeMessage(bytes('relay-forward')) as Dhcp6RelayMessage
    expect(m).toMatchObject({ type: 'RELAY-FORW', hopCount: 1, linkAddress: 'fd00:2::1', peerAddress: 'fe80::1' })
    expect(m.options.get(18)).toEqual(Buffer.from('eth7'))
    const inner = m.message as Dhcp6Message
    expect(inner.type).toBe('SOLICIT')
    expect(inner.transactionId).toBe(0x010203)
    expect(inner.options.get(4)).toMatchObject({ iaid: 9 })
  })

  it('keeps an unknown option as raw bytes, in its place', () => {
    const m = decodeMessage(bytes('unknown-option'))
    expect(m.options.list.map((o) => o.code)).toEqual([1, 65000, 8])
    expect(m.options.get(65000)).toEqual(Buffer.from('abc'))
    expect(m.toString()).toContain('option-65000 (65000): 616263')
  })
})

describe('DUIDs of every type (RFC 8415 11, RFC 6355)', () => {
  const rows: Array<{ name: string; duid: Duid; hex: string }> = [
    { name: 'LLT', duid: { type: 'llt', hardwareType: 1, time: 1, linkLayerAddress: 'aa:bb:cc:dd:ee:ff' }, hex: '0001000100000001aabbccddeeff' },
    { name: 'EN', duid: { type: 'en', enterpriseNumber: 9, identifier: Buffer.from('0c', 'hex') }, hex: '0002000000090c' },
    { name: 'LL', duid: { type: 'll', hardwareType: 1, linkLayerAddress: 'aa:bb:cc:dd:ee:ff' }, hex: '00030001aabbccddeeff' },
    { name: 'UUID', duid: { type: 'uuid', uuid: '12345678-9abc-def0-1234-56789abcdef0' }, hex: '0004123456789abcdef0123456789abcdef0' },
    { name: 'unknown type', duid: { type: 'unknown', duidType: 77, data: Buffer.from('ff', 'hex') }, hex: '004dff' },
  ]
  it.each(rows)('$name: encodes, decodes', ({ duid, hex }) => {
    expect(encodeDuid(duid).toString('hex')).toBe(hex)
    expect(decodeDuid(Buffer.from(hex, 'hex'))).toEqual(duid)
  })
  it('duidHex is the hex of encodeDuid, for any link-layer address text (its DUID-LL shortcut included)', () => {
    const part = fc.integer({ min: 0, max: 255 }).chain((n) => fc.constantFrom(n.toString(16), n.toString(16).padStart(2, '0'), n.toString(16).padStart(2, '0').toUpperCase()))
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff }), fc.array(part, { minLength: 1, maxLength: 20 }), fc.constantFrom('ll' as const, 'llt' as const), (hardwareType, parts, type) => {
        const duid: Duid = type === 'll' ? { type, hardwareType, linkLayerAddress: parts.join(':') } : { type, hardwareType, time: 5, linkLayerAddress: parts.join(':') }
        expect(duidHex(duid)).toBe(encodeDuid(duid).toString('hex'))
      }),
    )
    expect(() => duidHex({ type: 'll', hardwareType: 1, linkLayerAddress: 'zz:00' })).toThrow(/colon-separated hex/)
  })
  it('refuses a DUID-UUID of the wrong size', () => {
    expect(() => decodeDuid(Buffer.from('000412', 'hex'), 1)).toThrow(Dhcp6DecodeError)
  })
})

describe('malformed input', () => {
  const rows: Array<{ name: string; hex: string; reason: string }> = [
    { name: 'shorter than a header', hex: '0112', reason: 'short-packet' },
    { name: 'message type 0', hex: '00000000', reason: 'bad-message-type' },
    { name: 'relay message shorter than 34 bytes', hex: '0c00' + '00'.repeat(20), reason: 'short-packet' },
    { name: 'option overrunning the message', hex: '01000001' + '00010010' + '0001', reason: 'option-overrun' },
    { name: 'half an option header', hex: '0100000100', reason: 'option-overrun' },
    { name: 'elapsed time of 3 bytes', hex: '01000001' + '00080003' + '000000', reason: 'bad-option-length' },
    { name: 'rapid commit with data', hex: '01000001' + '000e0001' + '00', reason: 'bad-option-length' },
    { name: 'IA_NA of 11 bytes', hex: '01000001' + '0003000b' + '00'.repeat(11), reason: 'bad-option-length' },
    { name: 'IA Prefix with length 129', hex: '01000001' + '001a0019' + '00'.repeat(8) + '81' + '00'.repeat(16), reason: 'bad-option-value' },
    { name: 'domain list without its zero label', hex: '01000001' + '00180002' + '0161', reason: 'bad-option-value' },
    { name: 'DNS servers of 15 bytes', hex: '01000001' + '0017000f' + '00'.repeat(15), reason: 'bad-option-length' },
    { name: 'a DUID of 1 byte', hex: '01000001' + '00010001' + '00', reason: 'bad-option-length' },
  ]
  it.each(rows)('$name: Dhcp6DecodeError $reason', ({ hex, reason }) => {
    let error: unknown
    try {
      decodeMessage(Buffer.from(hex, 'hex'))
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(Dhcp6DecodeError)
    expect((error as Dhcp6DecodeError).reason).toBe(reason)
    expect((error as Dhcp6DecodeError).code).toBe('LAB_ERR_DHCP6_DECODE')
  })

  it('stops relay nesting deeper than MAX_DEPTH', () => {
    let m: AnyDhcp6Message = new Dhcp6Message('SOLICIT', 1)
    for (let i = 0; i < 30; i++) m = new Dhcp6RelayMessage({ type: 'RELAY-FORW', hopCount: i, linkAddress: '::', peerAddress: 'fe80::1', options: new Dhcp6Options().add(9, m) })
    expect(() => decodeMessage(m.encode())).toThrow(expect.objectContaining({ reason: 'too-deep' }))
  })
})

// CI runs a few thousand inputs; `npm run fuzz` sets LAB_FUZZ_RUNS for the long campaign (both
// properties then run that many).
const RUNS = process.env.LAB_FUZZ_RUNS ? Number(process.env.LAB_FUZZ_RUNS) : undefined

// Arbitraries for well-formed messages: encode -> decode gives the value back, and the bytes of
// a decoded message re-encode unchanged.
const u32 = fc.integer({ min: 0, max: 0xffffffff })
// Records as the decoder makes them (fast-check's have no prototype by default), so the cheap
// deep-strict comparison in expectEqual holds and vitest's toEqual is not needed.
const plainObjects = { noNullPrototype: true }
// Addresses in their RFC 5952 form, as the decoder prints them.
const ipv6 = fc.ipV6().map((a) => formatIp(parseIp(a).bytes))
const mac = fc.uint8Array({ minLength: 6, maxLength: 6 }).map((b) => Buffer.from(b).toString('hex').replace(/(..)(?!$)/g, '$1:'))
const duid: fc.Arbitrary<Duid> = fc.oneof(
  fc.record({ type: fc.constant('llt' as const), hardwareType: fc.constant(1), time: u32, linkLayerAddress: mac }, plainObjects),
  fc.record({ type: fc.constant('en' as const), enterpriseNumber: u32, identifier: fc.uint8Array({ maxLength: 20 }).map((b) => Buffer.from(b)) }, plainObjects),
  fc.record({ type: fc.constant('ll' as const), hardwareType: fc.integer({ min: 0, max: 0xffff }), linkLayerAddress: mac }, plainObjects),
  fc.uuid().map((uuid) => ({ type: 'uuid' as const, uuid })),
)
const label = fc.stringMatching(/^[a-z0-9-]{1,20}$/)
const status = fc.record({ code: fc.integer({ min: 0, max: 6 }), message: fc.string({ maxLength: 20 }) }, plainObjects)
const withStatus = (s: { code: number; message: string } | null) => (s ? new Dhcp6Options().add(13, s) : new Dhcp6Options())
const iaAddress = fc.record({ address: ipv6, preferredLifetime: u32, validLifetime: u32, s: fc.option(status) }).map(({ s, ...a }) => ({ ...a, options: withStatus(s) }))
const iaPrefix = fc.record({ prefix: ipv6, prefixLength: fc.integer({ min: 0, max: 128 }), preferredLifetime: u32, validLifetime: u32 }).map((p) => ({ ...p, options: new Dhcp6Options() }))
const option = fc.oneof(
  duid.map((v) => ({ code: 1, value: v })),
  duid.map((v) => ({ code: 2, value: v })),
  fc.record({ iaid: u32, t1: u32, t2: u32, addrs: fc.array(iaAddress, { maxLength: 3 }) }).map(({ addrs, ...ia }) => ({ code: 3, value: { ...ia, options: new Dhcp6Options(addrs.map((a) => ({ code: 5, value: a }))) } })),
  fc.record({ iaid: u32, t1: u32, t2: u32, prefixes: fc.array(iaPrefix, { maxLength: 3 }) }).map(({ prefixes, ...ia }) => ({ code: 25, value: { ...ia, options: new Dhcp6Options(prefixes.map((p) => ({ code: 26, value: p }))) } })),
  fc.array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 8 }).map((v) => ({ code: 6, value: v })),
  fc.integer({ min: 0, max: 255 }).map((v) => ({ code: 7, value: v })),
  fc.integer({ min: 0, max: 0xffff }).map((v) => ({ code: 8, value: v })),
  status.map((v) => ({ code: 13, value: v })),
  fc.constant({ code: 14, value: true }),
  fc.constant({ code: 20, value: true }),
  fc.array(ipv6, { maxLength: 4 }).map((v) => ({ code: 23, value: v })),
  fc.array(fc.array(label, { minLength: 1, maxLength: 4 }).map((l) => l.join('.')), { maxLength: 3 }).map((v) => ({ code: 24, value: v })),
  fc.uint8Array({ maxLength: 16 }).map((v) => ({ code: 18, value: Buffer.from(v) })),
  fc.record({ code: fc.integer({ min: 1000, max: 0xffff }), value: fc.uint8Array({ maxLength: 16 }).map((b) => Buffer.from(b)) }),
)
const TYPES = ['SOLICIT', 'ADVERTISE', 'REQUEST', 'CONFIRM', 'RENEW', 'REBIND', 'REPLY', 'RELEASE', 'DECLINE', 'RECONFIGURE', 'INFORMATION-REQUEST'] as const
const message = fc
  .record({ type: fc.constantFrom(...TYPES), xid: fc.integer({ min: 0, max: 0xffffff }), options: fc.array(option, { maxLength: 8 }) })
  .map(({ type, xid, options }) => new Dhcp6Message(type, xid, new Dhcp6Options(options)))
const relayed = fc
  .record({ m: message, hops: fc.integer({ min: 0, max: 255 }), link: ipv6, peer: ipv6, ifid: fc.option(fc.uint8Array({ minLength: 1, maxLength: 8 })) })
  .map(({ m, hops, link, peer, ifid }) => {
    const options = new Dhcp6Options()
    if (ifid) options.add(18, Buffer.from(ifid))
    options.add(9, m)
    return new Dhcp6RelayMessage({ type: 'RELAY-FORW', hopCount: hops, linkAddress: link, peerAddress: peer, options })
  })

describe('property: well-formed messages', () => {
  it('encode -> decode gives the value back, and decode -> encode the bytes', () => {
    fc.assert(
      fc.property(fc.oneof(message, relayed), (m) => {
        const wire = m.encode()
        const decoded = decodeMessage(wire)
        expectEqual(decoded, m)
        expect(decoded.encode().equals(wire)).toBe(true)
      }),
      { numRuns: RUNS ?? 300 },
    )
  })
})

describe('property: one-pass encoding', () => {
  it('writes each option as its definition encodes it alone, and IPv6 text as formatIp does', () => {
    fc.assert(
      fc.property(option, (o) => {
        const written = new Dhcp6Options([o]).encode()
        const alone = isKnown(o.code) ? DEFINITIONS[o.code].encode(o.value as never) : (o.value as Buffer)
        expect(written.subarray(4).toString('hex')).toBe(alone.toString('hex'))
        expect(written.readUInt16BE(2)).toBe(alone.length)
      }),
      { numRuns: RUNS ?? 500 },
    )
    // Zero groups in every arrangement: runs of one, ties, at either end.
    const group = fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 1, max: 0xff }))
    fc.assert(
      fc.property(fc.array(group, { minLength: 8, maxLength: 8 }), (groups) => {
        const b = Buffer.alloc(16)
        groups.forEach((g, i) => b.writeUInt16BE(g, 2 * i))
        expect(ipv6Text(b)).toBe(formatIp(b))
      }),
      { numRuns: RUNS ?? 2000 },
    )
  })

  it('parses IPv6 text of hex groups as parseIp does, and leaves every other text to it', () => {
    const parsed = (text: string) => {
      try {
        const ip = parseIp(text)
        return ip.family === 6 ? ip.bytes.toString('hex') : undefined
      } catch {
        return undefined
      }
    }
    fc.assert(
      fc.property(fc.ipV6(), (text) => {
        const fast = parseIpv6Hex(text)
        if (!text.includes('.')) expect(fast?.toString('hex')).toBe(parsed(text))
        else expect(fast).toBeUndefined()
      }),
      { numRuns: RUNS ?? 2000 },
    )
    // Near misses: whatever the fast parser accepts, parseIp accepts with the same bytes.
    const text = fc.array(fc.constantFrom(...'0123456789abcdefABCDEF:::.%g'.split('')), { maxLength: 42 }).map((a) => a.join(''))
    fc.assert(
      fc.property(text, (t) => {
        const fast = parseIpv6Hex(t)
        if (fast) expect(fast.toString('hex')).toBe(parsed(t))
      }),
      { numRuns: RUNS ?? 5000 },
    )
    for (const t of ['::', '::1', '1::', '1:2:3:4:5:6:7::', '::2:3:4:5:6:7:8', 'FD00:A::B']) expect(parseIpv6Hex(t)?.toString('hex')).toBe(parsed(t))
    for (const t of [':::', '1:::2', '1::2::3', ':1', '1:', '1:2:3:4:5:6:7:8:9', '1::2:3:4:5:6:7:8', '12345::', '::g']) expect(parseIpv6Hex(t)).toBeUndefined()
  })

  it('a message encoded inside another encode (a definition calling encode()) comes out whole', () => {
    const inner = new Dhcp6Message('REPLY', 7, new Dhcp6Options().add(13, { code: 0, message: 'ok' }))
    const relay = new Dhcp6RelayMessage({ type: 'RELAY-REPL', linkAddress: 'fd00::1', peerAddress: 'fe80::1', options: new Dhcp6Options().add(9, inner) })
    const direct = relay.encode()
    // DEFINITIONS[9].encode encodes the inner message on its own, as a caller outside a writer would.
    const viaEncode = Buffer.concat([direct.subarray(0, 34 + 4), DEFINITIONS[9].encode(inner)])
    expect(viaEncode.equals(direct)).toBe(true)
    expect(decodeMessage(direct)).toEqual(relay)
  })
})

describe('property: arbitrary bytes', () => {
  // Random bytes, and valid messages with bytes flipped or cut: only Dhcp6DecodeError may escape,
  // and whatever decodes is stable under decode -> encode -> decode.
  const mutated = fc.tuple(fc.oneof(message, relayed), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), fc.option(fc.nat())).map(([m, flips, cut]) => {
    const b = Buffer.from(m.encode())
    for (const [at, v] of flips) b[at % b.length] = v
    return cut === null ? b : b.subarray(0, cut % (b.length + 1))
  })
  it('only Dhcp6DecodeError escapes; what decodes is stable', () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)), mutated), (b) => {
        let first: AnyDhcp6Message
        try {
          first = decodeMessage(b)
        } catch (error) {
          if (!(error instanceof Dhcp6DecodeError)) throw error
          return
        }
        const again = decodeMessage(first.encode())
        expectEqual(again, first)
      }),
      { numRuns: RUNS ?? 2000 },
    )
  })
})
