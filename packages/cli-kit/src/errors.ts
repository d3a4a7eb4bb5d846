// The two ways a CLI run can fail, told apart by exit code: 2 when the command line is wrong (the
// user can fix it by reading --help), 1 when the work itself failed.

/** The command line cannot be run as written: exit 2, with a pointer to --help. */
export class UsageError extends Error {
  override name = 'UsageError'
}

/** Exit codes shared by every lab CLI. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const

/** True for errors that mean "wrong command line": ours and node:util parseArgs' own. */
export function isUsageError(error: unknown): boolean {
  if (error instanceof UsageError) return true
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')
}

/**
 * The one stderr line for an error: its message, and for a system error nothing more (the
 * message already names errno, operation and object). A stack only when LAB_DEBUG is set.
 */
export function errorLine(program: string, error: unknown): string {
  const message = error instanceof Error ? error.message : String(error)
  const firstLine = message.split('\n')[0]
  return `${program}: ${firstLine}${isUsageError(error) ? ` (see ${program} --help)` : ''}`
}
