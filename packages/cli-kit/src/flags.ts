// Flag values arrive as strings from parseArgs; these turn them into checked values or a
// UsageError naming the flag, so `--count x` stops the run instead of sending nothing.
import { UsageError } from './errors.js'

export interface IntegerRange {
  min?: number
  max?: number
}

/** An integer flag: undefined when absent (or `fallback`), else a checked whole number. */
export function integerFlag(flag: string, value: string | undefined, range?: IntegerRange): number | undefined
export function integerFlag(flag: string, value: string | undefined, range: IntegerRange, fallback: number): number
export function integerFlag(flag: string, value: string | undefined, range: IntegerRange = {}, fallback?: number): number | undefined {
  if (value === undefined) return fallback
  if (!/^-?\d+$/.test(value.trim())) throw new UsageError(`--${flag}: expected a whole number, got "${value}"`)
  const n = Number(value)
  checkRange(flag, n, range)
  return n
}

/** A number flag that may have a fraction (seconds, rates). */
export function numberFlag(flag: string, value: string | undefined, range?: IntegerRange): number | undefined
export function numberFlag(flag: string, value: string | undefined, range: IntegerRange, fallback: number): number
export function numberFlag(flag: string, value: string | undefined, range: IntegerRange = {}, fallback?: number): number | undefined {
  if (value === undefined) return fallback
  const n = value.trim() === '' ? NaN : Number(value)
  if (!Number.isFinite(n)) throw new UsageError(`--${flag}: expected a number, got "${value}"`)
  checkRange(flag, n, range)
  return n
}

function checkRange(flag: string, n: number, { min, max }: IntegerRange): void {
  if (!Number.isSafeInteger(Math.trunc(n))) throw new UsageError(`--${flag}: ${n} is out of range`)
  if (min !== undefined && n < min) throw new UsageError(`--${flag}: must be at least ${min}, got ${n}`)
  if (max !== undefined && n > max) throw new UsageError(`--${flag}: must be at most ${max}, got ${n}`)
}

/** One of a fixed set of words. */
export function choiceFlag<T extends string>(flag: string, value: string | undefined, choices: readonly T[]): T | undefined
export function choiceFlag<T extends string>(flag: string, value: string | undefined, choices: readonly T[], fallback: T): T
export function choiceFlag<T extends string>(flag: string, value: string | undefined, choices: readonly T[], fallback?: T): T | undefined {
  if (value === undefined) return fallback
  if (!(choices as readonly string[]).includes(value)) throw new UsageError(`--${flag}: expected one of ${choices.join(', ')}, got "${value}"`)
  return value as T
}

/** A flag that must be given. */
export function requiredFlag<T>(flag: string, value: T | undefined): T {
  if (value === undefined || (Array.isArray(value) && value.length === 0)) throw new UsageError(`--${flag} is required`)
  return value
}
