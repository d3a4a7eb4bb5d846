// Guaranteed cleanup for test resources: everything registered here is undone when the test file
// finishes (afterAll), and also when the worker exits on a failure, a timeout or SIGINT/SIGTERM.
type Undo = { label: string; run: () => void }

const pending: Undo[] = []
let hooked = false

function runAll(): string[] {
  const failures: string[] = []
  while (pending.length > 0) {
    const undo = pending.pop()!
    try {
      undo.run()
    } catch (error) {
      failures.push(`${undo.label}: ${(error as Error).message}`)
    }
  }
  return failures
}

function hookProcess(): void {
  if (hooked) return
  hooked = true
  process.once('exit', () => void runAll())
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      runAll()
      process.kill(process.pid, signal)
    })
  }
}

/** Registers a synchronous undo step; returns a function that runs it now (once) and unregisters it. */
export function deferCleanup(label: string, run: () => void): () => void {
  hookProcess()
  const undo: Undo = { label, run }
  pending.push(undo)
  return () => {
    const i = pending.indexOf(undo)
    if (i < 0) return
    pending.splice(i, 1)
    run()
  }
}

/** Runs every registered undo step, newest first. Throws listing the steps that failed. */
export function cleanupAll(): void {
  const failures = runAll()
  if (failures.length > 0) throw new Error(`cleanup failed:\n  ${failures.join('\n  ')}`)
}
