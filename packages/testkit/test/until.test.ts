import { describe, expect, it } from 'vitest'
import { until } from '../src/index.js'

describe('until', () => {
  it('returns the first value that satisfies ok', async () => {
    let n = 0
    const value = await until('n reaches 3', () => ++n, (v) => v >= 3, { everyMs: 1 })
    expect(value).toBe(3)
  })

  it('takes any truthy value by default and retries reads that throw', async () => {
    let n = 0
    const value = await until('a name', async () => {
      if (++n < 3) throw new Error('not up yet')
      return n === 3 ? '' : 'ready'
    }, undefined, { everyMs: 1 })
    expect(value).toBe('ready')
    expect(n).toBe(4)
  })

  it('names what it waited for and the last value when it gives up', async () => {
    await expect(until('the answer', () => ({ answer: 41 }), (v) => v.answer === 42, { timeoutMs: 20, everyMs: 5 })).rejects.toThrow(
      /waiting for the answer \(last: \{"answer":41\}\)/,
    )
    await expect(until('a peer', () => { throw new Error('ECONNREFUSED') }, undefined, { timeoutMs: 20, everyMs: 5 })).rejects.toThrow(/a peer \(last error: ECONNREFUSED\)/)
  })
})
