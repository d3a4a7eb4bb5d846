import { describe, expect, it } from 'vitest'
import { execute, integerFlag, requiredFlag, UsageError, type Program } from '../src/index.js'

function capture() {
  const out: string[] = []
  const err: string[] = []
  return { io: { stdout: (t: string) => void out.push(t), stderr: (t: string) => void err.push(t) }, out, err }
}

const sent: number[] = []
const program: Program = {
  name: 'lab-demo',
  summary: 'a program for the kit\'s tests',
  globalOptions: { netns: { type: 'string', value: 'NS', description: 'network namespace' } },
  commands: {
    send: {
      summary: 'send N packets',
      usage: '--count N',
      options: { count: { type: 'string', value: 'N', description: 'how many' } },
      example: 'lab-demo send --count 3',
      run({ values, print }) {
        const count = integerFlag('count', values.count as string | undefined, { min: 1 }, 1)
        sent.push(count)
        print({ sent: count }, `sent ${count}`)
      },
    },
    fail: {
      summary: 'always fails',
      example: 'lab-demo fail',
      run() {
        throw new Error('EEXIST: link add v0\nsecond line')
      },
    },
    need: {
      summary: 'needs a flag',
      options: { name: { type: 'string', description: 'a name' } },
      example: 'lab-demo need --name x',
      run({ values }) {
        requiredFlag('name', values.name)
        return 0
      },
    },
  },
}

describe('execute', () => {
  it('runs a command and prints text or JSON', async () => {
    const text = capture()
    expect(await execute(program, ['send', '--count', '2'], text.io)).toBe(0)
    expect(text.out).toEqual(['sent 2'])
    const json = capture()
    expect(await execute(program, ['send', '--json'], json.io)).toBe(0)
    expect(JSON.parse(json.out[0]!)).toEqual({ sent: 1 })
  })

  it('rejects a bad number with exit 2 and runs nothing', async () => {
    sent.length = 0
    const c = capture()
    expect(await execute(program, ['send', '--count', 'x'], c.io)).toBe(2)
    expect(sent).toEqual([])
    expect(c.err).toEqual(['lab-demo: --count: expected a whole number, got "x" (see lab-demo --help)'])
    expect(await execute(program, ['send', '--count', '0'], capture().io)).toBe(2)
  })

  it('no command: help on stderr, exit 2; --help: help on stdout ending in an example, exit 0', async () => {
    const none = capture()
    expect(await execute(program, [], none.io)).toBe(2)
    expect(none.out).toEqual([])
    expect(none.err[0]).toContain('usage:')
    const help = capture()
    expect(await execute(program, ['--help'], help.io)).toBe(0)
    expect(help.out[0]!.trimEnd().split('\n').at(-1)).toBe('  lab-demo send --count 3')
    const commandHelp = capture()
    expect(await execute(program, ['send', '--help'], commandHelp.io)).toBe(0)
    expect(commandHelp.out[0]).toContain('--count N')
    expect(commandHelp.out[0]).toContain('--netns NS')
  })

  it('unknown commands and flags are usage errors with a suggestion', async () => {
    const c = capture()
    expect(await execute(program, ['sned'], c.io)).toBe(2)
    expect(c.err[0]).toContain('did you mean "send"?')
    expect(await execute(program, ['send', '--cuont', '3'], capture().io)).toBe(2)
    expect(await execute(program, ['send', 'extra'], capture().io)).toBe(2)
    expect(await execute(program, ['need'], capture().io)).toBe(2)
  })

  it('a failure exits 1 with one line', async () => {
    const c = capture()
    expect(await execute(program, ['fail'], c.io)).toBe(1)
    expect(c.err).toEqual(['lab-demo: EEXIST: link add v0'])
  })

  it('UsageError thrown by a command is exit 2', async () => {
    const p: Program = { ...program, commands: { x: { summary: 's', example: 'e', run: () => { throw new UsageError('bad') } } } }
    expect(await execute(p, ['x'], capture().io)).toBe(2)
  })
})

describe('global options before the command', () => {
  it('are taken as with ip(8), values included', async () => {
    const c = capture()
    expect(await execute(program, ['--netns', 'send', 'send', '--count', '2'], c.io)).toBe(0)
    expect(c.out).toEqual(['sent 2'])
    const json = capture()
    expect(await execute(program, ['--json', 'send'], json.io)).toBe(0)
    expect(JSON.parse(json.out[0]!)).toEqual({ sent: 1 })
  })

  it('an option without a command is one usage line, exit 2', async () => {
    const c = capture()
    expect(await execute(program, ['--bogus'], c.io)).toBe(2)
    expect(c.err).toEqual(['lab-demo: missing command (one of send, fail, need) (see lab-demo --help)'])
  })
})
