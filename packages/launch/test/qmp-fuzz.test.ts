// Property tests for the QMP client's reader: whatever lines QEMU (or something pretending to be
// it) sends, nothing escapes the stream's data handler, and a waiting command settles with a
// typed LaunchError/QmpError or its result.
import { readFileSync } from 'node:fs'
import { Duplex } from 'node:stream'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { LaunchError, QmpClient } from '../src/index.js'

/** A fake QEMU end: what the client writes is collected; `send` delivers lines to the client. */
function fakeQemu() {
  const written: string[] = []
  const stream = new Duplex({
    read() {},
    write(chunk, _encoding, callback) {
      written.push(String(chunk))
      callback()
    },
  })
  return { stream, written, send: (text: string) => stream.push(text) }
}

// CI runs a few hundred inputs; `npm run fuzz` sets LAB_FUZZ_RUNS for the long campaign.
const RUNS = Number(process.env.LAB_FUZZ_RUNS ?? 300)

/** Connects a client to a fake QEMU, sends `lines` in pieces of `chunk` bytes while a command waits; the command's outcome. */
async function commandAfter(lines: string[], chunk: number): Promise<{ ok: true; value: unknown } | { ok: false; error: unknown }> {
  const qemu = fakeQemu()
  const connecting = QmpClient.connect(qemu.stream)
  qemu.send('{"QMP": {"version": {"qemu": {"major": 7, "minor": 2, "micro": 0}}, "capabilities": []}}\n')
  await new Promise((r) => setImmediate(r))
  qemu.send('{"return": {}, "id": 1}\n')
  const client = await connecting
  const status = client.execute('query-status').then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  )
  // Delivered in odd-sized pieces, as a socket may.
  const text = lines.map((l) => `${l.replace(/\n/g, ' ')}\n`).join('')
  for (let i = 0; i < text.length; i += chunk) qemu.send(text.slice(i, i + chunk))
  qemu.send('{"return": {"status": "running"}, "id": 2}\n')
  qemu.stream.destroy()
  return await status
}

const line = fc.oneof(
  fc.json(),
  fc.string({ maxLength: 60 }),
  fc.record({ id: fc.integer({ min: 0, max: 4 }), return: fc.jsonValue() }).map((m) => JSON.stringify(m)),
  fc.record({ id: fc.integer({ min: 0, max: 4 }), error: fc.jsonValue() }).map((m) => JSON.stringify(m)),
  fc.record({ event: fc.string({ maxLength: 10 }), data: fc.jsonValue() }).map((m) => JSON.stringify(m)),
)

describe('QMP reader under random input', () => {
  it('random lines after the handshake: a pending command settles typed, nothing escapes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(line, { maxLength: 8 }), fc.integer({ min: 1, max: 7 }), async (lines, chunk) => {
        const outcome = await commandAfter(lines, chunk)
        if (!outcome.ok) expect(outcome.error).toBeInstanceOf(LaunchError)
      }),
      { numRuns: RUNS },
    )
  })

  it('seed rows (testdata/qmp-fuzz-seeds.json: lines that once crashed the reader) end the command typed', async () => {
    const seeds = JSON.parse(readFileSync(new URL('../testdata/qmp-fuzz-seeds.json', import.meta.url), 'utf8')) as Array<{ line: string; fails: boolean; note: string }>
    expect(seeds.length).toBeGreaterThan(0)
    for (const seed of seeds) {
      for (const chunk of [1, 3, 1000]) {
        const outcome = await commandAfter([seed.line], chunk)
        // A line that is no QMP message ends the session (a LaunchError); others may leave the command to its reply.
        if (seed.fails) expect(outcome.ok, seed.note).toBe(false)
        if (!outcome.ok) expect(outcome.error, seed.note).toBeInstanceOf(LaunchError)
      }
    }
  })
})
