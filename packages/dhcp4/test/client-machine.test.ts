import { describe, expect, it } from 'vitest'
import { ClientMachine, DhcpMessage, LeaseDatabase, Subnet, respond, type ClientLease, type LeaseChangeReason, type MachineOptions } from '../src/index.js'
import { FakeClock } from '@lab/clock'

const MAC = '02:00:00:00:00:0a'
const SERVER = '10.1.0.1'

interface Sent {
  how: 'broadcast' | 'unicast'
  m: DhcpMessage
  at: number
}

function setup(options: Partial<MachineOptions> = {}) {
  const clock = new FakeClock(1_000_000)
  const sent: Sent[] = []
  const changes: Array<{ old?: ClientLease; next?: ClientLease; reason: LeaseChangeReason }> = []
  const machine = new ClientMachine(
    {
      interface: 'eth0',
      mac: MAC,
      clientId: Buffer.from('01020000000000' + '0a', 'hex'),
      hostname: 'vm1',
      vendorClass: 'lab-test',
      clock,
      random: () => 0.5, // no jitter: backoff is exactly 4, 8, 16... s
      onLease: (old, next, reason) => void changes.push({ ...(old ? { old } : {}), ...(next ? { next } : {}), reason }),
      ...options,
    },
    {
      broadcast: (m) => void sent.push({ how: 'broadcast', m, at: clock.now() }),
      unicast: (m) => void sent.push({ how: 'unicast', m, at: clock.now() }),
    },
  )
  const last = () => sent[sent.length - 1]!
  return { clock, sent, changes, machine, last }
}

/** A server's reply to `request`, built by hand. */
function reply(request: DhcpMessage, type: 'OFFER' | 'ACK' | 'NAK', fields: { yiaddr?: string; server?: string; lease?: number; options?: Array<[number, unknown]> } = {}): DhcpMessage {
  const m = new DhcpMessage({ op: 2, xid: request.xid, chaddr: request.chaddr, yiaddr: type === 'NAK' ? '0.0.0.0' : (fields.yiaddr ?? '10.1.0.10') })
  m.set(53, type)
  m.set(54, fields.server ?? SERVER)
  if (type !== 'NAK') {
    m.set(51, fields.lease ?? 3600)
    m.set(1, '255.255.255.0')
    m.set(3, [SERVER])
    m.set(6, ['10.1.0.53'])
    for (const [code, value] of fields.options ?? []) m.options.set(code, value as never)
  }
  return m
}

async function bind(t: ReturnType<typeof setup>, ackOptions: Parameters<typeof reply>[2] = {}): Promise<void> {
  t.machine.start()
  t.machine.receive(reply(t.last().m, 'OFFER', ackOptions))
  t.machine.receive(reply(t.last().m, 'ACK', ackOptions))
  await t.clock.settle()
  expect(t.machine.state).toBe('bound')
}

