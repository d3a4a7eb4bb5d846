// Property tests for the SOCKS5 codec (RFC 1928): any bytes parse to a value, to "not yet" or to
// a SocksProtocolError; a valid request parses the same however it is split into chunks.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { SocksProtocolError, parseGreeting, parseRequest } from '../src/socks/socks5-codec.js'

// CI runs a few thousand inputs; `npm run fuzz` sets LAB_FUZZ_RUNS for the long campaign.
const RUNS = Number(process.env.LAB_FUZZ_RUNS ?? 2_000)

function typed<T>(parse: () => T): T | undefined {
  try {
    return parse()
  } catch (error) {
    if (error instanceof SocksProtocolError) return undefined
    throw error
  }
}

const request = fc.oneof(
  fc.tuple(fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.integer({ min: 0, max: 65535 })).map(([a, port]) => ({ bytes: [5, 1, 0, 1, ...a, port >> 8, port & 255], host: [...a].join('.'), port })),
  fc.tuple(fc.string({ minLength: 1, maxLength: 40 }).map((s) => s.replace(/[^\x20-\x7e]/g, 'a')), fc.integer({ min: 0, max: 65535 })).map(([name, port]) => ({ bytes: [5, 1, 0, 3, name.length, ...Buffer.from(name, 'latin1'), port >> 8, port & 255], host: name, port })),
)

describe('SOCKS5 codec under random input', () => {
  it('random bytes: a greeting/request, not-yet, or SocksProtocolError; never another error', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        typed(() => parseGreeting(Buffer.from(bytes)))
        typed(() => parseRequest(Buffer.from(bytes)))
      }),
      { numRuns: RUNS },
    )
  })

  it('a valid request parses the same from any prefix split: not-yet until complete, then the value', () => {
    fc.assert(
      fc.property(request, (r) => {
        const full = Buffer.from(r.bytes)
        for (let n = 0; n < full.length; n++) expect(parseRequest(full.subarray(0, n))).toBeUndefined()
        const parsed = parseRequest(Buffer.concat([full, Buffer.from([9, 9])]))!
        expect(parsed.value).toMatchObject({ host: r.host, port: r.port, command: 1 })
        expect(parsed.consumed).toBe(full.length)
      }),
      { numRuns: 500 },
    )
  })
})
