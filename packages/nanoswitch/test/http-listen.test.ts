// `--http ADDR:PORT`: what parses, and the one-line usage errors (exit 2) for what does not.
import { describe, expect, it } from 'vitest'
import { execute } from '@lab/cli-kit'
import { program } from '../src/cli/program.js'
import { parseHttpListen } from '../src/index.js'

describe('--http ADDR:PORT', () => {
  it.each([
    ['0.0.0.0:8080', { host: '0.0.0.0', port: 8080 }],
    ['10.1.0.1:80', { host: '10.1.0.1', port: 80 }],
    ['[::]:8080', { host: '::', port: 8080 }],
    ['[fd00::1]:9100', { host: 'fd00::1', port: 9100 }],
  ])('%s', (text, want) => expect(parseHttpListen(text)).toEqual(want))

  it.each([
    ['8080', 'expected ADDR:PORT (IPv6 as [ADDR]:PORT), got "8080"'],
    ['10.1.0.1:0', 'port 0 out of range 1..65535'],
    ['10.1.0.1:70000', 'port 70000 out of range 1..65535'],
    ['fd00::1:80', 'expected ADDR:PORT (IPv6 as [ADDR]:PORT), got "fd00::1:80"'],
    ['[10.1.0.1]:80', '10.1.0.1 in brackets is not an IPv6 address'],
    ['010.1.0.1:80', ''],
  ])('%s is a usage error naming the flag', async (text, message) => {
    const err: string[] = []
    expect(await execute(program, ['run', '--http', text], { stdout: () => undefined, stderr: (t) => void err.push(t) })).toBe(2)
    const line = err.join('').trim()
    expect(line).toMatch(new RegExp(`^nanoswitch: --http ${text.replace(/[.[\]]/g, '\\$&')}: `))
    if (message) expect(line).toContain(message)
    expect(line.split('\n')).toHaveLength(1)
  })
})
