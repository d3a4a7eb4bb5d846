// Property tests for every nftables decoder: tables, chains, rules (with their expressions), sets,
// elements and monitor events decode or fail with a typed error (DecodeError, or NftError
// LAB_ERR_NFT_DECODE), and whatever decodes also renders as text without throwing.
import { isDeepStrictEqual } from 'node:util'
import { readFileSync } from 'node:fs'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { AttributeWriter, DecodeError, type NetlinkMessage } from '@lab/netlink-native'
import type { Family } from '../src/constants.js'
import { NftError } from '../src/errors.js'
import { decodeExpression, type Expression } from '../src/expr/expression.js'
import '../src/expr/index.js'
import { decodeNftEvent } from '../src/monitor.js'
import { decodeChain, writeChain } from '../src/objects/chain.js'
import { nfgenmsg } from '../src/objects/header.js'
import { decodeRule, writeRule } from '../src/objects/rule.js'
import { decodeSet, decodeWireElements, writeSet } from '../src/objects/set.js'
import { decodeTable, writeTable } from '../src/objects/table.js'
import { Attributes } from '@lab/netlink-native'

/**
 * expect(actual).toEqual(expected), with node's deep-strict comparison first: where that holds,
 * toEqual holds too, at a fraction of the cost (vitest's equality was a third of a round-trip
 * property's time, which counts at the million inputs of `npm run fuzz`).
 */
function expectEqual(actual: unknown, expected: unknown): void {
  if (!isDeepStrictEqual(actual, expected)) expect(actual).toEqual(expected)
}

// CI runs a few thousand inputs; `npm run fuzz` sets LAB_FUZZ_RUNS for the long campaign.
const RUNS = Number(process.env.LAB_FUZZ_RUNS ?? 1_500)
const EXPRESSIONS = ['bitwise', 'cmp', 'counter', 'ct', 'immediate', 'limit', 'log', 'lookup', 'masq', 'meta', 'nat', 'notrack', 'payload', 'range', 'reject', 'redir', 'dynset', 'nosuch']

function typed(decode: () => unknown): void {
  try {
    const value = decode()
    // Whatever decodes must also print: rule text is how a user reads what came back.
    if (value && typeof value === 'object' && 'toString' in value) String(value)
  } catch (error) {
    if (error instanceof DecodeError) return
    if (error instanceof NftError && error.code === 'LAB_ERR_NFT_DECODE') return
    throw new Error(`escaped: ${(error as Error)?.stack ?? String(error)}`)
  }
}

const attribute = fc.record({ type: fc.integer({ min: 0, max: 20 }), value: fc.uint8Array({ maxLength: 20 }), nested: fc.boolean() })
function frame(attrs: Array<{ type: number; value: Uint8Array; nested: boolean }>): Buffer {
  const w = new AttributeWriter()
  for (const a of attrs) {
    if (a.nested) w.nested(a.type, (n) => n.attr(a.type, Buffer.from(a.value)))
    else w.attr(a.type, Buffer.from(a.value))
  }
  return Buffer.from(w.view())
}
const message = (type: number, payload: Buffer): NetlinkMessage => ({ type, flags: 0, seq: 1, pid: 0, payload })
const nfgen = fc.tuple(fc.constantFrom(1, 2, 3, 5, 7, 10, 99), fc.uint8Array({ minLength: 3, maxLength: 3 })).map(([family, rest]) => Buffer.from([family, ...rest]))

