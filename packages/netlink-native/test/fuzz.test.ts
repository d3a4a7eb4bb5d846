// Property tests for every decoder of this package: whatever bytes arrive, only our typed
// DecodeError escapes (never a RangeError from a Buffer read, never a crash), and what the writer
// encodes decodes to the same values. Found crashers stay as seed rows in testdata/fuzz-seeds.json.
import { isDeepStrictEqual } from 'node:util'
import { readFileSync } from 'node:fs'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { DecodeError } from '../src/errors.js'
import { AttributeWriter, Attributes } from '../src/netlink/attributes.js'
import { MessageWriter, parseMessages, type NetlinkMessage } from '../src/netlink/message.js'
import { parseErrorPayload } from '../src/netlink/error.js'
import { decodeAddress } from '../src/rtnetlink/addr.js'
import { decodeLink } from '../src/rtnetlink/link.js'
import { decodeNeighbour } from '../src/rtnetlink/neigh.js'
import { decodeQdisc } from '../src/rtnetlink/qdisc.js'
import { decodeRoute } from '../src/rtnetlink/route.js'
import { decodeRule } from '../src/rtnetlink/rule.js'
import { decodeEvent } from '../src/rtnetlink/watch.js'
import * as C from '../src/rtnetlink/constants.js'

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

/** Runs `decode`; anything thrown must be a DecodeError. */
function onlyDecodeErrors(decode: () => unknown): void {
  try {
    decode()
  } catch (error) {
    if (!(error instanceof DecodeError)) throw new Error(`escaped: ${(error as Error)?.stack ?? String(error)}`)
  }
}

/** A well-framed attribute list with random types and contents, nested one level at times. */
const attribute = fc.record({ type: fc.integer({ min: 0, max: 64 }), value: fc.uint8Array({ maxLength: 24 }), nested: fc.boolean() })
function frame(attrs: Array<{ type: number; value: Uint8Array; nested: boolean }>): Buffer {
  const w = new AttributeWriter()
  for (const a of attrs) {
    if (a.nested) w.nested(a.type, (n) => n.attr(a.type, Buffer.from(a.value)))
    else w.attr(a.type, Buffer.from(a.value))
  }
  return Buffer.from(w.view())
}

const decoders: Array<[name: string, type: number, header: number, decode: (m: NetlinkMessage) => unknown]> = [
  ['link', C.RTM_NEWLINK, 16, decodeLink],
  ['addr', C.RTM_NEWADDR, 8, decodeAddress],
  ['route', C.RTM_NEWROUTE, 12, decodeRoute],
  ['neigh', C.RTM_NEWNEIGH, 12, decodeNeighbour],
  ['rule', C.RTM_NEWRULE, 12, decodeRule],
  ['qdisc', C.RTM_NEWQDISC, 20, decodeQdisc],
]

const message = (type: number, payload: Buffer): NetlinkMessage => ({ type, flags: 0, seq: 1, pid: 0, payload })

