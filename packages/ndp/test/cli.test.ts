// lab-ndp as a user runs it: `ra` advertises until SIGTERM and then withdraws itself, `solicit`
// reads the advertisement back, `decode` prints packets; usage errors exit 2.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { TestNetns, cleanupAll, deferCleanup, isRoot, run, vethPair, until } from '@lab/testkit'

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url))


describe.skipIf(!existsSync(cli))('lab-ndp CLI (needs a build)', () => {
  afterAll(() => cleanupAll())

  it.skipIf(!isRoot())('ra advertises, solicit reads it back, and SIGTERM sends the final RA that removes the default route', async () => {
    const router = await TestNetns.create('ndpcli-r')
    const client = await TestNetns.create('ndpcli-c')
    await vethPair({ netns: router, ifname: 'r0' }, { netns: client, ifname: 'c0' })
    // Both link-local addresses must be past DAD: one is the RA's source, the other the RS's.
    for (const [ns, dev] of [[router, 'r0'], [client, 'c0']] as const) {
      await until(`DAD on ${dev}`, () => ns.exec(['ip', '-6', 'addr', 'show', 'dev', dev, 'scope', 'link']), (r) => r.stdout.includes('fe80') && !r.stdout.includes('tentative'))
    }
    const ra = spawn(process.execPath, [cli, 'ra', '--netns', router.name, '--interface', 'r0', '--prefix', 'fd00:5::/64', '--rdnss', 'fd00:5::53', '--managed', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] })
    deferCleanup('lab-ndp ra', () => ra.kill('SIGKILL'))
    let out = ''
    let err = ''
    ra.stdout.on('data', (c: Buffer) => (out += c.toString()))
    ra.stderr.on('data', (c: Buffer) => (err += c.toString()))
    const exited = new Promise<number | null>((resolve) => ra.once('exit', (code) => resolve(code)))
    await until('the first RA', () => out, (o) => o.includes('"unsolicited"'))
    await until('the default route', () => client.exec(['ip', '-6', 'route', 'show', 'default']), (r) => r.stdout.includes('via fe80'))

    const solicit = await run(['node', cli, 'solicit', '--netns', client.name, '--interface', 'c0', '--json'])
    const answer = JSON.parse(solicit.stdout)
    expect(answer).toMatchObject({ type: 'router-advertisement', managed: true, other: false, routerLifetime: 1800 })
    expect(answer.options).toContainEqual({ type: 'prefix-information', prefix: 'fd00:5::', prefixLength: 64, onLink: true, autonomous: true, validLifetime: 2592000, preferredLifetime: 604800 })
    expect(answer.options).toContainEqual({ type: 'rdnss', lifetime: 1800, servers: ['fd00:5::53'] })

    ra.kill('SIGTERM')
    expect(await exited, err).toBe(0)
    const events = out.trim().split('\n').map((l) => JSON.parse(l) as { kind: string; advertisement: { routerLifetime: number } })
    expect(events.at(-1)).toMatchObject({ kind: 'final', advertisement: { routerLifetime: 0 } })
    await until('the default route to go', () => client.exec(['ip', '-6', 'route', 'show', 'default']), (r) => r.stdout.trim() === '')
  })

  it('decodes hex, and reports usage errors with exit 2 and one line', async () => {
    const ok = await run(['node', cli, 'decode', '85000000000000000101020000000002'])
    expect(ok.stdout.trim()).toBe('router solicitation; source link-address 02:00:00:00:00:02')
    const bad = await run(['node', cli, 'decode', '--json', '8500000000000000010002'], { allowFailure: true })
    expect(bad.code).toBe(1)
    expect(JSON.parse(bad.stdout)).toMatchObject({ error: 'bad-option-length', offset: 8 })
    const usage = await run(['node', cli, 'ra', '--interface', 'r0', '--prefix', '10.0.0.0/8'], { allowFailure: true })
    expect(usage.code).toBe(2)
    expect(usage.stderr.trim()).toBe('lab-ndp: --prefix: expected an IPv6 prefix like fd00:1::/64, got "10.0.0.0/8" (see lab-ndp --help)')
    const missing = await run(['node', cli, 'solicit'], { allowFailure: true })
    expect(missing.code).toBe(2)
    expect(missing.stderr.trim().split('\n')).toHaveLength(1)
    const bare = await run(['node', cli], { allowFailure: true })
    expect(bare.code).toBe(2)
    expect(bare.stderr.trimEnd().split('\n').at(-1)).toMatch(/^ {2}lab-ndp ra --interface br0/)
  })
})
