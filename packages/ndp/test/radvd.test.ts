// radvd as the peer: its Router Advertisements, captured on the client side, decode with our
// codec and re-encode byte for byte (IPv6 header and checksum included).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { PacketSocket } from '@lab/netlink-native'
import { Daemon, TestNetns, cleanupAll, deferCleanup, hasCommand, isRoot, vethPair } from '@lab/testkit'
import { decodeIcmpv6Packet, decodeNdMessage, encodeIcmpv6Packet, encodeNdMessage, ND_ROUTER_ADVERT, type RouterAdvertisement } from '../src/index.js'

describe.skipIf(!isRoot() || !hasCommand('radvd'))('radvd interoperability (needs root and radvd)', () => {
  afterAll(() => cleanupAll())

  it("decodes radvd's RA and re-encodes it unchanged", async () => {
    const router = await TestNetns.create('radvd-r')
    const client = await TestNetns.create('radvd-c')
    await vethPair({ netns: router, ifname: 'r0' }, { netns: client, ifname: 'c0' })
    const dir = mkdtempSync(join(tmpdir(), 'ndp-radvd-'))
    deferCleanup(`rm ${dir}`, () => rmSync(dir, { recursive: true, force: true }))
    writeFileSync(
      join(dir, 'radvd.conf'),
      `interface r0 {
  AdvSendAdvert on;
  MinRtrAdvInterval 3;
  MaxRtrAdvInterval 4;
  AdvManagedFlag on;
  AdvLinkMTU 1450;
  AdvDefaultPreference low;
  AdvReachableTime 30000;
  AdvRetransTimer 1000;
  AdvCurHopLimit 32;
  prefix fd00:7::/64 { AdvOnLink on; AdvAutonomous off; AdvValidLifetime 7200; AdvPreferredLifetime 3600; };
  prefix fd00:8::/64 { AdvValidLifetime infinity; AdvPreferredLifetime infinity; };
  route fd00:70::/56 { AdvRoutePreference high; AdvRouteLifetime 900; };
  route ::/0 { AdvRouteLifetime 600; };
  RDNSS fd00:7::53 { AdvRDNSSLifetime 60; };
  DNSSL a.lab b.lab.example { AdvDNSSLLifetime 60; };
};
`,
    )
    const frames: Buffer[] = []
    await using capture = await PacketSocket.open({ netns: client.name, interface: 'c0', protocol: 'ipv6', type: 'dgram' })
    capture.on('message', (f) => {
      if (f.data[6] === 58 && f.data[40] === ND_ROUTER_ADVERT) frames.push(f.data)
    })
    // A private config, pid file and log to stderr: nothing of the host's radvd setup is touched.
    const radvd = await Daemon.start({ name: 'radvd', netns: router.name, argv: ['radvd', '-n', '-m', 'stderr', '-d', '1', '-C', join(dir, 'radvd.conf'), '-p', join(dir, 'radvd.pid')] })
    try {
      const deadline = Date.now() + 15_000
      while (frames.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100))
      expect(frames.length, radvd.log).toBeGreaterThan(0)
    } finally {
      await radvd.stop()
    }
    const packet = decodeIcmpv6Packet(frames[0]!)
    expect(packet.hopLimit).toBe(255)
    const ra = decodeNdMessage(packet.icmp) as RouterAdvertisement
    expect(ra).toMatchObject({ type: 'router-advertisement', curHopLimit: 32, managed: true, other: false, preference: 'low', reachableTime: 30000, retransTimer: 1000 })
    expect(ra.options.filter((o) => o.type !== 'source-link-layer-address')).toEqual([
      { type: 'prefix-information', prefix: 'fd00:7::', prefixLength: 64, onLink: true, autonomous: false, validLifetime: 7200, preferredLifetime: 3600 },
      { type: 'prefix-information', prefix: 'fd00:8::', prefixLength: 64, onLink: true, autonomous: true, validLifetime: 0xffffffff, preferredLifetime: 0xffffffff },
      { type: 'route-information', prefix: 'fd00:70::', prefixLength: 56, preference: 'high', lifetime: 900, length: 3 },
      { type: 'route-information', prefix: '::', prefixLength: 0, preference: 'medium', lifetime: 600, length: 3 },
      { type: 'rdnss', lifetime: 60, servers: ['fd00:7::53'] },
      { type: 'dnssl', lifetime: 60, domains: ['a.lab', 'b.lab.example'] },
      { type: 'mtu', mtu: 1450 },
    ])
    for (const frame of frames) {
      const p = decodeIcmpv6Packet(frame)
      const again = encodeIcmpv6Packet({ ...p, icmp: encodeNdMessage(decodeNdMessage(p.icmp)) })
      expect(again.toString('hex')).toBe(frame.subarray(0, again.length).toString('hex'))
    }
  })
})
