// Typed errors: the errno name, the operation and the object it was applied to, so a message reads
// like `EEXIST: link add v0` and code can branch on `err.code`.
import { constants } from 'node:os'

const errnoNames = new Map<number, string>()
for (const [name, value] of Object.entries(constants.errno)) {
  if (!errnoNames.has(value)) errnoNames.set(value, name)
}
// Where Linux has two names for one number, use the one its own tools print.
for (const name of ['EOPNOTSUPP', 'EAGAIN', 'EDEADLK']) {
  const value = (constants.errno as Record<string, number>)[name]
  if (value !== undefined) errnoNames.set(value, name)
}

export function errnoName(errno: number): string {
  return errnoNames.get(Math.abs(errno)) ?? `E${Math.abs(errno)}`
}

export function errnoNumber(name: string): number {
  const value = (constants.errno as Record<string, number>)[name]
  if (value === undefined) throw new TypeError(`unknown errno name ${name}`)
  return value
}

export interface SystemErrorDetails {
  /** errno number, positive */
  errno: number
  /** what was being done: `link add`, `udp bind` */
  op: string
  /** what it was done to: `v0`, `0.0.0.0:67 dev br0` */
  object?: string
  /** extra text, for example the kernel's extended-ack message */
  detail?: string
  cause?: unknown
}

export class SystemError extends Error {
  readonly code: string
  readonly errno: number
  readonly op: string
  readonly object: string | undefined
  readonly detail: string | undefined

  constructor(details: SystemErrorDetails) {
    const code = errnoName(details.errno)
    const what = details.object ? `${details.op} ${details.object}` : details.op
    super(`${code}: ${what}${details.detail ? ` (${details.detail})` : ''}`, { cause: details.cause })
    this.name = 'SystemError'
    this.code = code
    this.errno = Math.abs(details.errno)
    this.op = details.op
    this.object = details.object
    this.detail = details.detail
  }
}

/** Re-throws an error from the addon (which carries `errno`) as a SystemError naming the operation. */
export function rethrowAs(error: unknown, op: string, object?: string): never {
  const errno = (error as { errno?: unknown }).errno
  if (typeof errno === 'number') throw new SystemError({ errno, op, object, cause: error })
  throw error
}

/** Wraps a synchronous addon call so its failure names the operation. */
export function sys<T>(op: string, object: string | undefined, call: () => T): T {
  try {
    return call()
  } catch (error) {
    rethrowAs(error, op, object)
  }
}

/** Raised for invalid arguments before anything reaches the kernel. */
export class ArgumentError extends TypeError {
  readonly field: string
  constructor(field: string, message: string) {
    super(`${field}: ${message}`)
    this.name = 'ArgumentError'
    this.field = field
  }
}
