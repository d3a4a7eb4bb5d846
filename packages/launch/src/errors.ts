// The package's errors: one base class with stable codes (CONTRIBUTING.md), as undici's
// UndiciError. Callers branch on the subclasses: QemuError, QmpError, ConsoleTimeoutError.
import { LabError } from '@lab/netlink-native'

/** Stable codes of the errors this package throws itself. */
export const LAUNCH_ERROR_CODES = {
  /** QEMU did not start, exited during start, or exited with a failure (QemuError). */
  qemu: 'LAB_ERR_LAUNCH_QEMU',
  /** QEMU answered a QMP command with an error, or the QMP connection failed (QmpError). */
  qmp: 'LAB_ERR_LAUNCH_QMP',
  /** The console did not show what was waited for in time, or closed first (ConsoleTimeoutError). */
  consoleTimeout: 'LAB_ERR_LAUNCH_CONSOLE_TIMEOUT',
} as const

/** The base of every error @lab/launch throws itself. */
export class LaunchError extends LabError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options)
    this.name = 'LaunchError'
  }
}
