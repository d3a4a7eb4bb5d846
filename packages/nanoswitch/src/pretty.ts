// Logs for a person at a terminal: pino's JSON lines turned into `12:00:01 INFO  nanoswitch.dhcp-server: serving subnets=[...]`.
// Machines (no TTY) get the JSON itself.
import { Writable } from 'node:stream'

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO ', 40: 'WARN ', 50: 'ERROR', 60: 'FATAL' }
const COLOURS: Record<number, string> = { 10: '90', 20: '90', 30: '32', 40: '33', 50: '31', 60: '31' }
const SKIP = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg', 'runnable'])

export function prettyLine(line: string, colour: boolean): string {
  let o: Record<string, unknown>
  try {
    o = JSON.parse(line) as Record<string, unknown>
  } catch {
    // Not a pino line (a stack trace, a child's output): printed as it is.
    return line
  }
  const time = new Date(Number(o.time)).toISOString().slice(11, 23)
  const level = Number(o.level)
  const label = LEVELS[level] ?? String(level)
  const where = String(o.runnable ?? o.name ?? '')
  const rest = Object.entries(o)
    .filter(([k]) => !SKIP.has(k))
    .map(([k, v]) => `${k}=${k === 'err' && v && typeof v === 'object' ? String((v as { message?: unknown }).message) : JSON.stringify(v)}`)
    .join(' ')
  const head = colour ? `\x1b[${COLOURS[level] ?? '0'}m${label}\x1b[0m` : label
  return `${time} ${head} ${where}: ${String(o.msg ?? '')}${rest ? ' ' + rest : ''}`
}

/** A pino destination that prints each JSON line readably to `out`. */
export function prettyStream(out: NodeJS.WriteStream = process.stdout): Writable {
  let pending = ''
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      pending += chunk.toString('utf8')
      const lines = pending.split('\n')
      pending = lines.pop()!
      for (const line of lines) if (line) out.write(prettyLine(line, out.isTTY === true) + '\n')
      done()
    },
  })
}
