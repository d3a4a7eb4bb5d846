// A VM's console: everything the guest prints is kept (for errors and logs) and can be waited on;
// writes go to the guest's console input, and `run()` executes a shell line and returns its
// output and exit status, for guests that end in a shell.
import { EventEmitter } from 'node:events'
import type { Readable, Writable } from 'node:stream'
import { LAUNCH_ERROR_CODES, LaunchError } from './errors.js'

/** `waitFor` saw no match in time (or the console closed first); the message ends with the console's last lines. */
export class ConsoleTimeoutError extends LaunchError {
  constructor(what: string, ms: number, tail: string) {
    super(LAUNCH_ERROR_CODES.consoleTimeout, `console: no ${what} within ${ms} ms; last output:\n${tail}`)
    this.name = 'ConsoleTimeoutError'
  }
}

export class GuestConsole extends EventEmitter {
  private text = ''
  private ended = false
  private commandSeq = 0

  constructor(
    output: Readable,
    private readonly input: Writable | undefined,
    private readonly limit = 1 << 20,
  ) {
    super()
    output.setEncoding('utf8')
    output.on('data', (chunk: string) => {
      this.text += chunk.replaceAll('\r', '')
      // Keep the newest output when it grows past the limit.
      if (this.text.length > this.limit) this.text = this.text.slice(this.text.length - this.limit / 2)
      this.emit('output', chunk)
    })
    output.on('end', () => {
      this.ended = true
      this.emit('end')
    })
    // The guest may stop reading; a write after QEMU exited must not crash the process.
    input?.on('error', () => {})
  }

  /** All output kept so far. */
  get transcript(): string {
    return this.text
  }

  tail(lines = 30): string {
    return this.text.split('\n').slice(-lines).join('\n')
  }

  /** Resolves with the first match of `pattern` in output after `from` (default: anything seen so far). */
  waitFor(pattern: RegExp | string, options: { timeoutMs?: number; from?: number } = {}): Promise<RegExpExecArray> {
    const regex = typeof pattern === 'string' ? new RegExp(escapeRegex(pattern)) : pattern
    const timeoutMs = options.timeoutMs ?? 30_000
    const from = options.from ?? 0
    return new Promise((resolve, reject) => {
      const check = () => {
        const match = regex.exec(this.text.slice(from))
        if (match) {
          done()
          resolve(match)
          return true
        }
        return false
      }
      const onEnd = () => {
        if (check()) return
        done()
        reject(new ConsoleTimeoutError(`${regex} (console closed)`, timeoutMs, this.tail()))
      }
      const timer = setTimeout(() => {
        done()
        reject(new ConsoleTimeoutError(String(regex), timeoutMs, this.tail()))
      }, timeoutMs)
      const done = () => {
        clearTimeout(timer)
        this.off('output', check)
        this.off('end', onEnd)
      }
      if (check()) return
      if (this.ended) return onEnd()
      this.on('output', check)
      this.on('end', onEnd)
    })
  }

  write(text: string): void {
    if (!this.input) throw new Error('console: this VM has no console input')
    this.input.write(text)
  }

  /** Runs one shell line in the guest's console shell; resolves with its output and exit status. */
  async run(command: string, options: { timeoutMs?: number } = {}): Promise<{ status: number; output: string }> {
    const id = ++this.commandSeq
    const begin = `LAB:begin:${id}`
    const end = `LAB:end:${id}:`
    const from = this.text.length
    // Markers are split by quotes so the terminal's echo of this line never matches them.
    this.write(`echo "LAB:begin:""${id}"; ${command}; echo "LAB:end:""${id}:$?"\n`)
    // The status ends with its newline: output can arrive in pieces, even inside a number.
    const match = await this.waitFor(new RegExp(`${escapeRegex(begin)}\\n([\\s\\S]*?)${escapeRegex(end)}(\\d+)\\n`), { ...options, from })
    return { status: Number(match[2]), output: match[1]! }
  }
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}
