import { spawn } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TestNetns, cleanupAll, isRoot } from '@lab/testkit'
import { Netlink } from '../src/index.js'

const BASE = 3000

describe.skipIf(!isRoot())('dumps the kernel marks interrupted (needs root)', () => {
  let ns: TestNetns
  let nl: Netlink
  beforeAll(async () => {
    ns = await TestNetns.create('intr')
    nl = await Netlink.open({ netns: ns.name })
    await nl.link.add({ name: 'd0', kind: 'bridge' })
    await nl.batch((b) => {
      for (let i = 0; i < BASE; i++) b.addr.add('d0', `10.${50 + (i >> 8)}.${i & 255}.1/32`)
    })
  })
  afterAll(() => {
    nl?.close()
    cleanupAll()
  })

  it('retries a dump that changed under it and returns the data flagged, never dropped', async () => {
    // Another process changes the address table while we dump it (bounded: 20,000 changes).
    const lines: string[] = []
    for (let i = 0; i < 10_000; i++) lines.push(`addr add 10.99.${(i >> 8) & 255}.${i & 255}/32 dev d0`, `addr del 10.99.${(i >> 8) & 255}.${i & 255}/32 dev d0`)
    const writer = spawn('ip', ['-n', ns.name, '-batch', '-'], { stdio: ['pipe', 'ignore', 'ignore'] })
    writer.stdin.on('error', () => undefined)
    writer.stdin.end(lines.join('\n') + '\n')
    const running = new Promise((resolve) => writer.once('exit', resolve))
    let retried = 0
    const deadline = Date.now() + 15_000
    try {
      for (let k = 0; k < 300 && Date.now() < deadline && writer.exitCode === null; k++) {
        const reply = await nl.socket.dump({ type: 22, op: 'addr list', body: (w) => void w.reserve(8) })
        if ((reply.attempts ?? 1) > 1) retried++
        const list = await nl.addr.list({ link: 'd0' })
        const base = list.filter((a) => !a.address.startsWith('10.99.')).length
        // Flagged (list.interrupted) or not, nothing of the unchanged part is dropped.
        expect(typeof list.interrupted).toBe('boolean')
        expect(base).toBe(BASE)
      }
    } finally {
      writer.kill()
      await running
    }
    expect(retried).toBeGreaterThan(0)
  })
})
