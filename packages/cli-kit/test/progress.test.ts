import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { hasCommand } from '@lab/testkit'
import { createProgress, isCi, progressEnabled, type ProgressStream } from '../src/index.js'

/** A stream that records what is written, a terminal or not. */
function fakeStream(isTTY: boolean, columns = 80): ProgressStream & { written: string } {
  return {
    isTTY,
    columns,
    written: '',
    write(text: string) {
      this.written += text
      return true
    },
  }
}

/** What a terminal would show: \r moves to the line's start, ESC[K clears from there, text overwrites. */
function screen(written: string): string[] {
  const lines = ['']
  let column = 0
  for (const part of written.split(/(\r|\n|\x1b\[K)/)) {
    const line = lines.pop()!
    if (part === '\r') [lines[lines.length], column] = [line, 0]
    else if (part === '\n') lines.push(line, '')
    else if (part === '\x1b[K') lines.push(line.slice(0, column))
    else {
      lines.push(line.slice(0, column) + part + line.slice(column + part.length))
      column += part.length
    }
    if (part === '\n') column = 0
  }
  return lines
}

const hasScript = hasCommand('script')

describe('createProgress', () => {
  it('rewrites one status line in place on a terminal and removes it when done', () => {
    const tty = fakeStream(true)
    const progress = createProgress({ stream: tty, env: {} })
    expect(progress.enabled).toBe(true)
    for (let i = 1; i <= 3; i++) progress.count('creating nodes', i, 100)
    expect(tty.written).not.toContain('\n')
    expect(screen(tty.written)).toEqual(['creating nodes 3/100'])
    progress.log('added node h1')
    expect(screen(tty.written)).toEqual(['added node h1', 'creating nodes 3/100'])
    progress.update('waiting for DHCP')
    progress.done()
    progress.done()
    expect(screen(tty.written)).toEqual(['added node h1', ''])
  })

  it('does not write the same line twice and cuts a line to the terminal width', () => {
    const tty = fakeStream(true, 20)
    const progress = createProgress({ stream: tty, env: {} })
    progress.update('round 1')
    const once = tty.written
    progress.update('round 1')
    expect(tty.written).toBe(once)
    progress.update('a status line much wider than twenty columns')
    expect(screen(tty.written)[0]!.length).toBeLessThan(20)
  })

  it('writes nothing to a stream that is not a terminal, or under CI', () => {
    for (const [stream, env] of [[fakeStream(false), {}], [fakeStream(true), { CI: 'true' }]] as const) {
      const progress = createProgress({ stream, env })
      expect(progress.enabled).toBe(false)
      progress.count('creating nodes', 1, 2)
      progress.log('a line')
      progress.done()
      expect(stream.written).toBe('')
    }
  })

  it('reads CI as most CI systems set it', () => {
    expect(isCi({ CI: 'true' })).toBe(true)
    expect(isCi({ CI: '1' })).toBe(true)
    expect(isCi({ CI: 'false' })).toBe(false)
    expect(isCi({ CI: '' })).toBe(false)
    expect(isCi({})).toBe(false)
    expect(progressEnabled(fakeStream(true), {})).toBe(true)
  })

  it('prints nothing from a real process whose stderr is a pipe', () => {
    const module = fileURLToPath(new URL('../src/progress.js', import.meta.url))
    const script = `import { createProgress } from ${JSON.stringify(module)}
const p = createProgress()
for (let i = 1; i <= 5; i++) p.count('round', i, 5)
p.log('kept'); p.done(); console.log(p.enabled)`
    const env = { ...process.env }
    delete env.CI
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env })
    expect(r.status).toBe(0)
    expect(r.stdout.trim()).toBe('false')
    expect(r.stderr).toBe('')
  })

  it.skipIf(!hasScript)('shows the status line when stderr is a real terminal (script(1) gives it a pty)', () => {
    const module = fileURLToPath(new URL('../src/progress.js', import.meta.url))
    const script = `import { createProgress } from ${JSON.stringify(module)}; const p = createProgress(); p.count('round', 2, 5); p.done()`
    const env = { ...process.env }
    delete env.CI
    const r = spawnSync('script', ['-qec', `${process.execPath} --input-type=module -e ${JSON.stringify(script)}`, '/dev/null'], { encoding: 'utf8', env })
    expect(r.status).toBe(0)
    expect(r.stdout).toContain('\r\x1b[Kround 2/5')
  })
})
