// The nanoswitch command line (through @lab/cli-kit's execute, as the bin runs it): one-line
// errors with exit 1 for what the switch cannot run with, 2 for a wrong command line, --help that
// names every option, and a run that a stop signal ends cleanly.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { execute } from '@lab/cli-kit'
import { TestNetns, cleanupAll, deferCleanup, isRoot } from '@lab/testkit'
import { program } from '../src/cli/program.js'
import { readControl, type SwitchStatus } from '../src/index.js'

afterAll(() => cleanupAll())

function capture() {
  const out: string[] = []
  const err: string[] = []
  return { io: { stdout: (t: string) => void out.push(t), stderr: (t: string) => void err.push(t) }, out, err }
}

const lines = (chunks: string[]) => chunks.join('').split('\n').filter((l) => l !== '')

describe('nanoswitch --help', () => {
  it('documents every run option, --socket and --keep included, and ends with an example', async () => {
    const c = capture()
    expect(await execute(program, ['run', '--help'], c.io)).toBe(0)
    const help = c.out.join('')
    for (const flag of ['--socket PATH', '--netns NS', '--mode MODE', '--uplink IF', '--forward-mode', '--lease-file PATH', '--keep', '--init', '--json']) expect(help).toContain(flag)
    expect(lines(c.out).slice(-2)).toEqual(['example:', '  nanoswitch run --netns sw1 --forward 8080:10.1.0.2 --socks 1080 --lease-file /var/lib/lab/sw1.leases'])
  })

  it('bad flag values are usage errors (exit 2), one line naming the flag', async () => {
    for (const [argv, message] of [
      [['run', '--subnet', '10.1.0.0/24'], 'nanoswitch: --subnet 10.1.0.0/24: 10.1.0.0/24: the switch needs a host address, not the network or broadcast address (see nanoswitch --help)'],
      [['run', '--forward-mode', 'fast'], 'nanoswitch: --forward-mode: expected one of kernel, proxy, got "fast" (see nanoswitch --help)'],
      [['run', '--socks', '70000'], 'nanoswitch: --socks: must be at most 65535, got 70000 (see nanoswitch --help)'],
      [['run', '--oui', 'zz'], 'nanoswitch: --oui zz: invalid OUI "zz" (expected aa:bb:cc) (see nanoswitch --help)'],
      [['run', '--uplink', 'a', '--uplink-mac', '02:00:00:00:00:01'], 'nanoswitch: --uplink and --uplink-mac: one or the other (see nanoswitch --help)'],
    ] as const) {
      const c = capture()
      expect(await execute(program, [...argv], c.io)).toBe(2)
      expect(lines(c.err)).toEqual([message])
    }
  })
})

describe.skipIf(!isRoot())('nanoswitch run (needs root)', () => {
  it('a namespace that does not exist: exit 1 at once, one line, nothing restarted', async () => {
    const c = capture()
    expect(await execute(program, ['run', '--netns', 'lab-nosuch-ns', '--socket', '/tmp/lab-nosuch.sock'], c.io)).toBe(1)
    expect(lines(c.err)).toEqual(['nanoswitch: netns lab-nosuch-ns: no such network namespace (see ip netns list)'])
  })

  it('a lease file whose directory cannot be made: exit 1, one line', async () => {
    const ns = await TestNetns.create('nsc')
    const c = capture()
    expect(await execute(program, ['run', '--netns', ns.name, '--lease-file', '/proc/version/leases', '--socket', join(tmpdir(), `lab-nsc-${process.pid}.sock`)], c.io)).toBe(1)
    expect(lines(c.err)).toEqual(['nanoswitch: lease file /proc/version/leases: cannot create its directory /proc/version (EEXIST)'])
  })

  it('runs until its stop signal, answers status with the links, and removes the bridge when stopped', async () => {
    const ns = await TestNetns.create('nsc')
    const dir = mkdtempSync(join(tmpdir(), 'lab-nsc-'))
    deferCleanup(`rm ${dir}`, () => rmSync(dir, { recursive: true, force: true }))
    const socket = join(dir, 'control.sock')
    const stop = new AbortController()
    const c = capture()
    const running = execute(program, ['run', '--netns', ns.name, '--socket', socket], c.io, stop.signal)
    let status: SwitchStatus | undefined
    for (let i = 0; !status && i < 400; i++) {
      status = (await readControl(socket).catch(() => undefined)) as SwitchStatus | undefined
      if (!status) await new Promise((r) => setTimeout(r, 25))
    }
    const text = capture()
    expect(await execute(program, ['status', '--socket', socket], text.io)).toBe(0)
    expect(text.out.join('')).toMatch(/links \(2\):\n {2}lo .*\n {2}vmbridge +bridge /)
    const json = capture()
    expect(await execute(program, ['status', '--socket', socket, '--json'], json.io)).toBe(0)
    expect((JSON.parse(json.out.join('')) as SwitchStatus).bridge?.name).toBe('vmbridge')
    stop.abort()
    expect(await running).toBe(0)
    expect(c.err).toEqual([])
    expect((await ns.ip<Array<{ ifname: string }>>(['link', 'show'])).map((l) => l.ifname)).toEqual(['lo'])
  })
})
