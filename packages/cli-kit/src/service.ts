// What the CLIs that run a service or a lease client until stopped share: waiting for the stop
// signal, SIGUSR1 for the counters, and the DHCP clients' "first lease, then keep renewing" run.
import { EXIT } from './errors.js'

/** Resolves when `signal` aborts (at once when it has already). */
export function untilAborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })))
}

interface CountingService {
  counters(): unknown
  stop(): Promise<void>
}

interface InfoLogger {
  info(obj: unknown, msg?: string): void
}

/**
 * Serves until `stopAsked` resolves: SIGUSR1 logs the counters as one line meanwhile, and the
 * last counters are logged before the stop. Returns the exit code.
 */
export async function serveUntilStopped(service: CountingService, stopAsked: Promise<void>, logger: InfoLogger): Promise<number> {
  const showCounters = () => logger.info({ counters: service.counters() }, 'counters')
  process.on('SIGUSR1', showCounters)
  try {
    await stopAsked
  } finally {
    process.off('SIGUSR1', showCounters)
  }
  logger.info({ counters: service.counters() }, 'stopping')
  await service.stop()
  return EXIT.ok
}

/** The part of a DHCP client (v4 or v6) the CLIs drive. */
export interface LeaseClient<L> {
  waitForLease(timeoutMs: number): Promise<L>
  on(event: 'error', fn: (error: Error) => void): unknown
  on(event: 'lease', fn: (change: { old?: L; next?: L; reason: string }) => void): unknown
  release(): Promise<void>
  stop(): Promise<void>
}

export interface LeaseClientRun<L> {
  program: string
  interface: string
  timeoutMs: number
  /** The command's flags: `--once` stops after the first lease, `--release-on-exit` releases. */
  values: { once?: unknown; 'release-on-exit'?: unknown }
  signal: AbortSignal
  /** Prints a lease change (`acquire` for the first). */
  show(lease: L | undefined, reason: string): void
  /** Whether an error from waitForLease is the client's "no lease in time". */
  isTimeout(error: unknown): boolean
  /** Where the error line goes (default: stderr). */
  stderr?(line: string): void
}

/**
 * Waits for the first lease (exit 1 with one line when none comes in time, or when configuring
 * the interface failed), then prints every change until stopped; releases on exit when asked.
 */
export async function runLeaseClient<L>(client: LeaseClient<L>, run: LeaseClientRun<L>): Promise<number> {
  const stderr = run.stderr ?? ((line: string) => void process.stderr.write(`${line}\n`))
  let failed = false
  client.on('error', () => void (failed = true))
  try {
    run.show(await client.waitForLease(run.timeoutMs), 'acquire')
  } catch (error) {
    await client.stop()
    if (run.isTimeout(error)) {
      stderr(`${run.program}: ${(error as Error).message}`)
      return EXIT.failed
    }
    throw error
  }
  if (failed) {
    await client.stop()
    stderr(`${run.program}: the lease came but configuring ${run.interface} failed (see the log)`)
    return EXIT.failed
  }
  if (run.values.once !== true) {
    client.on('lease', ({ old, next, reason }) => run.show(next ?? old, reason))
    await untilAborted(run.signal)
  }
  if (run.values['release-on-exit'] === true) await client.release()
  else await client.stop()
  return EXIT.ok
}
