// Peer daemons (dnsmasq, kea, tcpdump, udhcpc, ...) started for a test, inside a namespace, with
// their output captured and printed when the test fails. Killed at cleanup whatever happens.
import { spawn, type ChildProcess } from 'node:child_process'
import { onTestFailed } from 'vitest'
import { deferCleanup } from './cleanup.js'

export interface DaemonOptions {
  /** Label used in logs. */
  name: string
  argv: string[]
  /** Namespace to run in (`ip netns exec`). */
  netns?: string
  /** Resolve start() once the captured output matches. */
  ready?: RegExp
  readyTimeoutMs?: number
  env?: NodeJS.ProcessEnv
}

export class Daemon {
  private output = ''
  private exited: Promise<number | null>
  private readonly undo: () => void

  private constructor(
    readonly options: DaemonOptions,
    readonly child: ChildProcess,
  ) {
    const append = (chunk: Buffer) => {
      this.output += chunk.toString('utf8')
    }
    child.stdout?.on('data', append)
    child.stderr?.on('data', append)
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? -1 : null))))
    this.undo = deferCleanup(`daemon ${options.name}`, () => this.killGroup())
    try {
      onTestFailed(() => {
        console.error(`--- ${options.name} (${options.argv.join(' ')}) output ---\n${this.output}--- end ${options.name} ---`)
      })
    } catch {
      // Started outside a test (beforeAll): nothing to hook the failure report to.
    }
  }

  static async start(options: DaemonOptions): Promise<Daemon> {
    const argv = options.netns ? ['ip', 'netns', 'exec', options.netns, ...options.argv] : options.argv
    // A process group of its own: helpers the daemon forks (dhcpcd's privilege-separation proxies)
    // are killed with it instead of outliving the test.
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: options.env ?? process.env, detached: true })
    const daemon = new Daemon(options, child)
    if (options.ready) await daemon.waitFor(options.ready, options.readyTimeoutMs ?? 10_000)
    return daemon
  }

  get log(): string {
    return this.output
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null
  }

  /** Waits until the output matches `pattern`, failing early if the daemon exits. */
  async waitFor(pattern: RegExp, timeoutMs = 10_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const match = this.output.match(pattern)
      if (match) return match
      if (!this.running) throw new Error(`${this.options.name} exited before ${pattern}:\n${this.output}`)
      if (Date.now() > deadline) throw new Error(`${this.options.name}: no ${pattern} within ${timeoutMs} ms:\n${this.output}`)
      await new Promise((r) => setTimeout(r, 20))
    }
  }

  /** Stops the daemon (SIGTERM, then SIGKILL after `graceMs`) and returns its exit code. */
  async stop(graceMs = 2_000): Promise<number | null> {
    if (this.running) {
      this.child.kill('SIGTERM')
      const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs)
      await this.exited
      clearTimeout(timer)
    }
    this.killGroup()
    this.undo()
    return this.exited
  }

  private killGroup(): void {
    if (this.child.pid === undefined) return
    try {
      process.kill(-this.child.pid, 'SIGKILL')
    } catch {
      // The group is already empty.
    }
  }
}