describe('nftables decoders under random input', () => {
  const objects: Array<[string, (m: NetlinkMessage) => unknown, number]> = [
    ['table', decodeTable, 0x0a00],
    ['chain', decodeChain, 0x0a03],
    ['rule', decodeRule, 0x0a06],
    ['set', decodeSet, 0x0a09],
    ['elements', (m) => decodeWireElements(m), 0x0a0c],
  ]
  for (const [name, decode, type] of objects) {
    it(`${name}: random payloads, and a header with well-framed random attributes: typed errors only`, () => {
      fc.assert(fc.property(fc.uint8Array({ maxLength: 120 }), (bytes) => typed(() => decode(message(type, Buffer.from(bytes))))), { numRuns: RUNS })
      fc.assert(fc.property(nfgen, fc.array(attribute, { maxLength: 10 }), (head, attrs) => typed(() => decode(message(type, Buffer.concat([head, frame(attrs)]))))), { numRuns: RUNS })
    })
  }

  it('seed rows (testdata/fuzz-seeds.json: inputs that once crashed a decoder): a value or a typed error', () => {
    const seeds = JSON.parse(readFileSync(new URL('../testdata/fuzz-seeds.json', import.meta.url), 'utf8')) as Array<{ decoder: string; hex: string; throws?: string; note: string }>
    expect(seeds.length).toBeGreaterThan(0)
    for (const seed of seeds) {
      const entry = objects.find(([name]) => name === seed.decoder)
      if (!entry) throw new Error(`seed for an unknown decoder ${seed.decoder}`)
      const decode = () => entry[1](message(entry[2], Buffer.from(seed.hex, 'hex')))
      typed(decode)
      // A row that names an error must still end in exactly that one.
      if (seed.throws) expect(decode, seed.note).toThrow(expect.objectContaining({ name: seed.throws }))
    }
  })

  it('every expression kind, with random attributes, decodes and renders or fails typed', () => {
    fc.assert(
      fc.property(fc.constantFrom(...EXPRESSIONS), fc.array(attribute, { maxLength: 8 }), (kind, attrs) => {
        const raw = frame(attrs)
        typed(() => decodeExpression(kind, new Attributes(raw), raw))
      }),
      { numRuns: RUNS * 2 },
    )
  })

  it('monitor events of any type: typed errors only', () => {
    fc.assert(fc.property(fc.integer({ min: 0x0a00, max: 0x0a1f }), nfgen, fc.array(attribute, { maxLength: 8 }), (type, head, attrs) => typed(() => decodeNftEvent(message(type, Buffer.concat([head, frame(attrs)]))))), { numRuns: RUNS })
  })
})

/** Encodes with the package's writer; a decoded value the writer refuses must be refused typed. */
function encoded(write: (w: AttributeWriter) => void): Buffer | undefined {
  try {
    const w = new AttributeWriter()
    write(w)
    return Buffer.from(w.view())
  } catch (error) {
    if ((error as { code?: string }).code === 'LAB_ERR_ARGUMENT') return undefined
    throw new Error(`encode escaped: ${(error as Error)?.stack ?? String(error)}`)
  }
}

function decodedOrUndefined<T>(decode: () => T): T | undefined {
  try {
    return decode()
  } catch (error) {
    if (error instanceof DecodeError || (error instanceof NftError && error.code === 'LAB_ERR_NFT_DECODE')) return undefined
    throw new Error(`escaped: ${(error as Error)?.stack ?? String(error)}`)
  }
}

const familyOf = (v: { family?: Family; table?: { family: Family } }): Family => v.table?.family ?? v.family!

describe('decode -> encode -> decode is stable in values and bytes', () => {
  // Whatever decodes from random attributes is written back with the package's own writer: that
  // decodes to the same value, and writing it again gives the same bytes. (Read-only fields the
  // writer does not carry, such as a table's use count, are gone after the first round; from then
  // on nothing may change.)
  const objects: Array<[string, number, (m: NetlinkMessage) => any, (w: AttributeWriter, v: any) => void]> = [
    ['table', 0x0a00, decodeTable, writeTable],
    ['chain', 0x0a03, decodeChain, writeChain],
    ['rule', 0x0a06, decodeRule, writeRule],
    ['set', 0x0a09, decodeSet, writeSet],
  ]
  for (const [name, type, decode, write] of objects) {
    it(`${name}: random header and attributes`, () => {
      fc.assert(
        fc.property(nfgen, fc.array(attribute, { maxLength: 10 }), (head, attrs) => {
          const first = decodedOrUndefined(() => decode(message(type, Buffer.concat([head, frame(attrs)]))))
          if (!first) return
          const once = encoded((w) => (nfgenmsg(w, familyOf(first)), write(w, first)))
          if (!once) return
          const second = decode(message(type, once))
          const twice = encoded((w) => (nfgenmsg(w, familyOf(second)), write(w, second)))!
          expect(twice.equals(once)).toBe(true)
          expectEqual(decode(message(type, twice)), second)
        }),
        { numRuns: RUNS },
      )
    })
  }

  it('every expression kind, with random attributes', () => {
    fc.assert(
      fc.property(fc.constantFrom(...EXPRESSIONS), fc.array(attribute, { maxLength: 8 }), (kind, attrs) => {
        const raw = frame(attrs)
        const first = decodedOrUndefined(() => decodeExpression(kind, new Attributes(raw), raw))
        if (!first) return
        const once = encoded((w) => first.encode(w))
        if (!once) return
        const second: Expression = decodeExpression(kind, new Attributes(once), once)
        const twice = encoded((w) => second.encode(w))!
        expect(twice.equals(once)).toBe(true)
        expect(String(second)).toBe(String(first))
        expectEqual(decodeExpression(kind, new Attributes(twice), twice), second)
      }),
      { numRuns: RUNS * 2 },
    )
  })
})