describe('netlink decoders under random input', () => {
  it('parseMessages: only DecodeError, whatever the bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 256 }), (bytes) => onlyDecodeErrors(() => parseMessages(Buffer.from(bytes)))), { numRuns: RUNS })
  })

  it('Attributes and their typed reads: only DecodeError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 128 }), fc.integer({ min: 0, max: 40 }), (bytes, type) =>
        onlyDecodeErrors(() => {
          const attrs = new Attributes(Buffer.from(bytes))
          attrs.u8(type)
          attrs.u16(type)
          attrs.u32(type)
          attrs.u64(type)
          attrs.str(type)
          attrs.be32(type)
          attrs.be64(type)
          attrs.nested(type)
        }),
      ),
      { numRuns: RUNS },
    )
  })

  it('an nlmsgerr payload of any shape: only DecodeError', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 96 }), fc.integer({ min: 0, max: 0xffff }), (bytes, flags) => onlyDecodeErrors(() => parseErrorPayload(Buffer.from(bytes), flags))), { numRuns: RUNS })
  })

  for (const [name, type, header, decode] of decoders) {
    it(`${name}: random bytes, and a random header with well-framed random attributes: only DecodeError`, () => {
      fc.assert(fc.property(fc.uint8Array({ maxLength: 160 }), (bytes) => onlyDecodeErrors(() => decode(message(type, Buffer.from(bytes))))), { numRuns: RUNS })
      fc.assert(
        fc.property(fc.uint8Array({ minLength: header, maxLength: header }), fc.array(attribute, { maxLength: 12 }), (head, attrs) =>
          onlyDecodeErrors(() => decode(message(type, Buffer.concat([Buffer.from(head), frame(attrs)])))),
        ),
        { numRuns: RUNS },
      )
    })
  }

  it('decodeEvent: any message type and payload, only DecodeError', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 100 }), fc.uint8Array({ maxLength: 96 }), (type, bytes) => onlyDecodeErrors(() => decodeEvent(message(type, Buffer.from(bytes))))), { numRuns: RUNS })
  })

  it('the seed rows (inputs that once crashed a decoder) decode or fail with DecodeError', () => {
    const seeds = JSON.parse(readFileSync(new URL('../testdata/fuzz-seeds.json', import.meta.url), 'utf8')) as Array<{ decoder: string; hex: string; note: string }>
    expect(seeds.length).toBeGreaterThan(0)
    for (const seed of seeds) {
      const bytes = Buffer.from(seed.hex, 'hex')
      const entry = decoders.find(([name]) => name === seed.decoder)
      if (seed.decoder === 'messages') onlyDecodeErrors(() => parseMessages(bytes))
      else if (seed.decoder === 'nlmsgerr') onlyDecodeErrors(() => parseErrorPayload(bytes, 0x100))
      else if (entry) onlyDecodeErrors(() => entry[3](message(entry[1], bytes)))
      else throw new Error(`seed for an unknown decoder ${seed.decoder}`)
    }
  })
})

describe('attribute encoding round-trips', () => {
  it('decode(encode(attributes)) gives the same types and values, and encoding again the same bytes', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ type: fc.integer({ min: 1, max: 0x3fff }), value: fc.uint8Array({ maxLength: 40 }) }), { maxLength: 16 }), (attrs) => {
        const w = new AttributeWriter()
        for (const a of attrs) w.attr(a.type, Buffer.from(a.value))
        const bytes = Buffer.from(w.view())
        const decoded = new Attributes(bytes).list
        expectEqual(decoded.map((a) => [a.type, Buffer.from(a.value).toString('hex')]), attrs.map((a) => [a.type, Buffer.from(a.value).toString('hex')]))
        const again = new AttributeWriter()
        for (const a of decoded) again.attr(a.type, a.value)
        expect(again.view().equals(bytes)).toBe(true)
      }),
      { numRuns: RUNS },
    )
  })

  it('integers read back as written, and a wrong size is a DecodeError naming the attribute', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 1, max: 3 }), (n, short) => {
        const bytes = Buffer.from(new AttributeWriter().u32(7, n).attr(8, Buffer.alloc(short)).view())
        const attrs = new Attributes(bytes)
        expect(attrs.u32(7)).toBe(n)
        expect(() => attrs.u32(8)).toThrow(DecodeError)
      }),
      { numRuns: RUNS },
    )
  })
})

describe('message framing round-trips', () => {
  // Payloads are whole 4-byte words, as every netlink payload is (the writer pads, the length counts it).
  it('parseMessages(bytes) written again with MessageWriter gives the same messages and the same bytes', () => {
    const write = (messages: NetlinkMessage[]) => {
      const w = new MessageWriter()
      for (const m of messages) {
        const at = w.begin(m.type, m.flags, m.seq, m.pid)
        w.bytes(m.payload)
        w.end(at)
      }
      return Buffer.from(w.view())
    }
    const messageArb = fc.record({ type: fc.integer({ min: 0, max: 0xffff }), flags: fc.integer({ min: 0, max: 0xffff }), seq: fc.nat(0xffffffff), pid: fc.nat(0xffffffff), payload: fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b.subarray(0, b.length & ~3))) })
    fc.assert(
      fc.property(fc.array(messageArb, { maxLength: 6 }), (messages) => {
        const bytes = write(messages)
        const first = parseMessages(bytes)
        expectEqual(first.map((m) => ({ ...m, payload: m.payload.toString('hex') })), messages.map((m) => ({ ...m, payload: m.payload.toString('hex') })))
        const again = write(first)
        expect(again.equals(bytes)).toBe(true)
        expectEqual(parseMessages(again), first)
      }),
      { numRuns: RUNS },
    )
  })
})
