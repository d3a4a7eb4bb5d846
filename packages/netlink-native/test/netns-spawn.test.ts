// spawnInNetns: the child starts in the namespace (compared with the inode of the namespace file,
// as `ip netns identify` does), and the calling thread is back in its own namespace afterwards,
// also when spawn throws.
import { readlinkSync, statSync } from 'node:fs'
import type { ChildProcess } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TestNetns, cleanupAll, isRoot } from '@lab/testkit'
import { spawnInNetns } from '../src/index.js'

function output(child: ChildProcess): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    let stdout = ''
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout }))
  })
}

const ownNetns = () => readlinkSync('/proc/thread-self/ns/net')

describe.skipIf(!isRoot())('spawnInNetns (needs root)', () => {
  let ns: TestNetns
  beforeAll(async () => {
    ns = await TestNetns.create('spawn')
  })
  afterAll(() => cleanupAll())

  it('starts the child in a namespace given by name, and the caller stays where it was', async () => {
    const before = ownNetns()
    const child = spawnInNetns(ns.name, 'readlink', ['/proc/self/ns/net'], { stdio: ['ignore', 'pipe', 'inherit'] })
    expect(ownNetns()).toBe(before)
    const { code, stdout } = await output(child)
    expect(code).toBe(0)
    expect(stdout.trim()).toBe(`net:[${statSync(ns.path).ino}]`)
    expect(stdout.trim()).not.toBe(before)
  })

  it('takes a path too, and the child sees only that namespace\'s links (ip -j link)', async () => {
    await ns.exec(['ip', 'link', 'add', 'sp0', 'type', 'veth', 'peer', 'name', 'sp1'])
    const { code, stdout } = await output(spawnInNetns(ns.path, 'ip', ['-j', 'link', 'show'], { stdio: ['ignore', 'pipe', 'inherit'] }))
    expect(code).toBe(0)
    const names = (JSON.parse(stdout) as Array<{ ifname: string }>).map((l) => l.ifname).sort()
    expect(names).toEqual(['lo', 'sp0', 'sp1'])
  })

  it('puts the caller back when spawn throws, and says which namespace could not be entered', () => {
    const before = ownNetns()
    // spawn validates its options synchronously: this throws inside the namespace.
    expect(() => spawnInNetns(ns.name, 'true', [], { stdio: 'no-such-mode' as never })).toThrow(/stdio/)
    expect(ownNetns()).toBe(before)
    expect(() => spawnInNetns('no-such-netns-here', 'true')).toThrow(/ENOENT: netns enter no-such-netns-here/)
    expect(ownNetns()).toBe(before)
  })
})
