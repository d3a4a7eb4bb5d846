// vitest globalSetup: snapshot the host namespace before the run; after it, fail the run naming
// every difference, and every namespace of ours that a finished worker left behind.
import { compareSnapshots, takeSnapshot } from './host-guard.js'
import { staleNetns, sweepStaleNetns } from './netns.js'
import { isRoot } from './run.js'

export default async function setup(): Promise<() => Promise<void>> {
  if (!isRoot()) return async () => {}
  const swept = sweepStaleNetns()
  if (swept.length > 0) console.warn(`host guard: removed ${swept.length} stale test namespaces from earlier runs`)
  const before = await takeSnapshot()
  return async () => {
    const after = await takeSnapshot()
    const differences = compareSnapshots(before, after)
    const leaked = staleNetns()
    sweepStaleNetns()
    const problems = [...differences, ...leaked.map((name) => `netns leaked by a test: ${name}`)]
    if (problems.length > 0) {
      const text = `host guard: the host namespace changed during the test run:\n  ${problems.join('\n  ')}`
      console.error(text)
      process.exitCode = 1
      throw new Error(text)
    }
  }
}
