// Property tests for the ND codec: any bytes decode or fail with NdpDecodeError, and every message
// we can describe encodes to bytes that decode to the same message and encode to the same bytes.
import { isDeepStrictEqual } from 'node:util'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { formatIp, parseIp } from '@lab/netlink-native'
import { NdpDecodeError, decodeIcmpv6Packet, decodeNdMessage, encodeIcmpv6Packet, encodeNdMessage, type NdMessage, type NdOption } from '../src/index.js'

/**
 * expect(actual).toEqual(expected), with node's deep-strict comparison first: where that holds,
 * toEqual holds too, at a fraction of the cost (vitest's equality was a third of a round-trip
 * property's time, which counts at the million inputs of `npm run fuzz`).
 */
function expectEqual(actual: unknown, expected: unknown): void {
  if (!isDeepStrictEqual(actual, expected)) expect(actual).toEqual(expected)
}

// CI runs a few thousand inputs; `npm run fuzz` sets LAB_FUZZ_RUNS for the long campaign.
const RUNS = Number(process.env.LAB_FUZZ_RUNS ?? 2_000)
const octets = (n: number) => fc.uint8Array({ minLength: n, maxLength: n }).map((b) => [...b].map((x) => x.toString(16).padStart(2, '0')).join(':'))
// Addresses as formatIp prints them, so values compare equal after a round trip.
const ipv6 = fc.ipV6().map((t) => formatIp(parseIp(t).bytes))
const unicast = ipv6.filter((a) => !a.startsWith('ff'))
const u32 = fc.nat(0xffffffff)
const preference = fc.constantFrom('high' as const, 'medium' as const, 'low' as const)
const label = fc.stringMatching(/^[a-z0-9-]{1,20}$/)
const domain = fc.array(label, { minLength: 1, maxLength: 4 }).map((l) => l.join('.'))
/** A prefix with its host bits cleared, as a sender must write it. */
const prefix = (max: number) =>
  fc.tuple(ipv6, fc.nat(max)).map(([a, length]) => {
    const b = Buffer.from(parseIp(a).bytes)
    for (let bit = length; bit < 128; bit++) b[bit >> 3]! &= ~(0x80 >> (bit & 7))
    return { prefix: formatIp(b), prefixLength: length }
  })

const option: fc.Arbitrary<NdOption> = fc.oneof(
  octets(6).map((address) => ({ type: 'source-link-layer-address' as const, address })),
  octets(6).map((address) => ({ type: 'target-link-layer-address' as const, address })),
  fc.record({ p: prefix(128), onLink: fc.boolean(), autonomous: fc.boolean(), validLifetime: u32, preferredLifetime: u32 }).map(({ p, ...rest }) => ({ type: 'prefix-information' as const, ...p, ...rest })),
  fc.nat(0xffffffff).map((mtu) => ({ type: 'mtu' as const, mtu })),
  fc.record({ p: prefix(128), preference, lifetime: u32 }).map(({ p, ...rest }) => ({ type: 'route-information' as const, ...p, ...rest })),
  fc.record({ lifetime: u32, servers: fc.array(ipv6, { minLength: 1, maxLength: 4 }) }).map((v) => ({ type: 'rdnss' as const, ...v })),
  fc.record({ lifetime: u32, domains: fc.array(domain, { minLength: 1, maxLength: 3 }) }).map((v) => ({ type: 'dnssl' as const, ...v })),
  fc.record({ code: fc.constantFrom(4, 6, 14, 21, 26, 38, 200), words: fc.nat(3) }).chain(({ code, words }) => fc.uint8Array({ minLength: words * 8 + 6, maxLength: words * 8 + 6 }).map((d) => ({ type: 'unknown' as const, code, data: Buffer.from(d) }))),
)
const options = fc.array(option, { maxLength: 5 })

const message: fc.Arbitrary<NdMessage> = fc.oneof(
  options.map((o) => ({ type: 'router-solicitation' as const, options: o })),
  fc
    .record({ curHopLimit: fc.nat(255), managed: fc.boolean(), other: fc.boolean(), preference, routerLifetime: fc.nat(0xffff), reachableTime: u32, retransTimer: u32, options })
    .map((m) => ({ type: 'router-advertisement' as const, ...m })),
  fc.record({ target: unicast, options }).map((m) => ({ type: 'neighbor-solicitation' as const, ...m })),
  fc.record({ router: fc.boolean(), solicited: fc.boolean(), override: fc.boolean(), target: unicast, options }).map((m) => ({ type: 'neighbor-advertisement' as const, ...m })),
)

describe('ND codec under random input', () => {
  it('random bytes after a valid ND header: only NdpDecodeError escapes', () => {
    fc.assert(
      fc.property(fc.constantFrom(133, 134, 135, 136, 137, 128), fc.uint8Array({ maxLength: 120 }), (type, rest) => {
        try {
          decodeNdMessage(Buffer.concat([Buffer.from([type, 0, 0, 0]), Buffer.from(rest)]))
        } catch (error) {
          if (!(error instanceof NdpDecodeError)) throw error
        }
      }),
      { numRuns: RUNS },
    )
  })

  it('random IPv6 packets: only NdpDecodeError escapes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), (bytes) => {
        try {
          decodeNdMessage(decodeIcmpv6Packet(Buffer.from(bytes)).icmp)
        } catch (error) {
          if (!(error instanceof NdpDecodeError)) throw error
        }
      }),
      { numRuns: RUNS },
    )
  })

  it('encode then decode gives the message back, and encoding it again the same bytes (inside an IPv6 packet too)', () => {
    fc.assert(
      fc.property(message, ipv6, ipv6, (m, source, destination) => {
        const bytes = encodeNdMessage(m)
        const back = decodeNdMessage(bytes)
        expectEqual(back, m)
        expect(encodeNdMessage(back).equals(bytes)).toBe(true)
        const packet = encodeIcmpv6Packet({ source, destination, icmp: bytes })
        expectEqual(decodeNdMessage(decodeIcmpv6Packet(packet).icmp), m)
      }),
      { numRuns: RUNS },
    )
  })
})
