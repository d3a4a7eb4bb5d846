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
  /** Stop after the first lease. */
  once: boolean
  releaseOnExit: boolean
  signal: AbortSignal
  /** Prints a lease change (`acquire` for the first). */
  show(lease: L | undefined, reason: string): void
  /** Prints the error line. */
  stderr(line: string): void
  /** Whether an error from waitForLease is the client's "no lease in time". */
  isTimeout(error: unknown): boolean
}

/**
 * Waits for the first lease (exit 1 with one line when none comes in time, or when configuring
 * the interface failed), then prints every change until stopped; releases on exit when asked.
 */
export async function runLeaseClient<L>(client: LeaseClient<L>, run: LeaseClientRun<L>): Promise<number> {
  let failed = false
  client.on('error', () => void (failed = true))
  try {
    run.show(await client.waitForLease(run.timeoutMs), 'acquire')
  } catch (error) {
    await client.stop()
    if (run.isTimeout(error)) {
      run.stderr(`${run.program}: ${(error as Error).message}`)
      return EXIT.failed
    }
    throw error
  }
  if (failed) {
    await client.stop()
    run.stderr(`${run.program}: the lease came but configuring ${run.interface} failed (see the log)`)
    return EXIT.failed
  }
  if (!run.once) {
    client.on('lease', ({ old, next, reason }) => run.show(next ?? old, reason))
    await untilAborted(run.signal)
  }
  if (run.releaseOnExit) await client.release()
  else await client.stop()
  return EXIT.ok
}
