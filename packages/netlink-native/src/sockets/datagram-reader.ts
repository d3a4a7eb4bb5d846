// Reading datagram-like fds (packet sockets, TAPs, socketpair ends) as events or async iteration,
// draining each wake-up until EAGAIN so one poll serves many frames.
import { EventEmitter } from 'node:events'
import { FdHandle } from '../io/fd-handle.js'
import { SystemError } from '../errors.js'
import { EAGAIN, EINTR } from '../sys/errno.js'

/** Reads one item; returns undefined when nothing is left (EAGAIN). */
export type ReadOne<T> = () => T | undefined


/** -EAGAIN and -EINTR come back as negative returns from the addon; anything else is an error. */
export function check(n: number, op: string, object?: string): number | undefined {
  if (n === -EAGAIN) return undefined
  if (n === -EINTR) return 0
  if (n < 0) throw new SystemError({ errno: -n, op, object })
  return n
}

export interface DatagramReader<T> {
  on(event: 'message', listener: (item: T) => void): this
  on(event: 'error', listener: (error: Error) => void): this
  on(event: 'close', listener: () => void): this
  on(event: 'newListener', listener: (event: string | symbol) => void): this
}

export class DatagramReader<T> extends EventEmitter {
  readonly handle: FdHandle
  readonly #readOne: ReadOne<T>
  #queue: T[] = []
  #waiting: Array<(v: IteratorResult<T>) => void> = []
  #iterating = false
  #closed = false

  constructor(handle: FdHandle, readOne: ReadOne<T>) {
    super()
    this.handle = handle
    this.#readOne = readOne
    this.on('newListener', (event) => {
      if (event === 'message') this.#resume()
    })
  }

  #resume(): void {
    if (this.#closed) return
    this.handle.resumeReading(() => this.#drain())
  }

  #drain(): void {
    for (;;) {
      let item: T | undefined
      try {
        item = this.#readOne()
      } catch (error) {
        // Not EAGAIN: the fd itself failed (a TAP whose device was deleted reads EBADFD). Polling
        // on would report it again on every turn of the loop: stop reading, say it once.
        this.handle.pauseReading()
        for (const w of this.#waiting.splice(0)) w({ value: undefined, done: true })
        this.emit('error', error as Error)
        return
      }
      if (item === undefined) return
      if (this.listenerCount('message') > 0) this.emit('message', item)
      else if (this.#waiting.length > 0) this.#waiting.shift()!({ value: item, done: false })
      else if (this.#iterating) this.#queue.push(item)
    }
  }

  /** Async iteration: `for await (const frame of socket)`. Ends when the socket closes. */
  [Symbol.asyncIterator](): AsyncIterator<T> {
    this.#iterating = true
    this.#resume()
    return {
      next: () => {
        if (this.#queue.length > 0) return Promise.resolve({ value: this.#queue.shift()!, done: false })
        if (this.#closed) return Promise.resolve({ value: undefined, done: true })
        return new Promise((resolve) => this.#waiting.push(resolve))
      },
      return: async () => {
        await this.close()
        return { value: undefined, done: true }
      },
    }
  }

  /** Closes the fd and ends iteration; safe to call more than once (later calls do nothing). */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.handle.close()
    for (const w of this.#waiting.splice(0)) w({ value: undefined, done: true })
    this.emit('close')
  }

  get closed(): boolean {
    return this.#closed
  }

  /** `await using socket = await UdpSocket.open(...)` closes it at the end of the scope. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}
