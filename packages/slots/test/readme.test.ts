// The README's examples, run as written: its first code block (the API) and its CLI block, each in
// a throwaway network namespace with a private /run/netns, so the names the README uses
// (lab-host, lab-slot-1) never meet anything else on this machine.
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { TestNetns, cleanupAll, isRoot } from '@lab/testkit'

const packageDir = fileURLToPath(new URL('..', import.meta.url))
const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
const built = ['../dist/index.js', '../dist/cli.js', '../../netlink-native/dist/index.js', '../../nft/dist/index.js'].every((p) => existsSync(fileURLToPath(new URL(p, import.meta.url))))
const bin = fileURLToPath(new URL('../../../node_modules/.bin', import.meta.url))

/** The code blocks of the README, in order, with their language. */
function blocks(): Array<{ lang: string; code: string }> {
  return [...readme.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((m) => ({ lang: m[1]!, code: m[2]! }))
}

/** Runs argv inside a fresh namespace whose mount namespace has its own empty /run/netns. */
async function inThrowaway(argv: string[]) {
  const ns = await TestNetns.create('readme')
  const script = 'mount -t tmpfs lab-readme /run/netns && exec "$@"'
  return ns.exec(['unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c', script, 'sh', ...argv], { allowFailure: true, timeout: 60_000 })
}

describe.skipIf(!isRoot() || !built)('README examples (needs root and a build)', () => {
  afterAll(() => cleanupAll())

  it('the first example runs as written and prints the slot it describes', async () => {
    const first = blocks()[0]!
    expect(first.lang).toBe('js')
    expect(first.code).toContain("hostNetns: 'lab-host'")
    // --input-type=module with --eval resolves `@lab/slots` from the working directory.
    const result = await inThrowaway(['env', '-C', packageDir, process.execPath, '--input-type=module', '--eval', first.code])
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout).toMatch(/index: 1,[\s\S]*netns: 'lab-slot-1'[\s\S]*hostReachableIP: '10\.11\.0\.1'[\s\S]*uplink: 'uplink0'/)
  })

  it('the pool and egress example runs as written', async () => {
    const pool = blocks().find((b) => b.lang === 'js' && b.code.includes('pool: { size: 4 }'))!
    const result = await inThrowaway(['env', '-C', packageDir, process.execPath, '--input-type=module', '--eval', pool.code])
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout).toMatch(/^\{ allow: \[ '192\.0\.2\.0\/24' \] \} \{[^}]*size: 4,[^}]*acquired: 1[^}]*\}\n$/)
  })

  it('the IPv6 example runs as written: the slot has IPv6 and the host reaches it over IPv6', async () => {
    const v6 = blocks().find((b) => b.lang === 'js' && b.code.includes('ipv6: true'))!
    const result = await inThrowaway(['env', '-C', packageDir, process.execPath, '--input-type=module', '--eval', v6.code])
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout).toMatch(/^\{\n?\s*vethAddress: 'fd0a:b3ec:12::2',[\s\S]*hostReachableIP: 'fd0a:b3ec:11::1',[\s\S]*guestIP: 'fd0a:b3ec:fc::2'\s*\}\nhello over IPv6\n$/)
  })

  it('the CLI lines run as written', async () => {
    const cli = blocks().find((b) => b.lang === 'sh' && b.code.includes('lab-slots add'))!
    const result = await inThrowaway(['env', `PATH=${bin}:${process.env.PATH}`, 'sh', '-ex', '-c', cli.code])
    expect(result.code, result.stderr).toBe(0)
    // add --json prints the slot; list prints one line per slot; after del and destroy, nothing is left.
    expect(result.stdout).toMatch(/"netns": "lab-slot-1"[\s\S]*"hostReachableIP": "10\.11\.0\.1"[\s\S]*\n1\tlab-slot-1\tveth-1\t10\.11\.0\.1 -> 169\.254\.0\.21\n1 slots \(of 4000\): 0 idle in a pool, 1 in use \(1\)\n$/)
  })
})
