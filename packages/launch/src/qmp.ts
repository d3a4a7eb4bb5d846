// A QEMU Machine Protocol client: newline-delimited JSON over a stream socket. The greeting is
// awaited, capabilities negotiated, then commands are answered in order (each carries an id) and
// asynchronous events are emitted as 'event'.
import { EventEmitter } from 'node:events'
import type { Duplex } from 'node:stream'
import { LAUNCH_ERROR_CODES, LaunchError } from './errors.js'

/** QEMU refused a command (`errorClass` is QMP's class, e.g. GenericError). */
export class QmpError extends LaunchError {
  readonly errorClass: string
  readonly command: string
  constructor(command: string, errorClass: string, desc: string) {
    super(LAUNCH_ERROR_CODES.qmp, `qmp ${command}: ${errorClass}: ${desc}`)
    this.name = 'QmpError'
    this.errorClass = errorClass
    this.command = command
  }
}

export interface QmpEvent {
  event: string
  data?: Record<string, unknown>
  timestamp?: { seconds: number; microseconds: number }
}

type Pending = { command: string; resolve: (value: unknown) => void; reject: (error: Error) => void }

export class QmpClient extends EventEmitter {
  private buffered = ''
  private readonly pending = new Map<number, Pending>()
  private nextId = 1
  private closedError: Error | undefined
  private greeting: { resolve: (v: unknown) => void; reject: (e: Error) => void } | undefined
  /** QEMU's version from the greeting. */
  version: { qemu: { major: number; minor: number; micro: number } } | undefined

  private constructor(private readonly stream: Duplex) {
    super()
    stream.setEncoding('utf8')
    stream.on('data', (chunk: string) => this.receive(chunk))
    stream.on('error', (error) => this.fail(error))
    stream.on('close', () => this.fail(new LaunchError(LAUNCH_ERROR_CODES.qmp, 'qmp: connection closed')))
  }

  /** Waits for the greeting and enters command mode. */
  static async connect(stream: Duplex): Promise<QmpClient> {
    const client = new QmpClient(stream)
    const greeting = (await new Promise<unknown>((resolve, reject) => (client.greeting = { resolve, reject }))) as { QMP?: { version?: QmpClient['version'] } }
    client.version = typeof greeting.QMP === 'object' && greeting.QMP !== null ? greeting.QMP.version : undefined
    await client.execute('qmp_capabilities')
    return client
  }

  execute<T = unknown>(command: string, args?: Record<string, unknown>): Promise<T> {
    if (this.closedError) return Promise.reject(this.closedError)
    const id = this.nextId++
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { command, resolve: resolve as (v: unknown) => void, reject })
      this.stream.write(`${JSON.stringify(args ? { execute: command, arguments: args, id } : { execute: command, id })}\n`)
    })
  }

  close(): void {
    this.stream.destroy()
  }

  private receive(chunk: string): void {
    this.buffered += chunk
    let newline: number
    while ((newline = this.buffered.indexOf('\n')) >= 0) {
      const line = this.buffered.slice(0, newline).trim()
      this.buffered = this.buffered.slice(newline + 1)
      if (line) this.message(line)
    }
  }

  private message(line: string): void {
    let parsed: unknown
    try {
      parsed = JSON.parse(line)
    } catch {
      this.fail(new LaunchError(LAUNCH_ERROR_CODES.qmp, `qmp: unparsable message ${line.slice(0, 200)}`))
      return
    }
    // Found by the property tests: `null`, a number or an array is valid JSON but no QMP message,
    // and `'QMP' in null` threw a TypeError out of the stream's data handler.
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      this.fail(new LaunchError(LAUNCH_ERROR_CODES.qmp, `qmp: not a QMP message: ${line.slice(0, 200)}`))
      return
    }
    const message = parsed as Record<string, unknown>
    if ('QMP' in message) {
      this.greeting?.resolve(message)
      this.greeting = undefined
    } else if ('event' in message) {
      this.emit('event', message as unknown as QmpEvent)
    } else if (typeof message.id === 'number') {
      const pending = this.pending.get(message.id)
      if (!pending) return
      this.pending.delete(message.id)
      if ('error' in message) {
        const error = (typeof message.error === 'object' && message.error !== null ? message.error : {}) as { class?: unknown; desc?: unknown }
        pending.reject(new QmpError(pending.command, String(error.class ?? 'GenericError'), String(error.desc ?? JSON.stringify(message.error))))
      } else pending.resolve(message.return)
    }
  }

  private fail(error: Error): void {
    if (this.closedError) return
    this.closedError = error
    this.greeting?.reject(error)
    for (const p of this.pending.values()) p.reject(error)
    this.pending.clear()
    this.emit('close', error)
  }
}
