// A running QEMU: its process, the console on its stdio, the QMP monitor on a socketpair, and the
// `exited` promise. Start resolves once QMP answers (QEMU accepted every option and built the
// machine) or rejects with QemuError carrying QEMU's own message.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process'
import { closeSync } from 'node:fs'
import { Socket } from 'node:net'
import { silentLogger, socketpair, spawnInNetns, type Logger } from '@lab/netlink-native'
import { GuestConsole } from './console.js'
import type { FdTable } from './fd-table.js'
import { QemuError } from './qemu-error.js'
import { QmpClient } from './qmp.js'
import { qemuOption } from './qemu-option.js'

export interface MachineSpawnOptions {
  /** QEMU binary; default qemu-system-x86_64 (or $LAB_QEMU). */
  qemu?: string
  args: readonly string[]
  fds: FdTable
  /**
   * Run QEMU inside this network namespace, a name under /run/netns or a path (SLIRP forwards
   * and `-netdev tap,ifname=` live there).
   */
  netns?: string
  signal?: AbortSignal
  /** pino-shaped; omitted: nothing is logged. */
  logger?: Logger
  /** Also serve QMP on this unix socket path, for other tools (qmp-shell, socat, a second client). */
  qmpSocket?: string
  /** Called after QEMU exited, for resources of the VM's own (swtpm, temp dirs). */
  cleanup?: () => void | Promise<void>
}

export interface ExitStatus {
  exitCode: number | null
  signal: NodeJS.Signals | null
}

const STDERR_KEEP = 64 * 1024

/** What the process watchers learn, shared with the VirtualMachine once it exists. */
interface ProcessState {
  stderr: string
  killedByUs: boolean
  exit: ExitStatus | undefined
}

export class VirtualMachine {
  readonly console: GuestConsole
  /** Resolves when QEMU exits normally (guest powered off, quit, or killed by us); rejects with QemuError otherwise. */
  readonly exited: Promise<ExitStatus>

  private constructor(
    private readonly child: ChildProcess,
    private readonly state: ProcessState,
    readonly qmp: QmpClient,
    readonly args: readonly string[],
    exited: Promise<ExitStatus>,
    console: GuestConsole,
    private readonly logger: Logger,
  ) {
    this.exited = exited
    this.console = console
  }

  get pid(): number {
    return this.child.pid ?? -1
  }

  /** The end of QEMU's stderr. */
  get stderr(): string {
    return this.state.stderr
  }

  get running(): boolean {
    return this.state.exit === undefined
  }

