// `waitForLease()` of DHCPv4's and @lab/dhcp6's clients: the lease the client is bound with, or
// the next one it gets, or an error after a time.
import type { Clock } from '@lab/clock'

/** What a client's state machine tells: its lease and state now, and lease changes as they come. */
export interface LeaseSource<L> {
  readonly lease: L | undefined
  readonly state: string
  on(event: 'lease', fn: (change: { next?: L }) => void): unknown
  off(event: 'lease', fn: (change: { next?: L }) => void): unknown
}

/** The lease `source` is bound with, else the next it gets; rejects with `timeout()` after `timeoutMs` on `clock`. */
export function nextLease<L>(source: LeaseSource<L>, clock: Clock, timeoutMs: number, timeout: () => Error): Promise<L> {
  const current = source.lease
  if (current && source.state === 'bound') return Promise.resolve(current)
  return new Promise((resolve, reject) => {
    const onLease = ({ next }: { next?: L }) => {
      if (!next) return
      done()
      resolve(next)
    }
    const timer = clock.setTimeout(() => {
      done()
      reject(timeout())
    }, timeoutMs)
    const done = () => {
      timer.cancel()
      source.off('lease', onLease)
    }
    source.on('lease', onLease)
  })
}
