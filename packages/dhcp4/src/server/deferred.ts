// A promise with its resolve and reject at hand: what a group commit's waiters share.

export interface Deferred {
  promise: Promise<void>
  resolve: () => void
  reject: (error: Error) => void
}

export function deferred(): Deferred {
  let resolve!: () => void
  let reject!: (error: Error) => void
  const promise = new Promise<void>((res, rej) => {
    resolve = res
    reject = rej
  })
  // A failed commit is reported to whoever waits on durable(); nobody waiting is not a crash.
  promise.catch(() => undefined)
  return { promise, resolve, reject }
}
