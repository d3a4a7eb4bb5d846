import { afterEach, describe, expect, it, vi } from 'vitest'
import { FakeClock, realClock, sleep } from '../src/index.js'

describe('FakeClock', () => {
  it('fires due timers in order, ties in the order they were set, and not the others', async () => {
    const clock = new FakeClock(1000)
    const fired: string[] = []
    clock.setTimeout(() => fired.push('b'), 20)
    clock.setTimeout(() => fired.push('a'), 10)
    clock.setTimeout(() => fired.push('a2'), 10)
    const late = clock.setTimeout(() => fired.push('late'), 100)
    expect(clock.pendingDelays()).toEqual([10, 10, 20, 100])
    await clock.advance(20)
    expect(fired).toEqual(['a', 'a2', 'b'])
    expect(clock.now()).toBe(1020)
    late.cancel()
    await clock.advance(1000)
    expect(fired).toEqual(['a', 'a2', 'b'])
    expect(clock.pending).toBe(0)
  })

  it('runs timers set by timers and awaited chains within the same advance', async () => {
    const clock = new FakeClock()
    const seen: number[] = []
    void (async () => {
      await sleep(clock, 5)
      seen.push(clock.now())
      await sleep(clock, 5)
      seen.push(clock.now())
    })()
    await clock.advance(10)
    expect(seen).toEqual([5, 10])
  })

  it('sleep rejects when aborted', async () => {
    const clock = new FakeClock()
    const controller = new AbortController()
    const slept = sleep(clock, 50, controller.signal)
    controller.abort(new Error('stop'))
    await expect(slept).rejects.toThrow('stop')
    expect(clock.pending).toBe(0)
  })
})

describe('realClock', () => {
  afterEach(() => vi.useRealTimers())

  it('chains waits longer than 2^31-1 ms instead of firing at once', () => {
    vi.useFakeTimers()
    let fired = false
    realClock.setTimeout(() => (fired = true), 30 * 24 * 3600 * 1000)
    vi.advanceTimersByTime(2 ** 31 - 1)
    expect(fired).toBe(false)
    vi.advanceTimersByTime(30 * 24 * 3600 * 1000 - (2 ** 31 - 1))
    expect(fired).toBe(true)
  })
})
