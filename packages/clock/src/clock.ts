// Time as a dependency: code that waits (retransmissions, lease timers, backoff, probes) takes a
// Clock, so tests drive it with FakeClock instead of sleeping.

export interface TimerHandle {
  cancel(): void
}

export interface Clock {
  /** Milliseconds since the epoch (or since the fake clock's start). */
  now(): number
  /** Calls `fn` once after `ms`; `cancel()` stops it. */
  setTimeout(fn: () => void, ms: number): TimerHandle
}

/** Node timers hold at most 2^31-1 ms (24.8 days); longer waits (multi-week leases) are chained. */
const MAX_TIMER_MS = 2 ** 31 - 1

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    let timer: NodeJS.Timeout
    const arm = (left: number) => {
      timer = setTimeout(() => (left > MAX_TIMER_MS ? arm(left - MAX_TIMER_MS) : fn()), Math.min(left, MAX_TIMER_MS))
    }
    arm(Math.max(0, ms))
    return { cancel: () => clearTimeout(timer) }
  },
}

/** Resolves after `ms` on `clock`; rejects with the signal's reason when it aborts first. */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason)
    const onAbort = () => {
      timer.cancel()
      reject(signal!.reason)
    }
    const timer = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
