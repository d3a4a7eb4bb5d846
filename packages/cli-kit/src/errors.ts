// The two ways a CLI run can fail, told apart by exit code: 2 when the command line is wrong (the
// user can fix it by reading --help), 1 when the work itself failed.

/** The command line cannot be run as written: exit 2, with a pointer to --help. */
export class UsageError extends Error {
  override name = 'UsageError'
  /** Whether the error line points to --help; off where the message already names what to fix (a config file's field). */
  readonly helpHint: boolean
  constructor(message: string, options: { helpHint?: boolean; cause?: unknown } = {}) {
    super(message, { cause: options.cause })
    this.helpHint = options.helpHint ?? true
  }
}

/** Exit codes shared by every lab CLI. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const

/**
 * True for errors that mean "wrong command line": ours, node:util parseArgs' own, and the
 * libraries' ArgumentError (code LAB_ERR_ARGUMENT: a flag's value the library refused).
 */
export function isUsageError(error: unknown): boolean {
  if (error instanceof UsageError) return true
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' && (code.startsWith('ERR_PARSE_ARGS') || code === 'LAB_ERR_ARGUMENT')
}

/**
 * The one stderr line for an error: its message, and for a system error nothing more (the
 * message already names errno, operation and object). A stack only when LAB_DEBUG is set.
 */
export function errorLine(program: string, error: unknown): string {
  const message = error instanceof Error ? error.message : String(error)
  const firstLine = message.split('\n')[0]
  const hint = isUsageError(error) && !(error instanceof UsageError && !error.helpHint)
  return `${program}: ${firstLine}${hint ? ` (see ${program} --help)` : ''}`
}
