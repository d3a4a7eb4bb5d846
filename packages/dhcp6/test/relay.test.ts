// Relayed requests (RFC 8415 19): a relay in a namespace of its own sends Relay-Forward messages
// to the server's address; malformed packets are counted and dropped; kill -9 of the CLI server
// in the middle of a relayed burst loses no binding it acknowledged, with either durability.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { Daemon, cleanupAll, isRoot } from '@lab/testkit'
import { UdpSocket } from '@lab/netlink-native'
import { readBindingFile, Dhcp6Message, Dhcp6Options, Dhcp6RelayMessage, DhcpV6Server, decodeMessage, type Lease6 } from '../src/index.js'
import { pair, until } from './helpers.js'

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url))

afterAll(() => cleanupAll())

/** A Relay-Forward from link fd00:2::1 carrying a client message of client `n`. */
function relayed(n: number, inner: Dhcp6Message): Buffer {
  return new Dhcp6RelayMessage({ type: 'RELAY-FORW', hopCount: 0, linkAddress: 'fd00:2::1', peerAddress: `fe80::${(n + 1).toString(16)}`, options: new Dhcp6Options().add(18, Buffer.from(`port${n}`)).add(9, inner) }).encode()
}

function rapidSolicit(n: number): Dhcp6Message {
  const mac = `02:00:00:00:${((n >> 8) & 0xff).toString(16).padStart(2, '0')}:${(n & 0xff).toString(16).padStart(2, '0')}`
  return new Dhcp6Message('SOLICIT', n + 1, new Dhcp6Options().add(1, { type: 'll', hardwareType: 1, linkLayerAddress: mac }).add(14, true).add(8, 0).add(3, { iaid: 1, t1: 0, t2: 0, options: new Dhcp6Options() }))
}

/** The Reply inside a Relay-Reply: its interface-id, transaction id and the address bound. */
function unwrap(data: Buffer): { interfaceId: string; transactionId: number; address?: string; duid: string } {
  const r = decodeMessage(data) as Dhcp6RelayMessage
  const m = r.message as Dhcp6Message
  const address = m.options.get(3)?.options.get(5)?.address
  const duid = m.options.get(1)
  return { interfaceId: r.options.get(18)!.toString(), transactionId: m.transactionId, ...(address ? { address } : {}), duid: duid?.type === 'll' ? duid.linkLayerAddress : '' }
}

