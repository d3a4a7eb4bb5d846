// Prints the closing line CI reads, `Tests: N passed, N failed, N skipped`, and writes the counts
// to $LAB_TEST_SUMMARY (JSON) for scripts/test.mjs. A file that fails to load counts as a failure.
import { writeFileSync } from 'node:fs'
import type { Reporter, TestModule } from 'vitest/node'

export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown>): void {
    let passed = 0
    let failed = 0
    let skipped = 0
    for (const module of testModules) {
      let tests = 0
      for (const test of module.children.allTests()) {
        tests++
        const state = test.result().state
        if (state === 'passed') passed++
        else if (state === 'failed') failed++
        else skipped++
      }
      if (tests === 0 && module.state() === 'failed') failed++
    }
    failed += unhandledErrors.length
    const summary = { passed, failed, skipped }
    if (process.env.LAB_TEST_SUMMARY) writeFileSync(process.env.LAB_TEST_SUMMARY, JSON.stringify(summary))
    console.log(`\nTests: ${passed} passed, ${failed} failed, ${skipped} skipped`)
  }
}
