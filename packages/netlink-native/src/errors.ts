// Typed errors: the errno name, the operation and the object it was applied to, so a message reads
// like `EEXIST: link add v0` and code can branch on `err.code`.
import { errnoName } from './sys/errno.js'

export { errnoName, errnoNumber } from './sys/errno.js'

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

/**
 * The root of every error the `@lab/*` packages throw on purpose: a stable `code` to branch on
 * (as undici's `UndiciError`). Each package extends it once (`NftError`, `DhcpError`, ...).
 */
export class LabError extends Error {
  readonly code: string
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'LabError'
    this.code = code
  }
}

/** A failed system call or kernel request; `code` is the errno name (`EEXIST`). */
export class SystemError extends LabError {
  readonly errno: number
  readonly op: string
  readonly object: string | undefined
  readonly detail: string | undefined

  constructor(details: SystemErrorDetails) {
    const code = errnoName(details.errno)
    const what = details.object ? `${details.op} ${details.object}` : details.op
    super(code, `${code}: ${what}${details.detail ? ` (${details.detail})` : ''}`, { cause: details.cause })
    this.name = 'SystemError'
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

/** Awaits an asynchronous addon call so its failure names the operation. */
export async function sysAsync<T>(op: string, object: string | undefined, call: () => Promise<T>): Promise<T> {
  try {
    return await call()
  } catch (error) {
    rethrowAs(error, op, object)
  }
}

/** Raised for invalid arguments before anything reaches the kernel; `field` names the argument. */
export class ArgumentError extends LabError {
  readonly field: string
  constructor(field: string, message: string) {
    super('LAB_ERR_ARGUMENT', `${field}: ${message}`)
    this.name = 'ArgumentError'
    this.field = field
  }
}

/**
 * Raised by decoders when bytes do not have the shape their format requires: an attribute whose
 * length is not its type's size, a message shorter than its fixed header, a length that overruns
 * its buffer. `attribute` is the attribute type when one is at fault, `length` the size found and
 * `offset` where in the buffer, when known. Receivers count and drop such input; nothing else
 * escapes a decoder.
 */
export class DecodeError extends LabError {
  readonly attribute: number | undefined
  readonly length: number | undefined
  readonly offset: number | undefined
  constructor(message: string, details: { attribute?: number; length?: number; offset?: number } = {}) {
    super('LAB_ERR_DECODE', message)
    this.name = 'DecodeError'
    this.attribute = details.attribute
    this.length = details.length
    this.offset = details.offset
  }
}

const NOT_FOUND = new Set(['ENOENT', 'ENODEV', 'ESRCH', 'EADDRNOTAVAIL'])

/**
 * True when an error only says that the object was already gone: ENOENT, ENODEV, ESRCH or
 * EADDRNOTAVAIL, including an error that aggregates several (an nftables TransactionError whose
 * every failed message was such). Cleanup code uses it to tolerate what is already removed.
 */
export function isNotFound(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false
  const nested = (error as { errors?: unknown }).errors
  if (Array.isArray(nested) && nested.length > 0) return nested.every(isNotFound)
  const code = (error as { code?: unknown }).code
  return typeof code === 'string' && NOT_FOUND.has(code)
}

/**
 * What a library logs to when given a `logger` option: pino's shape, so a pino logger (or a
 * child of one) fits. Libraries log nothing without one.
 */
export interface Logger {
  debug(obj: unknown, msg?: string, ...args: unknown[]): void
  info(obj: unknown, msg?: string, ...args: unknown[]): void
  warn(obj: unknown, msg?: string, ...args: unknown[]): void
  error(obj: unknown, msg?: string, ...args: unknown[]): void
  child?(bindings: Record<string, unknown>): Logger
}

/** The logger used when none is given: it drops everything. */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child: () => silentLogger,
}
