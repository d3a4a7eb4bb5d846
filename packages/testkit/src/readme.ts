// README examples are tested by running them: readmeBlocks() finds a README's code blocks, and
// runExample() runs one as an ES module from the package's folder (so `@lab/x` imports resolve to
// the built packages, as they would for a user), with names swapped for the test's own.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { run, type RunResult } from './run.js'

export interface CodeBlock {
  /** The fence's language: `ts`, `js`, `sh`, ... */
  lang: string
  code: string
  /** 1-based line of the opening fence, for failure messages. */
  line: number
}

export function readmeBlocks(readmePath: string): CodeBlock[] {
  const lines = readFileSync(readmePath, 'utf8').split('\n')
  const blocks: CodeBlock[] = []
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)\s*$/.exec(lines[i]!)
    if (!open) continue
    const start = i
    const body: string[] = []
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]!); i++) body.push(lines[i]!)
    blocks.push({ lang: open[1] ?? '', code: body.join('\n'), line: start + 1 })
  }
  return blocks
}

export interface ExampleOptions {
  /** The package folder: the example is written there so its imports resolve like a user's. */
  cwd: string
  /** Whole-word replacements, e.g. the README's namespace name -> the test's. */
  replace?: Record<string, string>
  /** Run inside this namespace (`ip netns exec`). */
  netns?: string
  timeoutMs?: number
}

/** Runs a JavaScript (or type-free TypeScript) example as an .mjs file; returns its output. */
export async function runExample(code: string, options: ExampleOptions): Promise<RunResult> {
  let source = code
  for (const [from, to] of Object.entries(options.replace ?? {})) source = source.replace(new RegExp(`\\b${from.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\b`, 'g'), to)
  const dir = mkdtempSync(join(options.cwd, '.readme-example-'))
  const file = join(dir, 'example.mjs')
  writeFileSync(file, source)
  try {
    const argv = options.netns ? ['ip', 'netns', 'exec', options.netns, process.execPath, file] : [process.execPath, file]
    return await run(argv, { allowFailure: true, cwd: options.cwd, timeout: options.timeoutMs ?? 30_000 })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
