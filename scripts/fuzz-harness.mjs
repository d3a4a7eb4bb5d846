// The plain-node stand-in for vitest that `npm run fuzz` runs a property file's bundle with
// (scripts/fuzz.mjs bundles the file with esbuild and points its `vitest` import here). The file's
// `describe`/`it` only register tests; the bundle's footer calls `runSelected()`, which runs the one
// test LAB_FUZZ_TEST names (its index) or, with LAB_FUZZ_LIST=1, prints the test names. `expect`
// is vitest's own, so assertions read and fail exactly as under vitest.
//
// Every fc.assert/fc.check in the test goes through a global fast-check reporter that counts the
// inputs it ran (so a run cut by the time bound says how far it got), stops at LAB_FUZZ_DEADLINE
// (epoch ms) and uses LAB_FUZZ_SEED when set (one seed per part when a property is split).
import fc from 'fast-check'

export { expect } from 'vitest'

const tests = []
const prefix = []

export function describe(name, body) {
  prefix.push(name)
  try {
    body()
  } finally {
    prefix.pop()
  }
}

export function it(name, body) {
  tests.push({ name: [...prefix, name].join(' > '), body })
}

/** it.each(rows)(title, body): `%s` takes the row (or its first item), `$key` a row's field. */
it.each = (rows) => (title, body) => {
  for (const row of rows) {
    const args = Array.isArray(row) ? row : [row]
    const name = title.replace(/%s/, String(args[0])).replace(/\$([A-Za-z_]\w*)/g, (_, key) => String(row?.[key]))
    it(name, () => body(...args))
  }
}
export const test = it

const inputs = { runs: 0, asserts: 0, interrupted: false }

export async function runSelected() {
  if (process.env.LAB_FUZZ_LIST === '1') {
    process.stdout.write(`TESTS ${JSON.stringify(tests.map((t) => t.name))}\n`)
    return
  }
  const index = Number(process.env.LAB_FUZZ_TEST)
  const t = tests[index]
  if (!t) throw new Error(`fuzz harness: no test ${process.env.LAB_FUZZ_TEST} (${tests.length} in the file)`)
  const deadline = Number(process.env.LAB_FUZZ_DEADLINE ?? Infinity)
  const seed = process.env.LAB_FUZZ_SEED === undefined ? undefined : Number(process.env.LAB_FUZZ_SEED)
  fc.configureGlobal({
    ...(seed === undefined ? {} : { seed }),
    // Read by every fc.assert when it starts (fast-check spreads the global parameters), so a
    // test's later asserts get what is left of the time, not a fresh bound.
    ...(Number.isFinite(deadline) ? { get interruptAfterTimeLimit() { return Math.max(1, deadline - Date.now()) } } : {}),
    reporter(out) {
      inputs.runs += out.numRuns
      inputs.asserts++
      if (out.interrupted) inputs.interrupted = true
      if (out.failed) throw new Error(fc.defaultReportMessage(out))
    },
  })
  const started = performance.now()
  let error
  try {
    await t.body()
  } catch (e) {
    error = e?.stack ?? String(e)
  }
  const result = { name: t.name, ok: !error, seconds: (performance.now() - started) / 1000, runs: inputs.runs, asserts: inputs.asserts, interrupted: inputs.interrupted, seed, error }
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`)
  process.exitCode = error ? 1 : 0
}
