// The README's examples as written: command lines the CLI accepts, and the library examples run
// in a namespace of the test's own (the README's `sw1` replaced by its name).
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'
import { TestNetns, cleanupAll, isRoot, readmeBlocks, runExample } from '@lab/testkit'
import type { Options, Values } from '@lab/cli-kit'
import { program, startOptions } from '../src/cli/program.js'

const pkg = fileURLToPath(new URL('..', import.meta.url))
const blocks = readmeBlocks(`${pkg}README.md`)

describe('README command lines', () => {
  it('every nanoswitch command line names a command and options that exist, with valid values', () => {
    const commands = blocks.filter((b) => b.lang === 'sh').flatMap((b) => b.code.split('\n')).map((l) => l.replace(/#.*$/, '').trim()).filter((l) => l.startsWith('nanoswitch '))
    expect(commands.length).toBeGreaterThanOrEqual(3)
    for (const line of commands) {
      const [, name, ...args] = line.split(/\s+/)
      const command = program.commands[name!]
      expect(command, line).toBeDefined()
      const specs: Options = { ...program.globalOptions, ...command!.options, json: { type: 'boolean', description: 'JSON' } }
      const { values } = parseArgs({ args, strict: true, options: Object.fromEntries(Object.entries(specs).map(([k, v]) => [k, { type: v.type, ...(v.multiple ? { multiple: true } : {}) }])) })
      if (name === 'run') expect(() => startOptions(values as Values), line).not.toThrow()
    }
  })
})

describe.skipIf(!isRoot() || !existsSync(`${pkg}dist/index.js`))('README library examples (needs root and a build)', () => {
  afterAll(() => cleanupAll())

  it('RunningSwitch.start in the namespace it names prints the status and stops', async () => {
    const ns = await TestNetns.create('ns-readme')
    const example = blocks.find((b) => b.lang === 'ts' && b.code.includes('RunningSwitch.start'))!
    const result = await runExample(example.code, { cwd: pkg, replace: { sw1: ns.name } })
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout).toContain(`nanoswitch (switched) in ${ns.name}`)
    expect(result.stdout).toContain('bridge vmbridge 10.1.0.1/24')
    // The stop removed the bridge.
    expect((await ns.ip<Array<{ ifname: string }>>(['link', 'show'])).map((l) => l.ifname)).toEqual(['lo'])
  })

  it('the channel example subscribes as written', async () => {
    const example = blocks.find((b) => b.lang === 'ts' && b.code.includes('diagnostics_channel'))!
    const result = await runExample(example.code, { cwd: pkg })
    expect(result.code, result.stderr).toBe(0)
  })
})
