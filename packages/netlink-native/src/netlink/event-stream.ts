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
    /** Called when the kernel dropped events; push what the consumer should hear. */
    onOverrun(sink: EventSink<T>): void
    signal?: AbortSignal
  },
): AsyncIterableIterator<T> {
  const queue: T[] = []
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
    queue.length = 0
    void socket?.close()
    options.signal?.removeEventListener('abort', finish)
    notify()
  }
  const sink: EventSink<T> = {
    push(event) {
      if (done) return
      queue.push(event)
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
            if (event !== undefined) queue.push(event)
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
        if (queue.length > 0) return { value: queue.shift()!, done: false }
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
