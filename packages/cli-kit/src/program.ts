// A CLI as data: a program is a table of commands, each with its options, usage line and example.
// execute() parses, validates, prints help, runs the command and maps the outcome to an exit code;
// runProgram() does that for process.argv and exits. Every lab CLI is one of these.
import { parseArgs } from 'node:util'
import { EXIT, UsageError, errorLine, isUsageError } from './errors.js'
import { formatCommandHelp, formatProgramHelp } from './help.js'

export interface OptionSpec {
  type: 'string' | 'boolean'
  short?: string
  multiple?: boolean
  /** The placeholder shown in help: `--count N`. */
  value?: string
  description: string
}

export type Options = Record<string, OptionSpec>

export type Values = Record<string, string | boolean | string[] | boolean[] | undefined>

export interface Io {
  stdout: (text: string) => void
  stderr: (text: string) => void
}

export interface RunContext {
  values: Values
  positionals: string[]
  /** --json was given: print machine-readable output. */
  json: boolean
  /** Aborted on SIGINT/SIGTERM, for commands that run until stopped. */
  signal: AbortSignal
  /** Prints `value` as JSON with --json, else `text` (or the value's JSON when no text is given). */
  print(value: unknown, text?: string | ((value: unknown) => string)): void
  io: Io
}

export interface Command {
  summary: string
  /** What follows `PROGRAM COMMAND` on the usage line. */
  usage?: string
  options?: Options
  /** Positional arguments are allowed (the command checks them). */
  positionals?: boolean
  /** One or more complete command lines that work as written. */
  example: string | string[]
  /** Returns the exit code (0 when nothing is returned). */
  run(context: RunContext): Promise<number | void> | number | void
}

export interface Program {
  name: string
  summary: string
  commands: Record<string, Command>
  /** Options every command takes (`--netns`); --help and --json are always there. */
  globalOptions?: Options
  /** Extra lines for the program's help, before the example (exit status details). */
  notes?: string
}

const BUILTIN: Options = {
  help: { type: 'boolean', short: 'h', description: 'show this help' },
  json: { type: 'boolean', description: 'print machine-readable JSON' },
}

/** Runs a program on argv and returns its exit code; never throws. */
export async function execute(program: Program, argv: string[], io: Io = processIo, signal: AbortSignal = new AbortController().signal): Promise<number> {
  const global = { ...BUILTIN, ...program.globalOptions }
  const at = commandIndex(argv, global)
  if (at === -1) {
    if (argv.includes('--help') || argv.includes('-h')) {
      io.stdout(formatProgramHelp(program, BUILTIN))
      return EXIT.ok
    }
    if (argv.length > 0) {
      io.stderr(errorLine(program.name, new UsageError(`missing command (one of ${Object.keys(program.commands).join(', ')})`)))
      return EXIT.usage
    }
    // No command: help goes to stderr and the run is a usage error, as with `ip` and `git`.
    io.stderr(formatProgramHelp(program, BUILTIN))
    return EXIT.usage
  }
  const first = argv[at]!
  // Global options may come before the command (`lab-ip --json link`), as with ip(8).
  const rest = [...argv.slice(0, at), ...argv.slice(at + 1)]
  if (first === 'help') {
    const about = rest[0] !== undefined ? program.commands[rest[0]] : undefined
    io.stdout(about ? formatCommandHelp(program, rest[0]!, about, BUILTIN) : formatProgramHelp(program, BUILTIN))
    return EXIT.ok
  }
  const command = program.commands[first]
  if (!command) {
    io.stderr(errorLine(program.name, new UsageError(`unknown command "${first}"${suggest(first, Object.keys(program.commands))}`)))
    return EXIT.usage
  }
  try {
    const options = { ...BUILTIN, ...program.globalOptions, ...command.options }
    const { values, positionals } = parseArgs({
      args: rest,
      allowPositionals: command.positionals ?? false,
      strict: true,
      options: Object.fromEntries(
        Object.entries(options).map(([key, spec]) => [key, { type: spec.type, ...(spec.short ? { short: spec.short } : {}), ...(spec.multiple ? { multiple: true } : {}) }]),
      ),
    })
    if (values.help) {
      io.stdout(formatCommandHelp(program, first, command, BUILTIN))
      return EXIT.ok
    }
    const json = values.json === true
    const context: RunContext = {
      values: values as Values,
      positionals,
      json,
      signal,
      io,
      print(value, text) {
        if (json || text === undefined) io.stdout(JSON.stringify(value, null, json ? 2 : undefined))
        else io.stdout(typeof text === 'function' ? text(value) : text)
      },
    }
    const code = await command.run(context)
    return code ?? EXIT.ok
  } catch (error) {
    io.stderr(errorLine(program.name, error))
    if (process.env.LAB_DEBUG && error instanceof Error && error.stack) io.stderr(error.stack)
    return isUsageError(error) ? EXIT.usage : EXIT.failed
  }
}

/** Where the command word is: the first argument that is neither an option nor a global option's value. */
function commandIndex(argv: string[], global: Options): number {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === '--') return i + 1 < argv.length ? i + 1 : -1
    if (!arg.startsWith('-') || arg === '-') return i
    const name = arg.startsWith('--') ? arg.slice(2) : Object.entries(global).find(([, spec]) => spec.short === arg.slice(1))?.[0]
    if (name !== undefined && !name.includes('=') && global[name]?.type === 'string') i++
  }
  return -1
}

/** Runs a program on process.argv, stops on SIGINT/SIGTERM through its signal, and exits. */
export function runProgram(program: Program, argv: string[] = process.argv.slice(2)): void {
  const controller = new AbortController()
  const stop = () => controller.abort()
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  void execute(program, argv, processIo, controller.signal).then((code) => process.exit(code))
}

const processIo: Io = {
  stdout: (text) => void process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
  stderr: (text) => void process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
}

/** ` (did you mean "x"?)` when one known word is within two edits of what was typed. */
export function suggest(typed: string, known: string[]): string {
  let best: string | undefined
  let bestDistance = 3
  for (const word of known) {
    const d = editDistance(typed, word)
    if (d < bestDistance) [best, bestDistance] = [word, d]
  }
  return best ? ` (did you mean "${best}"?)` : ''
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    const row = [i]
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    previous = row
  }
  return previous[b.length]!
}
