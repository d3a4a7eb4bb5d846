// Property tests for every nftables decoder: tables, chains, rules (with their expressions), sets,
// elements and monitor events decode or fail with a typed error (DecodeError, or NftError
// LAB_ERR_NFT_DECODE), and whatever decodes also renders as text without throwing.
import fc from 'fast-check'
import { describe, it } from 'vitest'
import { AttributeWriter, DecodeError, type NetlinkMessage } from '@lab/netlink-native'
import { NftError } from '../src/errors.js'
import { decodeExpression } from '../src/expr/expression.js'
import '../src/expr/index.js'
import { decodeNftEvent } from '../src/monitor.js'
import { decodeChain } from '../src/objects/chain.js'
import { decodeRule } from '../src/objects/rule.js'
import { decodeSet, decodeWireElements } from '../src/objects/set.js'
import { decodeTable } from '../src/objects/table.js'
import { Attributes } from '@lab/netlink-native'

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

  it('seed rows: a payload shorter than nfgenmsg is a DecodeError for every object (it was a RangeError)', () => {
    for (const [name, decode, type] of objects) {
      for (const payload of [Buffer.alloc(0), Buffer.from([2, 0, 0])]) {
        let thrown: unknown
        try {
          decode(message(type, payload))
        } catch (error) {
          thrown = error
        }
        if (!(thrown instanceof DecodeError)) throw new Error(`${name} on ${payload.length} bytes: ${String(thrown)}`)
      }
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
