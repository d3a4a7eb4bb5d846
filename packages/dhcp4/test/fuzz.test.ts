// Property tests for the DHCPv4 codec: whatever bytes arrive, only DhcpDecodeError escapes; a
// message that decodes encodes to bytes that decode to the same message again (values and bytes
// stable after the first round); real messages with a byte flipped stay typed errors or messages.
import { isDeepStrictEqual } from 'node:util'
import { readFileSync } from 'node:fs'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { DhcpDecodeError, DhcpMessage, type OptionValue } from '../src/index.js'

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

function decodeOrTypedError(bytes: Uint8Array): DhcpMessage | undefined {
  try {
    return DhcpMessage.decode(Buffer.from(bytes))
  } catch (error) {
    if (error instanceof DhcpDecodeError) return undefined
    throw new Error(`escaped: ${(error as Error)?.stack ?? String(error)}`)
  }
}

/** A BOOTP header with the magic cookie, then random option bytes ending in 255 (or not). */
const shaped = fc
  .tuple(fc.uint8Array({ minLength: 236, maxLength: 236 }), fc.array(fc.tuple(fc.integer({ min: 1, max: 254 }), fc.uint8Array({ maxLength: 20 })), { maxLength: 16 }), fc.boolean())
  .map(([header, options, end]) => {
    const body = options.flatMap(([code, value]) => [code, value.length, ...value])
    return Uint8Array.from([...header.map((b, i) => (i === 0 ? 1 + (b % 2) : i === 1 ? 1 : i === 2 ? 6 : b)), 99, 130, 83, 99, ...body, ...(end ? [255] : [])])
  })

// Options compare by code: the encoder writes option 53 first whatever the order it was read in
// (found by the fuzz campaign; by design, a message type leads as clients and servers expect).
const plain = (m: DhcpMessage) => ({ ...m, options: ([...m.options] as Array<[number, OptionValue]>).sort(([a], [b]) => a - b) })

function real(): Buffer {
  const m = new DhcpMessage({ op: 1, xid: 0x1234, chaddr: '02:00:00:00:00:07' })
  m.set(53, 'REQUEST').set(50, '10.1.0.7').set(54, '10.1.0.1').set(55, [1, 3, 6, 15, 121]).set(12, 'vm7').set(61, Buffer.from([1, 2, 0, 0, 0, 0, 7]))
  m.set(81, { flags: 1, rcode1: 0, rcode2: 0, name: 'vm7.lab' }).set(82, new Map([[1, Buffer.from('eth0')]]))
  return m.encode()
}

/** decode -> encode -> decode: the same values, and encoding again the same bytes (or typed errors). */
function roundTrip(bytes: Uint8Array): void {
  const first = decodeOrTypedError(bytes)
  if (!first) return
  const encoded = encodeOrTypedError(first)
  if (!encoded) return
  const second = DhcpMessage.decode(encoded)
  expectEqual(plain(second), plain(first))
  expect(second.encode().equals(encoded)).toBe(true)
}

describe('DHCPv4 codec under random input', () => {
  it('seed rows (testdata/fuzz-seeds.json: messages that once broke a property) decode typed and round-trip', () => {
    const seeds = JSON.parse(readFileSync(new URL('../testdata/fuzz-seeds.json', import.meta.url), 'utf8')) as Array<{ hex: string; note: string }>
    expect(seeds.length).toBeGreaterThan(0)
    for (const seed of seeds) roundTrip(Buffer.from(seed.hex, 'hex'))
  })

  it('random bytes: only DhcpDecodeError', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => void decodeOrTypedError(bytes)), { numRuns: RUNS })
  })

  it('well-shaped messages with random options: decode, encode, decode is stable in values and bytes', () => {
    fc.assert(
      fc.property(shaped, (bytes) => roundTrip(bytes)),
      { numRuns: RUNS },
    )
  })

  it('a real REQUEST with one byte changed anywhere: a message or a DhcpDecodeError', () => {
    const base = real()
    fc.assert(
      fc.property(fc.integer({ min: 0, max: base.length - 1 }), fc.integer({ min: 0, max: 255 }), (at, value) => {
        const bytes = Buffer.from(base)
        bytes[at] = value
        void decodeOrTypedError(bytes)
      }),
      { numRuns: RUNS },
    )
  })
})

/** Encoding a decoded message may refuse values the codec cannot write back; it must say so typed. */
function encodeOrTypedError(m: DhcpMessage): Buffer | undefined {
  try {
    return m.encode()
  } catch (error) {
    if ((error as { code?: string }).code === 'LAB_ERR_ARGUMENT' || error instanceof DhcpDecodeError) return undefined
    throw new Error(`encode escaped: ${(error as Error)?.stack ?? String(error)}`)
  }
}

describe('server configuration files under random input', () => {
  it('any text, any JSON: a config or one ConfigError naming what is wrong, never another error', async () => {
    const { ConfigError, parseConfig } = await import('../src/index.js')
    const subnet = fc.record({ subnet: fc.constantFrom('10.1.0.0/24', '10.1.0.0/33', 'x', 7), range: fc.oneof(fc.constant(['10.1.0.2', '10.1.0.9']), fc.jsonValue()), router: fc.oneof(fc.constant('10.1.0.1'), fc.jsonValue()), reservations: fc.oneof(fc.constant({ '02:00:00:00:00:01': '10.1.0.5' }), fc.jsonValue()) }, { requiredKeys: [] })
    const config = fc.record({ interface: fc.oneof(fc.constant('br0'), fc.jsonValue()), subnets: fc.oneof(fc.array(subnet, { maxLength: 3 }), fc.jsonValue()), leaseFile: fc.oneof(fc.constant('/tmp/x'), fc.jsonValue()), extra: fc.jsonValue() }, { requiredKeys: [] })
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 80 }), fc.json(), config.map((c) => JSON.stringify(c))), (text) => {
        try {
          parseConfig(text)
        } catch (error) {
          if (!(error instanceof ConfigError)) throw new Error(`escaped: ${(error as Error)?.stack ?? String(error)}`)
          expect((error as Error).message.split('\n')).toHaveLength(1)
        }
      }),
      { numRuns: RUNS },
    )
  })
})
