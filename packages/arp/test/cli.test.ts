import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { TestNetns, cleanupAll, isRoot, run, vethPair } from '@lab/testkit'
import { PacketSocket } from '@lab/netlink-native'
import { decodeArp, type ArpPacket } from '../src/index.js'

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url))

describe.skipIf(!isRoot() || !existsSync(cli))('lab-arp CLI (needs root and a build)', () => {
  afterAll(() => cleanupAll())

  it('announces addresses in the chosen form and counts, and reports usage errors with exit 2', async () => {
    const a = await TestNetns.create('arpcli-a')
    const b = await TestNetns.create('arpcli-b')
    await vethPair({ netns: a, ifname: 'a0' }, { netns: b, ifname: 'b0' })
    const frames: ArpPacket[] = []
    const s = await PacketSocket.open({ netns: b.name, interface: 'b0', protocol: 'arp' })
    s.on('message', (f) => frames.push(decodeArp(f.data)))
    const ok = await run(['node', cli, 'announce', '--netns', a.name, '--interface', 'a0', '--address', '10.9.0.1', '--address', '10.9.0.2', '--count', '2', '--interval', '10', '--form', 'arping'], { allowFailure: true })
    expect(ok.code, ok.stderr).toBe(0)
    await new Promise((r) => setTimeout(r, 100))
    expect(frames.map((f) => f.senderIp)).toEqual(['10.9.0.1', '10.9.0.1', '10.9.0.2', '10.9.0.2'])
    expect(frames.every((f) => f.targetMac === 'ff:ff:ff:ff:ff:ff')).toBe(true)
    await s.close()
    const usage = await run(['node', cli, 'announce', '--interface', 'a0'], { allowFailure: true })
    expect(usage.code).toBe(2)
    expect(usage.stderr.trim()).toBe('lab-arp: --address is required (see lab-arp --help)')
    // A bad number is a usage error before anything is sent (it used to send nothing and exit 0).
    frames.length = 0
    const badCount = await run(['node', cli, 'announce', '--netns', a.name, '--interface', 'a0', '--address', '10.9.0.1', '--count', 'x'], { allowFailure: true })
    expect(badCount.code).toBe(2)
    expect(badCount.stderr).toMatch(/--count: expected a whole number, got "x"/)
    const badAddress = await run(['node', cli, 'announce', '--netns', a.name, '--interface', 'a0', '--address', '010.9.0.1'], { allowFailure: true })
    expect(badAddress.code).toBe(2)
    expect(badAddress.stderr.trim().split('\n')).toHaveLength(1)
    await new Promise((r) => setTimeout(r, 100))
    expect(frames).toEqual([])
    // No command: the help goes to stderr, ending in an example, and the exit code is 2.
    const bare = await run(['node', cli], { allowFailure: true })
    expect(bare.code).toBe(2)
    expect(bare.stdout).toBe('')
    expect(bare.stderr.trimEnd().split('\n').at(-1)).toMatch(/^  lab-arp announce --interface eth0/)
    const help = await run(['node', cli, 'probe', '--help'])
    expect(help.stdout).toMatch(/--address IP/)
  })
})