  static async start(options: MachineSpawnOptions): Promise<VirtualMachine> {
    const logger = options.logger ?? silentLogger
    const qemu = options.qemu ?? process.env.LAB_QEMU ?? 'qemu-system-x86_64'
    const [ours, theirs] = socketpair('stream')
    const qmpFd = options.fds.add(theirs)
    const args = [...options.args, '-chardev', `socket,id=lab-qmp,fd=${qmpFd}`, '-mon', 'chardev=lab-qmp,mode=control']
    if (options.qmpSocket) args.push('-chardev', qemuOption('socket', { id: 'user-qmp', path: options.qmpSocket, server: true, wait: 'off' }), '-mon', 'chardev=user-qmp,mode=control')
    const spawnOptions: SpawnOptions = { stdio: ['pipe', 'pipe', 'pipe', ...options.fds.fds] }
    let child: ChildProcess
    try {
      // Straight into the namespace, no `ip netns exec`: QEMU is our own child either way.
      child = options.netns === undefined ? spawn(qemu, args, spawnOptions) : spawnInNetns(options.netns, qemu, args, spawnOptions)
    } catch (error) {
      // Nothing was started (the namespace could not be entered): our QMP end has no peer.
      closeSync(ours)
      throw error
    } finally {
      for (const fd of options.fds.fds) closeSync(fd)
    }
    const stream = new Socket({ fd: ours, readable: true, writable: true })
    const state: ProcessState = { stderr: '', killedByUs: false, exit: undefined }
    child.stderr!.setEncoding('utf8')
    child.stderr!.on('data', (chunk: string) => (state.stderr = (state.stderr + chunk).slice(-STDERR_KEEP)))
    const console = new GuestConsole(child.stdout!, child.stdin!)
    const kill = () => {
      state.killedByUs = true
      child.kill('SIGKILL')
    }
    const exited = new Promise<ExitStatus>((resolve, reject) => {
      child.on('error', (error) => reject(new QemuError({ exitCode: null, signal: null, stderr: state.stderr, args, reason: `could not start ${qemu}: ${error.message}` })))
      child.on('close', (exitCode, signal) => {
        options.signal?.removeEventListener('abort', kill)
        stream.destroy()
        state.exit = { exitCode, signal }
        logger.info({ pid: child.pid, exitCode, signal }, 'qemu exited')
        const finish = () => {
          if (exitCode === 0 || state.killedByUs) resolve(state.exit!)
          else reject(new QemuError({ exitCode, signal, stderr: state.stderr, args }))
        }
        // The VM's own leftovers (swtpm, temp dirs): a failed cleanup is logged, and `exited`
        // still says how QEMU ended, which is what callers wait for.
        Promise.resolve(options.cleanup?.()).then(finish, (error: unknown) => {
          logger.error({ err: error, pid: child.pid }, 'cleanup after qemu exited failed')
          finish()
        })
      })
    })
    // Marks `exited` handled while start() runs: its outcome reaches callers through the race
    // below, then through `vm.exited`; without this, a failed start would also be unhandled.
    exited.catch(() => {})
    if (options.signal?.aborted) kill()
    else options.signal?.addEventListener('abort', kill, { once: true })
    try {
      const qmp = await Promise.race([
        QmpClient.connect(stream),
        exited.then((status) => {
          throw new QemuError({ exitCode: status.exitCode, signal: status.signal, stderr: state.stderr, args, reason: 'exited during start' })
        }),
      ])
      logger.info({ pid: child.pid, qemu: qmp.version?.qemu }, 'qemu started')
      return new VirtualMachine(child, state, qmp, args, exited, console, logger)
    } catch (error) {
      if (error instanceof QemuError) throw error
      // QMP closing first usually means QEMU is exiting on a bad option: give it a moment to say so.
      const outcome = await Promise.race([exited.then((s) => s, (e: unknown) => e), new Promise<undefined>((r) => setTimeout(() => r(undefined), 2_000))])
      stream.destroy()
      if (outcome instanceof QemuError) throw outcome
      if (outcome) throw new QemuError({ exitCode: (outcome as ExitStatus).exitCode, signal: (outcome as ExitStatus).signal, stderr: state.stderr, args, reason: 'exited during start' })
      kill()
      // Killed by us, `exited` resolves; the error that matters is thrown just below.
      await exited.catch(() => {})
      throw new QemuError({ exitCode: null, signal: null, stderr: state.stderr, args, reason: `did not answer on QMP (${(error as Error).message})` })
    }
  }

  /** QEMU's run state (running, paused, shutdown, ...). */
  async status(): Promise<string> {
    const result = await this.qmp.execute<{ status: string; running: boolean }>('query-status')
    return result.status
  }

  /** Presses the power button (ACPI), waits for QEMU to exit, then kills it if the guest ignored it. */
  async powerdown(timeoutMs = 10_000): Promise<ExitStatus> {
    if (!this.running) return this.exited
    await this.qmp.execute('system_powerdown').catch((error: unknown) => {
      // QMP gone (QEMU exiting already) or the command refused: the timer below still ends it.
      this.logger.warn({ err: error, pid: this.pid }, 'system_powerdown failed; killing qemu if it does not exit')
    })
    const timer = setTimeout(() => this.kill(), timeoutMs)
    try {
      return await this.exited
    } finally {
      clearTimeout(timer)
    }
  }

  /**
   * Stops the VM at once: QMP `quit` (the guest gets no say; `powerdown()` asks it), SIGKILL if
   * QMP cannot be used. Resolves with how QEMU ended.
   */
  async stop(): Promise<ExitStatus> {
    if (!this.running) return this.exited
    this.state.killedByUs = true
    await this.qmp.execute('quit').catch((error: unknown) => {
      // Without QMP, `exited` might never come: end QEMU the hard way.
      this.logger.warn({ err: error, pid: this.pid }, 'qmp quit failed; killing qemu')
      this.kill()
    })
    return this.exited
  }

  /** SIGKILL; `exited` then resolves. */
  kill(): void {
    if (!this.running) return
    this.state.killedByUs = true
    this.child.kill('SIGKILL')
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.kill()
    await this.exited.catch((error: unknown) => {
      // Killed by us, `exited` resolves; it rejects only if QEMU had failed before: say so.
      this.logger.error({ err: error, pid: this.pid }, 'qemu had failed before it was disposed of')
    })
  }
}