describe.skipIf(!isRoot())('relayed requests (needs root)', () => {
  it('answers a Relay-Forward through a Relay-Reply (link-address picks the prefix, interface-id comes back); counts and drops malformed packets', async () => {
    const t = await pair('d6rel', 'fd00:9::1/64')
    await t.client.exec(['ip', 'addr', 'add', 'fd00:9::2/64', 'dev', 'c0', 'nodad'])
    const server = await DhcpV6Server.start({ netns: t.server.name, interface: 's0', subnets: [{ prefix: 'fd00:9::/64', range: ['fd00:9::10', 'fd00:9::20'] }, { prefix: 'fd00:2::/64', range: ['fd00:2::100', 'fd00:2::1ff'], dns: ['fd00:2::53'] }] })
    const relay = await UdpSocket.open({ netns: t.client.name, address: '::', port: 547, interface: 'c0' })
    try {
      const replies: Buffer[] = []
      relay.on('message', (d) => replies.push(d.data))
      for (const junk of ['', '00', '0c00', '01000001000100', '0c' + '00'.repeat(33) + '00090010']) await relay.send({ data: Buffer.from(junk, 'hex'), address: 'fd00:9::1', port: 547 })
      await relay.send({ data: relayed(7, rapidSolicit(7)), address: 'fd00:9::1', port: 547 })
      await until('the relay reply', () => replies.length >= 1)
      const reply = decodeMessage(replies[0]!) as Dhcp6RelayMessage
      expect(reply).toMatchObject({ type: 'RELAY-REPL', linkAddress: 'fd00:2::1', peerAddress: 'fe80::8' })
      expect(reply.options.get(18)).toEqual(Buffer.from('port7'))
      const inner = reply.message as Dhcp6Message
      expect(inner.type).toBe('REPLY')
      expect(inner.options.get(14)).toBe(true)
      expect(inner.options.get(3)!.options.get(5)!.address).toBe('fd00:2::100')
      expect(inner.options.get(23)).toEqual(['fd00:2::53'])
      expect(server.counters()).toMatchObject({ received: 6, malformed: 5, relayed: 1, replies: 1 })
    } finally {
      relay.close()
      await server.stop()
    }
  })

  it("counts the status codes it answers with (DHCPv6's NAKs): NoAddrsAvail, NoBinding, NotOnLink, in counters() and the metrics", async () => {
    const t = await pair('d6sta', 'fd00:9::1/64')
    await t.client.exec(['ip', 'addr', 'add', 'fd00:9::2/64', 'dev', 'c0', 'nodad'])
    // One address: the second client finds none.
    const server = await DhcpV6Server.start({ netns: t.server.name, interface: 's0', subnets: [{ prefix: 'fd00:2::/64', range: ['fd00:2::100', 'fd00:2::100'] }] })
    const relay = await UdpSocket.open({ netns: t.client.name, address: '::', port: 547, interface: 'c0' })
    try {
      const replies: Buffer[] = []
      relay.on('message', (d) => replies.push(d.data))
      const ask = async (n: number, m: Dhcp6Message) => {
        const before = replies.length
        await relay.send({ data: relayed(n, m), address: 'fd00:9::1', port: 547 })
        await until(`the reply to ${m.type}`, () => replies.length > before)
      }
      await ask(1, rapidSolicit(1))
      await ask(2, rapidSolicit(2))
      const client = (n: number) => ({ type: 'll' as const, hardwareType: 1, linkLayerAddress: `02:00:00:00:00:0${n}` })
      const ia = (address: string) => ({ iaid: 1, t1: 0, t2: 0, options: new Dhcp6Options().add(5, { address, preferredLifetime: 0, validLifetime: 0, options: new Dhcp6Options() }) })
      // A Renew for a binding this server never made; a Confirm for an address off the link.
      await ask(3, new Dhcp6Message('RENEW', 3, new Dhcp6Options().add(1, client(3)).add(2, server.serverId).add(3, { iaid: 1, t1: 0, t2: 0, options: new Dhcp6Options() })))
      await ask(4, new Dhcp6Message('CONFIRM', 4, new Dhcp6Options().add(1, client(4)).add(3, ia('fd00:77::1'))))
      expect(server.counters().statusCodes).toEqual({ NoAddrsAvail: 1, NoBinding: 1, NotOnLink: 1 })
      const metric = await server.metrics().getSingleMetric('lab_dhcp6_status_codes_sent_total')!.get()
      expect(Object.fromEntries(metric.values.map((v) => [v.labels.status, v.value]))).toEqual({ NoAddrsAvail: 1, NoBinding: 1, NotOnLink: 1 })
    } finally {
      relay.close()
      await server.stop()
    }
  })

  it.skipIf(!existsSync(cli)).each(['commit', 'none'])('kill -9 of lab-dhcp6 --durability %s during a relayed burst loses no acknowledged binding', async (durability) => {
    const t = await pair(`d6k9${durability[0]}`, 'fd00:9::1/64')
    await t.client.exec(['ip', 'addr', 'add', 'fd00:9::2/64', 'dev', 'c0', 'nodad'])
    const leaseFile = join(t.dir, 'leases6')
    const d = await Daemon.start({
      name: 'lab-dhcp6',
      argv: ['node', cli, 'server', '--netns', t.server.name, '--interface', 's0', '--prefix', 'fd00:2::/64', '--range', 'fd00:2::1000-fd00:2::ffff', '--lease-file', leaseFile, '--durability', durability],
      ready: /"msg":"serving"/,
    })
    const relay = await UdpSocket.open({ netns: t.client.name, address: '::', port: 547, interface: 'c0' })
    const acked = new Map<string, string>()
    relay.on('message', (m) => {
      const r = unwrap(m.data)
      if (r.address) acked.set(r.duid, r.address)
    })
    try {
      // Bursts of 200 until some bindings are acknowledged, and then some more in flight.
      let n = 0
      // Bounded: at most 150 bursts (30 000 clients), stopping once 200 are acknowledged.
      for (let round = 0; round < 150 && acked.size < 200; round++) {
        await relay.sendBatch(Array.from({ length: 200 }, () => ({ data: relayed(n, rapidSolicit(n++)), address: 'fd00:9::1', port: 547 })))
        await new Promise((r) => setTimeout(r, 50))
      }
      await relay.sendBatch(Array.from({ length: 200 }, () => ({ data: relayed(n, rapidSolicit(n++)), address: 'fd00:9::1', port: 547 })))
      d.child.kill('SIGKILL')
      await until('the server to die', () => !d.running || undefined)
      const snapshot = new Map(acked)
      expect(snapshot.size).toBeGreaterThan(0)
      const { leases } = readBindingFile<Lease6>(leaseFile)
      const onDisk = new Map(leases.filter((l) => l.state === 'bound').map((l) => [l.address, l]))
      const lost = [...snapshot].filter(([, address]) => !onDisk.has(address))
      expect(lost).toEqual([])
    } finally {
      relay.close()
      await d.stop()
    }
  })
})
