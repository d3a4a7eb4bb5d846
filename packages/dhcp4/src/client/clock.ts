// Time as a dependency of the client: its timers (retransmission, T1, T2, expiry) run on this, so
// tests drive the state machine with a fake clock. Structurally the same as @lab/supervisor's and
// @lab/arp's Clock.
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
    // Node timers hold at most 2^31-1 ms; longer waits (multi-week leases) are chained.
    const MAX = 2 ** 31 - 1
    let t: NodeJS.Timeout
    const arm = (left: number) => {
      t = setTimeout(() => (left > MAX ? arm(left - MAX) : fn()), Math.min(left, MAX))
    }
    arm(Math.max(0, ms))
    return { cancel: () => clearTimeout(t) }
  },
}
