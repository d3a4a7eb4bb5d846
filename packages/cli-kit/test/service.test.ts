import { EventEmitter } from 'node:events'
import { describe, expect, it } from 'vitest'
import { runLeaseClient, type LeaseClient } from '../src/index.js'

class FakeClient extends EventEmitter implements LeaseClient<string> {
  calls: string[] = []
  constructor(private readonly outcome: 'lease' | 'timeout' | 'configure-fails') {
    super()
  }
  async waitForLease(): Promise<string> {
    if (this.outcome === 'timeout') throw Object.assign(new Error('no lease on eth0 within 1 s'), { timeout: true })
    if (this.outcome === 'configure-fails') this.emit('error', new Error('EPERM: addr add'))
    return '10.0.0.2'
  }
  async release(): Promise<void> {
    this.calls.push('release')
  }
  async stop(): Promise<void> {
    this.calls.push('stop')
  }
}

function run(client: FakeClient, values: { once?: boolean; 'release-on-exit'?: boolean }, signal = AbortSignal.abort()) {
  const shown: string[] = []
  const errors: string[] = []
  const done = runLeaseClient(client, { program: 'lab-x', interface: 'eth0', timeoutMs: 1000, values, signal, show: (l, r) => void shown.push(`${r} ${l}`), stderr: (l) => void errors.push(l), isTimeout: (e) => (e as { timeout?: boolean }).timeout === true })
  return { done, shown, errors }
}

describe('runLeaseClient', () => {
  it('prints the first lease; --once stops, --release-on-exit releases', async () => {
    const once = new FakeClient('lease')
    const a = run(once, { once: true })
    expect(await a.done).toBe(0)
    expect(a.shown).toEqual(['acquire 10.0.0.2'])
    expect(once.calls).toEqual(['stop'])
    const releasing = new FakeClient('lease')
    expect(await run(releasing, { 'release-on-exit': true }).done).toBe(0)
    expect(releasing.calls).toEqual(['release'])
  })

  it('keeps printing changes until the signal aborts', async () => {
    const client = new FakeClient('lease')
    const controller = new AbortController()
    const r = run(client, {}, controller.signal)
    await new Promise((resolve) => setImmediate(resolve))
    client.emit('lease', { next: '10.0.0.2', reason: 'renew' })
    controller.abort()
    expect(await r.done).toBe(0)
    expect(r.shown).toEqual(['acquire 10.0.0.2', 'renew 10.0.0.2'])
  })

  it('no lease in time, or a lease it could not configure: one line, exit 1, stopped', async () => {
    const late = new FakeClient('timeout')
    const a = run(late, {})
    expect(await a.done).toBe(1)
    expect(a.errors).toEqual(['lab-x: no lease on eth0 within 1 s'])
    expect(late.calls).toEqual(['stop'])
    const broken = new FakeClient('configure-fails')
    const b = run(broken, {})
    expect(await b.done).toBe(1)
    expect(b.errors).toEqual(['lab-x: the lease came but configuring eth0 failed (see the log)'])
  })
})
