// A clock for state-machine tests: time moves only when the test says so.
import type { Clock, TimerHandle } from '../../src/index.js'

interface Timer {
  at: number
  seq: number
  fn: () => void
  cancelled: boolean
}

export class FakeClock implements Clock {
  #now: number
  #seq = 0
  #timers: Timer[] = []

  constructor(start = 1_000_000) {
    this.#now = start
  }

  now(): number {
    return this.#now
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer: Timer = { at: this.#now + Math.max(0, ms), seq: this.#seq++, fn, cancelled: false }
    this.#timers.push(timer)
    return { cancel: () => void (timer.cancelled = true) }
  }

  /** Timers still armed, soonest first: when they fire, relative to now. */
  pending(): number[] {
    return this.#live().map((t) => t.at - this.#now)
  }

  #live(): Timer[] {
    this.#timers = this.#timers.filter((t) => !t.cancelled)
    return [...this.#timers].sort((a, b) => a.at - b.at || a.seq - b.seq)
  }

  /** Moves time forward, firing every timer that falls due on the way, in order. */
  async advance(ms: number): Promise<void> {
    const end = this.#now + ms
    for (;;) {
      const next = this.#live().find((t) => t.at <= end)
      if (!next) break
      this.#now = next.at
      next.cancelled = true
      next.fn()
      await settle()
    }
    this.#now = end
    await settle()
  }
}

/** Lets pending promise callbacks run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r))
}
