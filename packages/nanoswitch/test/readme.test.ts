// The README's examples as written: command lines the CLI accepts, and the library examples run
// in a namespace of the test's own (the README's `sw1` replaced by its name).
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'
import { NETNS_PREFIX, TestNetns, cleanupAll, deferCleanup, hasCommand, ipJson, isRoot, readmeBlocks, run, runExample, runSync } from '@lab/testkit'
import type { Options, Values } from '@lab/cli-kit'
import { program, startOptions } from '../src/cli/program.js'
import { frrProcesses, killFrr, killPid } from './frr-cleanup.js'

const pkg = fileURLToPath(new URL('..', import.meta.url))
const blocks = readmeBlocks(`${pkg}README.md`)

describe('README command lines', () => {
  it('every nanoswitch command line names a command and options that exist, with valid values', () => {
    // A line's command ends where the shell's redirections and job control begin.
    const commands = blocks.filter((b) => b.lang === 'sh').flatMap((b) => b.code.split('\n')).map((l) => l.replace(/#.*$/, '').replace(/\s[>&|;].*$/, '').trim()).filter((l) => l.startsWith('nanoswitch '))
    expect(commands.length).toBeGreaterThanOrEqual(3)
    for (const line of commands) {
      const [, name, ...args] = line.split(/\s+/)
      const command = program.commands[name!]
      expect(command, line).toBeDefined()
      const specs: Options = { ...program.globalOptions, ...command!.options, json: { type: 'boolean', description: 'JSON' } }
      const { values } = parseArgs({ args, strict: true, options: Object.fromEntries(Object.entries(specs).map(([k, v]) => [k, { type: v.type, ...(v.multiple ? { multiple: true } : {}) }])) })
      // A --fabric file is written by the example itself (and read by the test below, as it runs).
      if (name === 'run') expect(() => startOptions({ ...values, fabric: undefined } as Values), line).not.toThrow()
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

// The "many hosts" example, run by bash as a user would run it (from the built CLI on PATH, in a
// private directory), with its namespace names swapped for unique ones; then its undo block.
const frrInstalled = existsSync('/usr/lib/frr/bgpd') && hasCommand('vtysh') && hasCommand('udhcpc')
describe.skipIf(!isRoot() || !existsSync(`${pkg}dist/cli.js`) || !frrInstalled)('README many hosts example (needs root, a build, frr, udhcpc)', () => {
  afterAll(() => cleanupAll())

  it('three hosts form a fabric, vm1 pings vm3 across it, and the undo block leaves nothing behind', async () => {
    const [up, down] = [blocks.find((b) => b.lang === 'sh' && b.code.includes('--fabric')), blocks.find((b) => b.lang === 'sh' && b.code.includes('kill $(cat h1.pid'))]
    expect(up, 'the README\'s fabric example').toBeDefined()
    expect(down, 'the README\'s undo block').toBeDefined()
    const prefix = `${NETNS_PREFIX}-${process.pid}-rm`
    const names = ['ul', 'h1', 'h2', 'h3', 'vm1', 'vm3']
    const ns = (name: string) => `${prefix}${name}`
    // Namespace names only: `ul` but not `ul0`, `ulbr` or `ul$i` (interface names).
    const swap = (code: string) => code.replace(/\b(?:ul|h[123]|vm[13]|h\$i)(?![\w$])/g, (m) => ns(m))
    const dir = mkdtempSync(join(tmpdir(), 'lab-readme-fabric-'))
    const hosts = ['h1', 'h2', 'h3'].map(ns)
    // After a failure at any point: the switches (by the pids the script wrote), their FRR, the
    // control sockets, the namespaces and their /etc/netns files, the directory.
    deferCleanup('README fabric example', () => {
      for (const h of hosts) killPid(existsSync(join(dir, `${h}.pid`)) ? Number(readFileSync(join(dir, `${h}.pid`), 'utf8')) : undefined)
      for (const h of hosts) {
        killFrr(h)
        rmSync(`/run/nanoswitch/${h}.sock`, { force: true })
      }
      for (const name of names.map(ns)) {
        if (existsSync(`/run/netns/${name}`)) runSync(['ip', 'netns', 'del', name], true)
        rmSync(`/etc/netns/${name}`, { recursive: true, force: true })
      }
      rmSync(dir, { recursive: true, force: true })
    })
    const env = { ...process.env, PATH: `${join(pkg, '../../node_modules/.bin')}:${process.env.PATH}`, LOG_LEVEL: 'info' }
    const bash = (code: string) => run(['bash', '-e', '-c', swap(code)], { cwd: dir, env, allowFailure: true, timeout: 60_000 })
    const logs = () => hosts.map((h) => `--- ${h}.log\n${existsSync(join(dir, `${h}.log`)) ? readFileSync(join(dir, `${h}.log`), 'utf8').slice(-2_000) : '(none)'}`).join('\n')

    const result = await bash(up!.code)
    expect(result.code, `${result.stderr}\n${logs()}`).toBe(0)
    // vm1 (host 1) reached vm3 (host 3) across the fabric; the leases came from each host's range.
    expect(Number(/(\d+) received/.exec(result.stdout)?.[1])).toBeGreaterThan(0)
    const vm1 = (await ipJson<Array<{ address: string; addr_info: Array<{ local: string }> }>>(['addr', 'show', 'eth0'], ns('vm1')))[0]!
    const vm3 = (await ipJson<Array<{ addr_info: Array<{ local: string }> }>>(['addr', 'show', 'eth0'], ns('vm3')))[0]!
    expect(vm1.addr_info.map((a) => a.local)).toContain('10.1.0.10')
    expect(vm3.addr_info.map((a) => a.local)).toContain('10.1.0.30')
    // Host 2 carries vm1's MAC as a type-2 route, and its status shows both sessions Established.
    expect(result.stdout).toContain(vm1.address)
    expect(result.stdout).toMatch(/peer 192\.168\.50\.1 +Established/)
    expect(result.stdout).toMatch(/peer 192\.168\.50\.3 +Established/)
    // And back, from the test: vm3 to vm1.
    expect((await run(['ip', 'netns', 'exec', ns('vm3'), 'ping', '-c', '3', '-W', '2', '10.1.0.10'], { allowFailure: true })).code).toBe(0)

    const undo = await bash(down!.code)
    expect(undo.code, `${undo.stderr}\n${logs()}`).toBe(0)
    for (const h of hosts) {
      expect(await frrProcesses(h), `FRR of ${h}`).toBe('')
      expect(existsSync(`/var/run/frr/${h}`)).toBe(false)
      expect(existsSync(`/run/nanoswitch/${h}.sock`)).toBe(false)
    }
    for (const name of names.map(ns)) {
      expect(existsSync(`/run/netns/${name}`), name).toBe(false)
      expect(existsSync(`/etc/netns/${name}`), name).toBe(false)
    }
  }, 60_000)
})
