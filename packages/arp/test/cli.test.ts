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
    const s = PacketSocket.open({ netns: b.name, interface: 'b0', protocol: 'arp' })
    s.on('message', (f) => frames.push(decodeArp(f.data)))
    const ok = await run(['node', cli, 'announce', '--netns', a.name, '--interface', 'a0', '--address', '10.9.0.1', '--address', '10.9.0.2', '--count', '2', '--interval', '10', '--form', 'arping'], { allowFailure: true })
    expect(ok.code, ok.stderr).toBe(0)
    await new Promise((r) => setTimeout(r, 100))
    expect(frames.map((f) => f.senderIp)).toEqual(['10.9.0.1', '10.9.0.1', '10.9.0.2', '10.9.0.2'])
    expect(frames.every((f) => f.targetMac === 'ff:ff:ff:ff:ff:ff')).toBe(true)
    s.close()
    const usage = await run(['node', cli, 'announce', '--interface', 'a0'], { allowFailure: true })
    expect(usage.code).toBe(2)
    expect(usage.stderr).toMatch(/announce needs --interface and --address/)
  })
})
