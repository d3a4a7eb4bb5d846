// Joins two connected stream sockets both ways inside the kernel: splice(2) moves bytes from one
// socket into a pipe and from the pipe into the other, so the data never enters this process.
// Driven by the event loop (non-blocking fds, readiness from the poller); a half-close on one side
// is passed on as a shutdown of the other side's write direction.
import type { Socket } from 'node:net'
import { native } from '../native.js'
import { SystemError } from '../errors.js'
import { EAGAIN, EBADF, EINTR } from '../sys/errno.js'
import { SHUT_WR } from '../sys/socket.js'
import { FdHandle } from './fd-handle.js'

const PIPE_SIZE = 1 << 20

export interface RelayResult {
  /** Bytes moved from the first socket to the second, and back. */
  forward: number
  backward: number
  /** The first error that ended the relay early (a reset, ...); both sockets are closed then. */
  error?: Error
}

function splice(fdIn: number, fdOut: number, length: number): number | undefined {
  for (;;) {
    const n = native.splice(fdIn, fdOut, length)
    if (n === -EINTR) continue
    if (n === -EAGAIN) return undefined
    return n
  }
}

/** One direction: src → pipe → dst, until src ends (then dst's write side is shut) or fails. */
class Pump {
  moved = 0
  #inPipe = 0
  #pipe: [number, number] | undefined
  #capacity = PIPE_SIZE
  #done: { resolve: () => void; reject: (e: unknown) => void } | undefined
  #stopped = false

  constructor(
    private readonly src: FdHandle,
    private readonly dst: FdHandle,
  ) {}

  run(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#done = { resolve, reject }
      try {
        const [r, w, capacity] = native.pipe(PIPE_SIZE)
        this.#pipe = [r, w]
        this.#capacity = capacity
      } catch (error) {
        return reject(error)
      }
      this.src.resumeReading(() => this.#pump())
    })
  }

  /** Ends this direction; a run() still waiting resolves (the other direction's outcome decides). */
  stop(): void {
    if (this.#stopped) return
    this.#stopped = true
    if (!this.src.closed) this.src.pauseReading()
    if (this.#pipe) for (const fd of this.#pipe) native.close(fd)
    this.#pipe = undefined
    this.#done?.resolve()
  }

  #pump(): void {
    try {
      for (;;) {
        if (!this.#drain()) return
        const n = splice(this.src.fd, this.#pipe![1], this.#capacity)
        if (n === undefined) return // src drained; wait for the next readable event
        if (n === 0) return this.#finish()
        this.#inPipe += n
        this.moved += n
      }
    } catch (error) {
      this.#fail(error)
    }
  }

  /** Empties the pipe into dst; false when dst is full (reading pauses until it can take more). */
  #drain(): boolean {
    while (this.#inPipe > 0) {
      const n = splice(this.#pipe![0], this.dst.fd, this.#inPipe)
      if (n === undefined) {
        this.src.pauseReading()
        this.dst.writable().then(
          () => {
            if (this.#stopped) return
            this.src.resumeReading(() => this.#pump())
            // The pipe still holds bytes: send them now, not at src's next readable event,
            // which may never come (the peer may be waiting for exactly those bytes).
            this.#pump()
          },
          (error: unknown) => this.#fail(error),
        )
        return false
      }
      this.#inPipe -= n
    }
    return true
  }

  #finish(): void {
    try {
      native.shutdown(this.dst.fd, SHUT_WR)
    } catch (error) {
      return this.#fail(error)
    }
    this.stop()
  }

  #fail(error: unknown): void {
    const done = this.#done
    this.#done = undefined
    this.stop()
    done?.reject(error)
  }
}

/**
 * Takes over two connected net.Sockets and relays between them in the kernel until both
 * directions end; then both are closed. Data Node had already read from either socket is
 * delivered first. Resolves with the byte counts (and the error, if one side failed); `signal`
 * ends the relay and closes both connections.
 */
export async function spliceSockets(a: Socket, b: Socket, options: { signal?: AbortSignal } = {}): Promise<RelayResult> {
  const [first, second] = [detach(a), detach(b)]
  const handles = [new FdHandle(first.fd, 'splice'), new FdHandle(second.fd, 'splice')] as const
  const forward = new Pump(handles[0], handles[1])
  const backward = new Pump(handles[1], handles[0])
  let error: Error | undefined
  // Aborting closes both connections at once.
  const abort = () => {
    forward.stop()
    backward.stop()
    for (const h of handles) h.close()
  }
  if (options.signal?.aborted) abort()
  options.signal?.addEventListener('abort', abort, { once: true })
  try {
    await writeAll(handles[1], first.pending)
    await writeAll(handles[0], second.pending)
    // When one direction fails the connection is over: stop the other as well.
    await Promise.all(
      [forward, backward].map((pump) =>
        pump.run().catch((e: unknown) => {
          error ??= e instanceof Error ? e : new Error(String(e))
          abort()
        }),
      ),
    )
  } catch (e) {
    error ??= e instanceof Error ? e : new Error(String(e))
  } finally {
    options.signal?.removeEventListener('abort', abort)
    forward.stop()
    backward.stop()
    for (const h of handles) h.close()
  }
  const pendingBytes = (list: Buffer[]) => list.reduce((sum, c) => sum + c.length, 0)
  return { forward: forward.moved + pendingBytes(first.pending), backward: backward.moved + pendingBytes(second.pending), ...(error ? { error } : {}) }
}

/** Our own descriptor for the socket's connection, plus what Node had buffered; Node's copy is closed. */
function detach(socket: Socket): { fd: number; pending: Buffer[] } {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd
  if (typeof fd !== 'number' || fd < 0) throw new SystemError({ errno: EBADF, op: 'splice', detail: 'socket has no open descriptor' })
  const ours = native.dup(fd)
  socket.pause()
  const pending: Buffer[] = []
  for (let chunk = socket.read() as Buffer | null; chunk !== null; chunk = socket.read() as Buffer | null) pending.push(chunk)
  // Closing Node's descriptor leaves the connection open: ours still refers to it.
  socket.destroy()
  return { fd: ours, pending }
}

async function writeAll(handle: FdHandle, chunks: Buffer[]): Promise<void> {
  for (const chunk of chunks) {
    let offset = 0
    while (offset < chunk.length) {
      const n = native.write(handle.fd, chunk, offset, chunk.length - offset)
      if (n === -EAGAIN || n === -EINTR) {
        if (n === -EAGAIN) await handle.writable()
        continue
      }
      if (n < 0) throw new SystemError({ errno: -n, op: 'write', object: 'splice' })
      offset += n
    }
  }
}
