// Time as a dependency: the real clock, and a manual one for tests that moves only when told.
export interface TimerHandle {
  cancel(): void
}

export interface Clock {
  now(): number
  setTimeout(fn: () => void, ms: number): TimerHandle
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms)
    return { cancel: () => clearTimeout(t) }
  },
}

interface Pending {
  at: number
  seq: number
  fn: () => void
}

/** A clock for tests: `advance(ms)` runs due timers in order, letting promises settle between them. */
export class FakeClock implements Clock {
  #now: number
  #seq = 0
  #timers: Pending[] = []

  constructor(start = 0) {
    this.#now = start
  }

  now(): number {
    return this.#now
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer: Pending = { at: this.#now + Math.max(0, ms), seq: this.#seq++, fn }
    this.#timers.push(timer)
    return {
      cancel: () => {
        const i = this.#timers.indexOf(timer)
        if (i >= 0) this.#timers.splice(i, 1)
      },
    }
  }

  /** Timers not yet fired. */
  get pending(): number {
    return this.#timers.length
  }

  /** Lets pending promise callbacks run (several turns, so chains of awaits settle). */
  async settle(): Promise<void> {
    for (let i = 0; i < 20; i++) await new Promise<void>((resolve) => setImmediate(resolve))
  }

  async advance(ms: number): Promise<void> {
    const target = this.#now + ms
    await this.settle()
    for (;;) {
      this.#timers.sort((a, b) => a.at - b.at || a.seq - b.seq)
      const next = this.#timers[0]
      if (!next || next.at > target) break
      this.#timers.shift()
      this.#now = next.at
      next.fn()
      await this.settle()
    }
    this.#now = target
    await this.settle()
  }
}
