// Running commands for tests (shelling out is fine here: tests are not a hot path).
import { execFile, execFileSync, type ExecFileOptions } from 'node:child_process'

export interface RunResult {
  stdout: string
  stderr: string
  code: number
}

export class CommandError extends Error {
  constructor(
    readonly argv: string[],
    readonly result: RunResult,
  ) {
    super(`command failed (exit ${result.code}): ${argv.join(' ')}\n${result.stderr || result.stdout}`)
    this.name = 'CommandError'
  }
}

/** Runs a command; rejects with CommandError on a non-zero exit unless `allowFailure`. */
export function run(
  argv: string[],
  options: ExecFileOptions & { allowFailure?: boolean; input?: string } = {},
): Promise<RunResult> {
  const [file, ...args] = argv
  return new Promise((resolve, reject) => {
    const child = execFile(file!, args, { maxBuffer: 64 << 20, ...options, encoding: 'utf8' }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0
      const result = { stdout: String(stdout), stderr: String(stderr), code }
      if (code !== 0 && !options.allowFailure) reject(new CommandError(argv, result))
      else resolve(result)
    })
    if (options.input !== undefined) child.stdin?.end(options.input)
  })
}

/** Synchronous variant for cleanup paths that must finish before the process exits. */
export function runSync(argv: string[], allowFailure = false): string {
  const [file, ...args] = argv
  try {
    return execFileSync(file!, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  } catch (error) {
    if (allowFailure) return ''
    const e = error as { status?: number; stderr?: string }
    throw new CommandError(argv, { stdout: '', stderr: String(e.stderr ?? ''), code: e.status ?? 1 })
  }
}

/** `ip -j ...` parsed. */
export async function ipJson<T = unknown>(args: string[], netns?: string): Promise<T> {
  const argv = netns ? ['ip', '-n', netns, '-j', ...args] : ['ip', '-j', ...args]
  const { stdout } = await run(argv)
  return (stdout.trim() ? JSON.parse(stdout) : []) as T
}

export function isRoot(): boolean {
  return process.getuid?.() === 0
}

export function hasCommand(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}
