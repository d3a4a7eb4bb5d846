// One owned fd plus its place in the event loop. Every socket type in this package sits on it, so
// closing, readiness and "closed exactly once" are handled in one place.
import { native, type NativePoller } from '../native.js'
import { SystemError, sys } from '../errors.js'
import { EBADF } from '../sys/errno.js'

export class FdHandle {
  #fd: number
  #poller: NativePoller | undefined
  #events = 0
  #onReadable: (() => void) | undefined
  #writableWaiters: Array<{ resolve: () => void; reject: (e: unknown) => void }> = []
  readonly op: string

  /** Takes ownership of `fd`, which is switched to non-blocking mode. */
  constructor(fd: number, op: string) {
    this.#fd = fd
    this.op = op
    sys('fcntl', op, () => native.setNonBlocking(fd, true))
  }

  get fd(): number {
    if (this.#fd < 0) throw new SystemError({ errno: EBADF, op: this.op, detail: 'closed' })
    return this.#fd
  }

  get closed(): boolean {
    return this.#fd < 0
  }

  /** Calls `listener` on every readable event until `pauseReading()`; the listener must drain to EAGAIN. */
  resumeReading(listener: () => void): void {
    this.#onReadable = listener
    this.#update(this.#events | native.POLL_READABLE)
  }

  pauseReading(): void {
    this.#onReadable = undefined
    this.#update(this.#events & ~native.POLL_READABLE)
  }

  /** Resolves when the fd can take more data (after a write hit EAGAIN). */
  writable(): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new SystemError({ errno: EBADF, op: this.op, detail: 'closed' }))
      this.#writableWaiters.push({ resolve, reject })
      this.#update(this.#events | native.POLL_WRITABLE)
    })
  }

  /** Releases the fd. Safe to call more than once; only the first call closes. */
  close(): void {
    if (this.#fd < 0) return
    const fd = this.#fd
    this.#fd = -1
    this.#poller?.close()
    this.#poller = undefined
    this.#onReadable = undefined
    const waiters = this.#writableWaiters.splice(0)
    for (const w of waiters) w.reject(new SystemError({ errno: EBADF, op: this.op, detail: 'closed' }))
    native.close(fd)
  }

  /** Gives up ownership without closing (the fd was handed to a child process or another owner). */
  release(): number {
    const fd = this.fd
    this.#poller?.close()
    this.#poller = undefined
    this.#fd = -1
    return fd
  }

  #update(events: number): void {
    if (this.closed) return
    if (events === this.#events && this.#poller) return
    this.#events = events
    if (events === 0) {
      this.#poller?.stop()
      return
    }
    this.#poller ??= new native.Poller(this.#fd, (status, ready) => {
      try {
        this.#dispatch(status, ready)
      } catch (error) {
        // A listener threw (an 'error' event nobody listens to, a throwing 'message' handler).
        // Thrown inside the addon's callback, Node 20 would drop it with only a DEP0168 warning:
        // throw it outside instead, where it is an uncaught exception as from any other callback.
        process.nextTick(() => {
          throw error
        })
      }
    })
    this.#poller.start(events)
  }

  #dispatch(status: number, ready: number): void {
    if (status < 0) {
      // An error on the fd: wake everyone so their next syscall reports it with a proper errno.
      ready = native.POLL_READABLE | native.POLL_WRITABLE
    }
    if (ready & native.POLL_WRITABLE && this.#writableWaiters.length > 0) {
      const waiters = this.#writableWaiters.splice(0)
      this.#update(this.#events & ~native.POLL_WRITABLE)
      for (const w of waiters) w.resolve()
    }
    if (ready & native.POLL_READABLE) this.#onReadable?.()
  }
}
