// Types of progress.js (plain JavaScript so that the bench scripts can import it without a build).

/** What the helper writes to: process.stderr, or anything with the same three members. */
export interface ProgressStream {
  write(text: string): unknown
  isTTY?: boolean
  columns?: number
}

export interface ProgressOptions {
  /** Default: process.stderr. */
  stream?: ProgressStream
  /** Default: process.env (read for CI). */
  env?: NodeJS.ProcessEnv
  /** Overrides the terminal/CI check. */
  enabled?: boolean
}

export interface Progress extends Disposable {
  /** Whether anything is written (a terminal, not under CI). */
  readonly enabled: boolean
  /** Replaces the status line with `text` (cut to the terminal's width). */
  update(text: string): void
  /** The status line `label done/total` (`label done` without a total). */
  count(label: string, done: number, total?: number): void
  /** A line that stays, printed above the status line. */
  log(line: string): void
  /** Removes the status line; idempotent. */
  done(): void
}

/** Whether CI is set to something other than empty, 0 or false. */
export function isCi(env?: NodeJS.ProcessEnv): boolean
/** Whether progress would be shown on `stream`: a terminal, and not under CI. */
export function progressEnabled(stream?: ProgressStream, env?: NodeJS.ProcessEnv): boolean
/** A status line on a terminal; nothing on a pipe, a file or under CI. */
export function createProgress(options?: ProgressOptions): Progress
