// The shape every runnable of the switch has: open something, report healthy, run (by default:
// wait until cancelled), and close what was opened, also when the run fails. A configuration error
// while opening stops the whole switch (Lifecycle.fatal) instead of being restarted forever.
import type { Context, Runnable } from '@lab/supervisor'
import { isConfigError } from './errors.js'
import type { Lifecycle } from './lifecycle.js'

export const aborted = (signal: AbortSignal): Promise<void> =>
  new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })))

export interface ServiceOptions<T> {
  /** The body after healthy (default: wait until cancelled). Returning before cancellation is a failure. */
  run?: (resource: T, ctx: Context) => Promise<void>
}

/** A supervised runnable from an open and a close. */
export function service<T>(lifecycle: Lifecycle, open: (ctx: Context) => Promise<T>, close: (resource: T, ctx: Context) => Promise<void>, options: ServiceOptions<T> = {}): Runnable {
  return async (ctx) => {
    let resource: T
    try {
      resource = await open(ctx)
    } catch (error) {
      if (!isConfigError(error)) throw error
      // Restarting cannot fix a configuration: hand it to the switch, which stops, and wait for that.
      lifecycle.fatal(error as Error)
      await aborted(ctx.signal)
      return
    }
    try {
      ctx.healthy()
      const body = options.run ? options.run(resource, ctx) : aborted(ctx.signal)
      await body
    } finally {
      await close(resource, ctx)
    }
  }
}
