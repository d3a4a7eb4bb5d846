import { rmSync } from 'node:fs'
import { afterAll, describe, expect, it } from 'vitest'
import { Daemon, TestNetns, cleanupAll, hasCommand, isRoot, vethPair } from '@lab/testkit'
import { Netlink, PacketSocket } from '@lab/netlink-native'
import { DhcpMessage } from '../src/index.js'

/** The DHCP payload of an Ethernet/IPv4/UDP frame to port 67, or undefined. */
function dhcpPayload(frame: Buffer): Buffer | undefined {
  if (frame.readUInt16BE(12) !== 0x0800 || frame[23] !== 17) return undefined
  const ihl = (frame[14]! & 0x0f) * 4
  const udp = 14 + ihl
  if (frame.readUInt16BE(udp + 2) !== 67) return undefined
  return frame.subarray(udp + 8, udp + frame.readUInt16BE(udp + 4))
}

async function captureDiscover(argv: (ifname: string) => string[]): Promise<{ message: DhcpMessage; raw: Buffer; mac: string }> {
  const client = await TestNetns.create('dhc')
  const server = await TestNetns.create('dhs')
  await vethPair({ netns: client, ifname: 'c0' }, { netns: server, ifname: 's0' })
  const nl = await Netlink.open({ netns: client.name })
  const mac = (await nl.link.get('c0')).address!
  nl.close()
  const sniffer = await PacketSocket.open({ netns: server.name, interface: 's0', protocol: 'ipv4' })
  const got = new Promise<Buffer>((resolve) =>
    sniffer.on('message', (f) => {
      const payload = dhcpPayload(f.data)
      if (payload) resolve(Buffer.from(payload))
    }),
  )
  const daemon = await Daemon.start({ name: argv('c0')[0]!, netns: client.name, argv: argv('c0') })
  const raw = await got
  await daemon.stop()
  sniffer.close()
  return { message: DhcpMessage.decode(raw), raw, mac }
}

describe.skipIf(!isRoot())('DISCOVERs from real clients decode (needs root)', () => {
  afterAll(() => {
    cleanupAll()
    for (const f of ['pid', 'leases']) rmSync(`/tmp/lab-dhclient-${process.pid}.${f}`, { force: true })
  })

  it.skipIf(!hasCommand('udhcpc'))('udhcpc', async () => {
    const { message, mac } = await captureDiscover((i) => ['udhcpc', '-f', '-i', i, '-t', '5', '-T', '1', '-s', '/bin/true', '-x', 'hostname:vm-a', '-V', 'lab-vendor'])
    expect(message.messageType).toBe('DISCOVER')
    expect(message.op).toBe(1)
    expect(message.chaddr).toBe(mac)
    expect(message.get(55)).toEqual(expect.arrayContaining([1, 3, 6]))
    expect(message.get(12)).toBe('vm-a')
    expect(message.get(60)).toBe('lab-vendor')
    expect(plain(DhcpMessage.decode(message.encode()))).toEqual(plain(message))
  })

  it.skipIf(!hasCommand('dhclient'))('dhclient', async () => {
    const { message, mac } = await captureDiscover((i) => ['dhclient', '-d', '-v', '-1', '-sf', '/bin/true', '-pf', `/tmp/lab-dhclient-${process.pid}.pid`, '-lf', `/tmp/lab-dhclient-${process.pid}.leases`, i])
    expect(message.messageType).toBe('DISCOVER')
    expect(message.chaddr).toBe(mac)
    expect(message.get(55)).toEqual(expect.arrayContaining([1, 3, 6, 15]))
    expect(plain(DhcpMessage.decode(message.encode()))).toEqual(plain(message))
  })
})

const plain = (m: DhcpMessage) => ({ ...m, options: [...m.options] })
