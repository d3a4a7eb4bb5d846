// Property tests for the ARP codec: any frame decodes or fails with ArpDecodeError, and every
// packet we can describe encodes to a frame that decodes to the same packet and the same bytes.
import { isDeepStrictEqual } from 'node:util'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ArpDecodeError, decodeArp, encodeArp, type ArpPacket } from '../src/index.js'

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
const mac = fc.uint8Array({ minLength: 6, maxLength: 6 }).map((b) => [...b].map((x) => x.toString(16).padStart(2, '0')).join(':'))
const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join('.'))
// Plain objects, as the decoder makes (fast-check's records have no prototype by default), so the
// cheap deep-strict comparison in expectEqual holds.
const packet: fc.Arbitrary<ArpPacket> = fc.record({ dst: mac, src: mac, op: fc.constantFrom(1 as const, 2 as const), senderMac: mac, senderIp: ipv4, targetMac: mac, targetIp: ipv4 }, { noNullPrototype: true })

describe('ARP codec under random input', () => {
  it('random frames: only ArpDecodeError escapes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        try {
          decodeArp(Buffer.from(bytes))
        } catch (error) {
          if (!(error instanceof ArpDecodeError)) throw error
        }
      }),
      { numRuns: RUNS },
    )
  })

  it('encode then decode gives the packet back, and encoding it again the same bytes', () => {
    fc.assert(
      fc.property(packet, (p) => {
        const frame = encodeArp(p)
        const back = decodeArp(frame)
        expectEqual(back, p)
        expect(encodeArp(back).equals(frame)).toBe(true)
      }),
      { numRuns: RUNS },
    )
  })

  it('a valid frame with trailing padding (Ethernet minimum 60 bytes) still decodes', () => {
    fc.assert(
      fc.property(packet, fc.uint8Array({ maxLength: 18 }), (p, padding) => {
        expectEqual(decodeArp(Buffer.concat([encodeArp(p), Buffer.from(padding)])), p)
      }),
      { numRuns: 500 },
    )
  })
})
