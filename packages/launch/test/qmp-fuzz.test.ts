// Property tests for the QMP client's reader: whatever lines QEMU (or something pretending to be
// it) sends, nothing escapes the stream's data handler, and a waiting command settles with a
// typed LaunchError/QmpError or its result.
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
        const outcome = await status
        if (!outcome.ok) expect(outcome.error).toBeInstanceOf(LaunchError)
      }),
      { numRuns: 300 },
    )
  })
})
