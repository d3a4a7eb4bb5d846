/** How long `until` polls and how often. */
export interface UntilOptions {
  /** Give up after this long (default 15 s). */
  timeoutMs?: number
  /** Pause between reads (default 50 ms). */
  everyMs?: number
}

/**
 * Reads `read()` until `ok(value)` holds and returns that value; throws after `timeoutMs`
 * naming `what` and the last value read, so a failed wait says what it saw. The default `ok`
 * takes any truthy value. Reads that throw are retried until the deadline (the last error is
 * in the message), since a peer that is not up yet usually fails before it answers.
 */
export async function until<T>(what: string, read: () => T | Promise<T>, ok: (value: T) => boolean = Boolean, options: UntilOptions = {}): Promise<T> {
  const { timeoutMs = 15_000, everyMs = 50 } = options
  const deadline = Date.now() + timeoutMs
  for (;;) {
    let last: string
    try {
      const value = await read()
      if (ok(value)) return value
      last = `last: ${JSON.stringify(value)}`
    } catch (error) {
      last = `last error: ${(error as Error).message}`
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (${last})`)
    await new Promise((resolve) => setTimeout(resolve, everyMs))
  }
}
