// Multicast messages of a netlink socket as an async iterator of decoded events: one queue, one
// waiter, ended by the signal or `return()`. Families decide what an event is and what to do when
// the kernel dropped some (ENOBUFS). The socket may still be opening: it is listened to once open,
// and closed (when it opens) if the stream ended first.
import type { NetlinkMessage } from './message.js'
import type { NetlinkSocket } from './socket.js'

export interface EventSink<T> {
  push(event: T): void
  /** Ends the stream with an error, thrown from the consumer's next `next()`. */
  fail(error: unknown): void
}

export function eventStream<T>(
  opening: NetlinkSocket | Promise<NetlinkSocket>,
  options: {
    decode(message: NetlinkMessage): T | undefined
    /**
     * Called when events were lost: the kernel dropped some (ENOBUFS), or the consumer fell
     * `maxQueued` events behind. Push what the consumer should hear (an overrun, then a resync).
     */
    onOverrun(sink: EventSink<T>): void
    signal?: AbortSignal
    /** Events held for a consumer that does not read; beyond it they are dropped as an overrun. Default 10 000. */
    maxQueued?: number
  },
): AsyncIterableIterator<T> {
  const maxQueued = options.maxQueued ?? 10_000
  // A queue read from `head` (shift() would move the whole array for every event of a burst).
  let queue: Array<T | undefined> = []
  let head = 0
  const queued = () => queue.length - head
  // A consumer `maxQueued` events behind loses the newer ones; once it has read what was kept, it
  // hears an overrun and the family's resync (the state then, after everything it missed), as when
  // the kernel drops events. What the family pushes itself is not bounded, or a state larger than
  // the bound would never get through.
  let dropped = false
  const enqueue = (event: T, bounded: boolean) => {
    if (bounded && queued() >= maxQueued) {
      dropped = true
      return
    }
    queue.push(event)
  }
  let wake: (() => void) | undefined
  let failure: unknown
  let done = false
  let socket: NetlinkSocket | undefined
  const notify = () => {
    const w = wake
    wake = undefined
    w?.()
  }
  const finish = () => {
    if (done) return
    done = true
    queue = []
    head = 0
    void socket?.close()
    options.signal?.removeEventListener('abort', finish)
    notify()
  }
  const sink: EventSink<T> = {
    push(event) {
      if (done) return
      enqueue(event, false)
      notify()
    },
    fail(error) {
      failure = error
      notify()
    },
  }
  options.signal?.addEventListener('abort', finish, { once: true })
  if (options.signal?.aborted) finish()
  const listen = (opened: NetlinkSocket) => {
    socket = opened
    if (done) {
      void opened.close()
      return
    }
    opened.listen(
      (messages) => {
        for (const m of messages) {
          try {
            const event = options.decode(m)
            if (event !== undefined) enqueue(event, true)
          } catch {
            // A message this version cannot decode is skipped, not fatal to the stream.
          }
        }
        notify()
      },
      () => options.onOverrun(sink),
    )
  }
  // Even when already aborted: a socket that opens later must still be closed.
  Promise.resolve(opening).then(listen, (error: unknown) => sink.fail(error))
  const iterator: AsyncIterableIterator<T> = {
    async next(): Promise<IteratorResult<T>> {
      for (;;) {
        if (queued() === 0 && dropped && !done) {
          dropped = false
          options.onOverrun(sink)
        }
        if (queued() > 0) {
          const value = queue[head] as T
          queue[head++] = undefined
          if (head >= 1024 && head * 2 >= queue.length) {
            queue = queue.slice(head)
            head = 0
          }
          return { value, done: false }
        }
        if (failure) {
          const error = failure
          failure = undefined
          finish()
          throw error
        }
        if (done) return { value: undefined, done: true }
        await new Promise<void>((resolve) => (wake = resolve))
      }
    },
    async return(): Promise<IteratorResult<T>> {
      finish()
      return { value: undefined, done: true }
    },
    [Symbol.asyncIterator]() {
      return iterator
    },
  }
  return iterator
}
