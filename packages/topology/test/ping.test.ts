// `lab ping` on a real lab: mininet's linear topology of three (three bridges in a chain, a host
// on each): neighbours are the hosts on linked switches, --all is every pair, a host whose link is
// down fails (exit 1) where /bin/ping fails too, and the library's `pairs` pings exactly those.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { deferCleanup, isRoot, run, runSync } from '@lab/testkit'
import { ping, type LabPingResult } from '../src/index.js'

const pkg = fileURLToPath(new URL('..', import.meta.url))
const bin = join(pkg, 'bin/lab.js')
const runDir = mkdtempSync(join(tmpdir(), 'lab-ping-'))
const env = { ...process.env, LAB_RUN_DIR: runDir }
const name = `t${(process.pid % 10000).toString(36)}g`
const lab = (args: string[], allowFailure = false) => run([process.execPath, bin, ...args], { env, allowFailure, timeout: 60_000 })
const inNode = (node: string, argv: string[]) => run(['ip', 'netns', 'exec', `${name}-${node}`, ...argv], { allowFailure: true, timeout: 20_000 })
const pairsOf = (r: LabPingResult) => r.pairs.map((p) => `${p.from}>${p.to}`).sort()

describe.skipIf(!isRoot() || !existsSync(join(pkg, 'dist/cli.js')))('lab ping (needs root and a build)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lab-ping-file-'))
  const undo = deferCleanup(`lab ${name}`, () => {
    process.env.LAB_RUN_DIR = runDir
    try {
      runSync([process.execPath, bin, 'down', name], true)
    } finally {
      delete process.env.LAB_RUN_DIR
    }
    for (const ns of runSync(['ip', 'netns', 'list']).split('\n').map((l) => l.split(' ')[0]!)) if (ns.startsWith(`${name}-`)) runSync(['ip', 'netns', 'del', ns], true)
  })
  beforeAll(async () => {
    const file = join(dir, 'linear.yaml')
    writeFileSync(
      file,
      `name: ${name}
nodes:
  s1: { kind: bridge }
  s2: { kind: bridge }
  s3: { kind: bridge }
  h1: { kind: netns, addresses: [10.8.0.1/24] }
  h2: { kind: netns, addresses: [10.8.0.2/24] }
  h3: { kind: netns, addresses: [10.8.0.3/24] }
links:
  - endpoints: [h1:eth0, s1:h]
  - endpoints: [h2:eth0, s2:h]
  - endpoints: [h3:eth0, s3:h]
  - endpoints: [s1:r, s2:l]
  - endpoints: [s2:r, s3:l]
`,
    )
    await lab(['up', file])
  })
  afterAll(() => {
    undo()
    rmSync(dir, { recursive: true, force: true })
    rmSync(runDir, { recursive: true, force: true })
  })

  it('pings each host’s neighbours (hosts on linked switches), both ways; --all pings every pair', async () => {
    const r = await lab(['ping', name, '--json'])
    const result = JSON.parse(r.stdout) as LabPingResult
    expect(pairsOf(result)).toEqual(['h1>h2', 'h2>h1', 'h2>h3', 'h3>h2'])
    expect(result.failed).toBe(0)
    for (const p of result.pairs) expect(p).toMatchObject({ transmitted: 1, received: 1, lost: 0 })
    expect(result.pairs.find((p) => p.to === 'h3')?.address).toBe('10.8.0.3')
    const all = await lab(['ping', name, '--all', '--count', '2'])
    expect(all.code).toBe(0)
    expect(all.stdout).toMatch(/^h1 -> h3 10\.8\.0\.3 2\/2 [\d.]+ ms$/m)
    expect(all.stdout).toContain(`lab ${name}: 12/12 replies, 0 of 6 pairs failed`)
  })

  it('fails (exit 1) for a host whose link is down, as /bin/ping does from the same node', async () => {
    await inNode('h3', ['ip', 'link', 'set', 'eth0', 'down'])
    try {
      const r = await lab(['ping', name, '--all', '--timeout', '300', '--json'], true)
      expect(r.code).toBe(1)
      const result = JSON.parse(r.stdout) as LabPingResult
      // h3 has no route left (ENETUNREACH, nothing sent); the others wait for h3 in vain.
      expect(result.failed).toBe(4)
      const h1h3 = result.pairs.find((p) => p.from === 'h1' && p.to === 'h3')!
      expect(h1h3).toMatchObject({ transmitted: 1, received: 0, lost: 1 })
      expect(result.pairs.find((p) => p.from === 'h3' && p.to === 'h1')!.error).toMatch(/^ENETUNREACH/)
      expect((await inNode('h1', ['ping', '-c', '1', '-W', '1', '10.8.0.3'])).code).toBe(1)
      expect((await inNode('h3', ['ping', '-c', '1', '-W', '1', '10.8.0.1'])).code).toBe(2)
      expect(result.pairs.find((p) => p.from === 'h1' && p.to === 'h2')).toMatchObject({ received: 1 })
    } finally {
      await inNode('h3', ['ip', 'link', 'set', 'eth0', 'up'])
    }
  })

  it('pings exactly the pairs a program asks for; refuses unknown nodes and nodes with no address', async () => {
    process.env.LAB_RUN_DIR = runDir
    try {
      const r = await ping(name, { pairs: [['h1', 'h3'], ['h3', 'h1']], timeoutMs: 3000, concurrency: 1 })
      expect(pairsOf(r)).toEqual(['h1>h3', 'h3>h1'])
      expect(r.failed).toBe(0)
      await expect(ping(name, { pairs: [['h1', 'h9']] })).rejects.toThrow(/no node h9/)
      await expect(ping(name, { concurrency: 0 })).rejects.toThrow(/concurrency/)
      await expect(ping(name, { pairs: [['h1', 's1']] })).rejects.toThrow(/s1: no address/)
      await expect(ping(name, { pairs: [['s1', 'h1']] })).rejects.toThrow(/bridge node cannot send/)
    } finally {
      delete process.env.LAB_RUN_DIR
    }
    expect((await lab(['ping'], true)).code).toBe(2)
  })
})
