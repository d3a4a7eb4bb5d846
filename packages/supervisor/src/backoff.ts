// Exponential backoff with jitter: base * factor^(attempt-1), capped, then spread by ±jitter.
export interface BackoffOptions {
  baseMs: number
  factor: number
  capMs: number
  /** 0..1: the delay is multiplied by a random factor in [1 - jitter, 1 + jitter]. */
  jitter: number
  /** Healthy this long without failing, and the attempt count starts over. */
  resetAfterMs: number
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 100, factor: 2, capMs: 30_000, jitter: 0.2, resetAfterMs: 60_000 }

export function backoffDelay(o: BackoffOptions, attempt: number, random: () => number = Math.random): number {
  const raw = Math.min(o.capMs, o.baseMs * o.factor ** Math.max(0, attempt - 1))
  const spread = o.jitter > 0 ? 1 - o.jitter + 2 * o.jitter * random() : 1
  return Math.round(raw * spread)
}