describe('ClientMachine (RFC 2131 4.4, fake clock)', () => {
  it('broadcasts DISCOVER with the asked-for options and retransmits at 4, 8, 16, 32, 64, 64 s', async () => {
    const t = setup()
    t.machine.start()
    expect(t.machine.state).toBe('selecting')
    const d = t.sent[0]!.m
    expect(t.sent[0]!.how).toBe('broadcast')
    expect(d.messageType).toBe('DISCOVER')
    expect(d.get(55)).toEqual(expect.arrayContaining([1, 3, 6, 15, 26, 28, 42, 119, 121]))
    expect(d.get(60)).toBe('lab-test')
    expect(d.get(12)).toBe('vm1')
    expect(d.get(61)).toEqual(Buffer.from('010200000000000a', 'hex'))
    await t.clock.advance(4000 + 8000 + 16000 + 32000 + 64000 + 64000)
    expect(t.sent.map((s) => (s.at - t.sent[0]!.at) / 1000)).toEqual([0, 4, 12, 28, 60, 124, 188])
    // One exchange: one xid, secs counting up.
    expect(new Set(t.sent.map((s) => s.m.xid)).size).toBe(1)
    expect(t.last().m.secs).toBe(188)
  })

  it('jitters each wait by up to ±1 s', async () => {
    let i = 0
    const draws = [0.3, 0, 1, 0.999]
    const t = setup({ random: () => draws[i++ % draws.length]! })
    t.machine.start() // xid takes the 1st draw
    const waits = t.clock.pendingDelays()
    expect(waits).toEqual([4000 - 1000]) // draw 0 → -1 s
    await t.clock.advance(3000)
    expect(t.clock.pendingDelays()).toEqual([8000 + 1000]) // draw 1 → +1 s
  })

  it('selects the offer, requests it from that server, and reports the acquired lease (121 wins over 3)', async () => {
    const t = setup()
    t.machine.start()
    const routes = [
      { destination: '10.9.0.0', prefixLength: 16, router: '10.1.0.254' },
      { destination: '0.0.0.0', prefixLength: 0, router: '10.1.0.2' },
    ]
    t.machine.receive(reply(t.last().m, 'OFFER'))
    expect(t.machine.state).toBe('requesting')
    const r = t.last().m
    expect([r.messageType, r.get(50), r.get(54), r.ciaddr, t.last().how]).toEqual(['REQUEST', '10.1.0.10', SERVER, '0.0.0.0', 'broadcast'])
    t.machine.receive(reply(r, 'ACK', { options: [[121, routes], [15, 'lab.test'], [26, 1400]] }))
    await t.clock.settle()
    expect(t.machine.state).toBe('bound')
    expect(t.changes).toHaveLength(1)
    const { next, reason } = t.changes[0]!
    expect(reason).toBe('acquire')
    expect(next).toMatchObject({ interface: 'eth0', address: '10.1.0.10', prefixLength: 24, router: SERVER, routes, dns: ['10.1.0.53'], domain: 'lab.test', mtu: 1400, serverId: SERVER, leaseTime: 3600, renewalTime: 1800, rebindingTime: 3150 })
  })

  it('ignores replies to other exchanges or other hardware addresses, and offers without a server id', async () => {
    const t = setup()
    t.machine.start()
    const d = t.last().m
    const wrongXid = reply(d, 'OFFER')
    wrongXid.xid = d.xid + 1
    t.machine.receive(wrongXid)
    const wrongMac = new DhcpMessage({ op: 2, xid: d.xid, chaddr: '02:00:00:00:00:0b', yiaddr: '10.1.0.11' }).set(53, 'OFFER').set(54, SERVER)
    t.machine.receive(wrongMac)
    const noServer = reply(d, 'OFFER')
    noServer.options.delete(54)
    t.machine.receive(noServer)
    t.machine.receive(reply(d, 'ACK')) // an ACK while selecting
    await t.clock.settle()
    expect(t.machine.state).toBe('selecting')
    expect(t.sent).toHaveLength(1)
  })

  it('collects offers for the window and takes the preferred server', async () => {
    const t = setup({ offerWindowMs: 1000, preferServer: '10.1.0.3' })
    t.machine.start()
    const d = t.last().m
    t.machine.receive(reply(d, 'OFFER', { server: '10.1.0.2', yiaddr: '10.1.0.20' }))
    expect(t.machine.state).toBe('selecting')
    t.machine.receive(reply(d, 'OFFER', { server: '10.1.0.3', yiaddr: '10.1.0.30' }))
    expect(t.machine.state).toBe('requesting')
    expect([t.last().m.get(54), t.last().m.get(50)]).toEqual(['10.1.0.3', '10.1.0.30'])
  })

  it('without the preferred server, takes the first offer when the window closes', async () => {
    const t = setup({ offerWindowMs: 1000, preferServer: '10.1.0.9' })
    t.machine.start()
    const d = t.last().m
    t.machine.receive(reply(d, 'OFFER', { server: '10.1.0.2', yiaddr: '10.1.0.20' }))
    t.machine.receive(reply(d, 'OFFER', { server: '10.1.0.3', yiaddr: '10.1.0.30' }))
    await t.clock.advance(999)
    expect(t.machine.state).toBe('selecting')
    await t.clock.advance(1)
    expect([t.machine.state, t.last().m.get(54)]).toEqual(['requesting', '10.1.0.2'])
  })

  it('starts over when REQUEST goes unanswered', async () => {
    const t = setup({ requestRetries: 2 })
    t.machine.start()
    t.machine.receive(reply(t.last().m, 'OFFER'))
    await t.clock.advance(4000 + 8000)
    expect(t.sent.filter((s) => s.m.messageType === 'REQUEST')).toHaveLength(3)
    await t.clock.advance(16000)
    expect(t.machine.state).toBe('selecting')
    expect(t.last().m.messageType).toBe('DISCOVER')
  })

  it('renews at T1 by unicast, rebinds at T2 by broadcast, and drops the lease at expiry', async () => {
    const t = setup()
    await bind(t, { lease: 1000 })
    const bound = t.clock.now()
    await t.clock.advance(500_000 - 1)
    expect(t.machine.state).toBe('bound')
    await t.clock.advance(1)
    expect(t.machine.state).toBe('renewing')
    const renew = t.last()
    expect([renew.how, renew.m.messageType, renew.m.ciaddr, renew.m.get(50), renew.m.get(54)]).toEqual(['unicast', 'REQUEST', '10.1.0.10', undefined, undefined])
    // Retransmits at half the time left to T2 (375 s → 187.5 s), but at least 60 s.
    await t.clock.advance(875_000 - 500_000)
    expect(t.machine.state).toBe('rebinding')
    const renewals = t.sent.filter((s) => s.how === 'unicast').map((s) => (s.at - bound) / 1000)
    expect(renewals).toEqual([500, 687.5, 781.25, 841.25])
    const rebind = t.last()
    expect([rebind.how, rebind.m.ciaddr, rebind.m.get(54)]).toEqual(['broadcast', '10.1.0.10', undefined])
    await t.clock.advance(125_000)
    expect(t.changes.map((c) => c.reason)).toEqual(['acquire', 'expire'])
    expect(t.changes[1]!.old!.address).toBe('10.1.0.10')
    expect(t.machine.state).toBe('selecting')
    expect(t.machine.lease).toBeUndefined()
    expect(t.last().m.messageType).toBe('DISCOVER')
  })

  it('a renewal ACK with the same configuration only restarts the timers; a changed one is reported', async () => {
    const t = setup()
    const events: string[] = []
    t.machine.on('lease', (e) => events.push(e.reason))
    await bind(t, { lease: 100 })
    await t.clock.advance(50_000)
    t.machine.receive(reply(t.last().m, 'ACK', { lease: 100 }))
    await t.clock.settle()
    expect(t.machine.state).toBe('bound')
    expect(t.changes.map((c) => c.reason)).toEqual(['acquire'])
    expect(events).toEqual(['acquire', 'renew'])
    expect(t.machine.lease!.acquiredAt).toBe(t.clock.now())
    // T1 counts from the renewal now.
    expect(t.clock.pendingDelays()[0]).toBe(50_000)
    await t.clock.advance(50_000)
    t.machine.receive(reply(t.last().m, 'ACK', { lease: 100, options: [[6, ['10.1.0.54']]] }))
    await t.clock.settle()
    expect(t.changes.map((c) => c.reason)).toEqual(['acquire', 'renew'])
    expect(t.changes[1]!.next!.dns).toEqual(['10.1.0.54'])
  })

  it('a NAK while renewing drops the lease and starts over', async () => {
    const t = setup()
    await bind(t, { lease: 100 })
    await t.clock.advance(50_000)
    t.machine.receive(reply(t.last().m, 'NAK'))
    await t.clock.settle()
    expect(t.changes.map((c) => c.reason)).toEqual(['acquire', 'nak'])
    expect(t.machine.state).toBe('selecting')
    expect(t.last().m.messageType).toBe('DISCOVER')
  })

  it('declines an address the conflict check finds in use, waits, then starts over', async () => {
    const checked: string[] = []
    const t = setup({ conflict: async (a) => (checked.push(a), a === '10.1.0.10'), declineWaitMs: 10_000 })
    const declined: string[] = []
    t.machine.on('declined', (a) => declined.push(a))
    t.machine.start()
    t.machine.receive(reply(t.last().m, 'OFFER'))
    t.machine.receive(reply(t.last().m, 'ACK'))
    await t.clock.settle()
    const decline = t.last().m
    expect([decline.messageType, decline.get(50), decline.get(54), decline.ciaddr]).toEqual(['DECLINE', '10.1.0.10', SERVER, '0.0.0.0'])
    expect(declined).toEqual(['10.1.0.10'])
    expect(t.changes).toEqual([])
    await t.clock.advance(9_999)
    expect(t.last().m.messageType).toBe('DECLINE')
    await t.clock.advance(1)
    t.machine.receive(reply(t.last().m, 'OFFER', { yiaddr: '10.1.0.11' }))
    t.machine.receive(reply(t.last().m, 'ACK', { yiaddr: '10.1.0.11' }))
    await t.clock.settle()
    expect(checked).toEqual(['10.1.0.10', '10.1.0.11'])
    expect(t.machine.lease!.address).toBe('10.1.0.11')
  })

  it('releases by unicast to the server with ciaddr set, and reports the release', async () => {
    const t = setup()
    await bind(t)
    await t.machine.release()
    const r = t.last()
    expect([r.how, r.m.messageType, r.m.ciaddr, r.m.get(54)]).toEqual(['unicast', 'RELEASE', '10.1.0.10', SERVER])
    expect(t.changes.map((c) => c.reason)).toEqual(['acquire', 'release'])
    expect(t.machine.state).toBe('stopped')
    expect(t.clock.pendingDelays()).toEqual([])
  })

  it('INIT-REBOOT: asks for the previous lease without a server id, falls back to INIT when nobody answers', async () => {
    const first = setup()
    await bind(first)
    const previous = first.machine.lease!
    const t = setup({ requestRetries: 1 })
    t.clock.advance(1000)
    t.machine.start(previous)
    expect(t.machine.state).toBe('rebooting')
    const r = t.last().m
    expect([r.messageType, r.get(50), r.get(54), r.ciaddr]).toEqual(['REQUEST', '10.1.0.10', undefined, '0.0.0.0'])
    await t.clock.advance(4000 + 8000)
    expect(t.machine.state).toBe('selecting')
    expect(t.last().m.messageType).toBe('DISCOVER')
  })

  it('INIT-REBOOT: an ACK binds again; an expired lease goes straight to INIT', async () => {
    const first = setup()
    await bind(first)
    const previous = first.machine.lease!
    const t = setup()
    t.machine.start(previous)
    t.machine.receive(reply(t.last().m, 'ACK'))
    await t.clock.settle()
    expect(t.machine.state).toBe('bound')
    expect(t.changes.map((c) => c.reason)).toEqual(['acquire'])
    const late = setup()
    await late.clock.advance(3600_000)
    late.machine.start(previous)
    expect(late.machine.state).toBe('selecting')
  })

  it('INIT-REBOOT: a NAK undoes the previous lease (it may still be configured) and starts over', async () => {
    const first = setup()
    await bind(first)
    const previous = first.machine.lease!
    const t = setup()
    t.machine.start(previous)
    t.machine.receive(reply(t.last().m, 'NAK'))
    await t.clock.settle()
    expect(t.changes).toEqual([{ old: previous, reason: 'nak' }])
    expect(t.machine.state).toBe('selecting')
  })

  it('gets and keeps a lease from our own responder through DORA and renewals', async () => {
    const clock = new FakeClock(1_000_000)
    const subnet = new Subnet({ subnet: '10.1.0.0/24', range: ['10.1.0.10', '10.1.0.20'], router: '10.1.0.1', dns: ['10.1.0.1'], leaseTime: 60 })
    const db = await LeaseDatabase.open({ pool: subnet.pool, now: () => clock.now() })
    const changes: LeaseChangeReason[] = []
    let machine: ClientMachine
    const serve = (m: DhcpMessage) => {
      const answer = respond(DhcpMessage.decode(m.encode()), { subnet, db, serverId: '10.1.0.1' })
      const reply = answer.reply
      if (reply) queueMicrotask(() => machine.receive(DhcpMessage.decode(reply.encode())))
    }
    machine = new ClientMachine({ interface: 'eth0', mac: MAC, clientId: Buffer.from([1, 2, 0, 0, 0, 0, 0, 10]), clock, onLease: (_o, _n, r) => void changes.push(r) }, { broadcast: serve, unicast: serve })
    machine.start()
    await clock.settle()
    expect(machine.lease!.address).toBe('10.1.0.10')
    for (let i = 0; i < 10; i++) await clock.advance(30_000)
    expect(machine.state).toBe('bound')
    expect(changes).toEqual(['acquire'])
    expect(db.at('10.1.0.10')?.expiresAt).toBe(machine.lease!.acquiredAt + 60_000)
    await db.close()
  })
})
