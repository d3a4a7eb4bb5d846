// QEMU failed: its exit status and the end of what it printed on stderr, which says why.
import { LAUNCH_ERROR_CODES, LaunchError } from './errors.js'

export class QemuError extends LaunchError {
  readonly exitCode: number | null
  readonly signal: NodeJS.Signals | null
  readonly stderr: string
  readonly args: readonly string[]

  constructor(options: { exitCode: number | null; signal: NodeJS.Signals | null; stderr: string; args: readonly string[]; reason?: string }) {
    const status = options.reason ?? (options.signal ? `killed by ${options.signal}` : `exited with code ${options.exitCode}`)
    const tail = options.stderr.trim()
    super(LAUNCH_ERROR_CODES.qemu, `qemu ${status}${tail ? `: ${tail}` : ''}`)
    this.name = 'QemuError'
    this.exitCode = options.exitCode
    this.signal = options.signal
    this.stderr = options.stderr
    this.args = options.args
  }
}
