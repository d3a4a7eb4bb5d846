// Property test for the CNI plugin's input: whatever a runtime puts on stdin, the plugin answers
// with a CNI error object naming a configuration problem (codes 1, 4, 6, 7), never an internal
// failure (code 5 would mean an exception we did not expect), and touches nothing before that.
import { readFileSync } from 'node:fs'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { CNI_ERRORS, runCni } from '../src/index.js'

// CI runs a thousand inputs; `npm run fuzz` sets LAB_FUZZ_RUNS for the long campaign.
const RUNS = Number(process.env.LAB_FUZZ_RUNS ?? 1_000)
const CONFIG_CODES: number[] = [CNI_ERRORS.incompatibleVersion, CNI_ERRORS.invalidEnvironment, CNI_ERRORS.decodeFailure, CNI_ERRORS.invalidConfig]

const config = fc.record(
  {
    cniVersion: fc.oneof(fc.constantFrom('1.0.0', '0.4.0', '9.9.9'), fc.jsonValue()),
    name: fc.oneof(fc.constant('lab'), fc.jsonValue()),
    type: fc.constant('lab-slots-cni'),
    uplink: fc.oneof(fc.constant('eth0'), fc.jsonValue()),
    hostNetns: fc.jsonValue(),
    vethPrefix: fc.jsonValue(),
  },
  { requiredKeys: [] },
)

describe('CNI plugin input under random data', () => {
  it('any stdin, for ADD without a container: a CNI error about the configuration or environment', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string({ maxLength: 60 }), fc.json(), config.map((c) => JSON.stringify(c))), fc.constantFrom('ADD', 'DEL', 'CHECK'), async (stdin, command) => {
        const outcome = await runCni({ env: { CNI_COMMAND: command }, stdin })
        expect(outcome.exitCode).toBe(1)
        const error = JSON.parse(outcome.stdout) as { code: number; msg: string; cniVersion: unknown }
        expect(CONFIG_CODES, error.msg).toContain(error.code)
        expect(typeof error.cniVersion).toBe('string')
      }),
      { numRuns: RUNS },
    )
  })

  it('seed rows (testdata/fuzz-seeds.json: inputs that once gave an internal error): a CNI error about the configuration', async () => {
    const seeds = JSON.parse(readFileSync(new URL('../testdata/fuzz-seeds.json', import.meta.url), 'utf8')) as Array<{ stdin: string; command: string; note: string }>
    expect(seeds.length).toBeGreaterThan(0)
    for (const seed of seeds) {
      const outcome = await runCni({ env: { CNI_COMMAND: seed.command }, stdin: seed.stdin })
      expect(outcome.exitCode, seed.note).toBe(1)
      expect(CONFIG_CODES, seed.note).toContain((JSON.parse(outcome.stdout) as { code: number }).code)
    }
  })
})
