// A clock for tests: time moves only when the test says so, and timers fire in order (ties in the
// order they were set), with promise callbacks let run between them so chains of awaits settle.
import type { Clock, TimerHandle } from './clock.js'

interface Timer {
  at: number
  seq: number
  fn: () => void
}

export class FakeClock implements Clock {
  #now: number
  #seq = 0
  #timers: Timer[] = []

  /** `start`: what now() returns before any advance (ms). */
  constructor(start = 0) {
    this.#now = start
  }

  now(): number {
    return this.#now
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer: Timer = { at: this.#now + Math.max(0, ms), seq: this.#seq++, fn }
    this.#timers.push(timer)
    return {
      cancel: () => {
        const i = this.#timers.indexOf(timer)
        if (i >= 0) this.#timers.splice(i, 1)
      },
    }
  }

  /** How many timers are armed. */
  get pending(): number {
    return this.#timers.length
  }

  /** When the armed timers fire, relative to now, soonest first. */
  pendingDelays(): number[] {
    return this.#sorted().map((t) => t.at - this.#now)
  }

  /** Lets pending promise callbacks run (several turns of the event loop). */
  async settle(): Promise<void> {
    for (let i = 0; i < 20; i++) await new Promise<void>((resolve) => setImmediate(resolve))
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way, in order. */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms
    await this.settle()
    for (;;) {
      const next = this.#sorted()[0]
      if (!next || next.at > target) break
      this.#timers.splice(this.#timers.indexOf(next), 1)
      this.#now = next.at
      next.fn()
      await this.settle()
    }
    this.#now = target
    await this.settle()
  }

  #sorted(): Timer[] {
    return [...this.#timers].sort((a, b) => a.at - b.at || a.seq - b.seq)
  }
}
