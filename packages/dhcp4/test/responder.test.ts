import { describe, expect, it } from 'vitest'
import { DhcpMessage, LeaseDatabase, Subnet, clientKey, respond, type ResponderContext as Context } from '../src/index.js'

async function setup(now = { t: 0 }): Promise<Context & { now: { t: number } }> {
  const subnet = new Subnet({ subnet: '10.1.0.0/24', range: ['10.1.0.10', '10.1.0.20'], router: '10.1.0.1', dns: ['10.42.0.3'], search: ['lab.test'], routes: [{ destination: '0.0.0.0', prefixLength: 0, router: '10.1.0.1' }], leaseTime: 3600, reservations: { '02:00:00:00:00:99': '10.1.0.99' } })
  const db = await LeaseDatabase.open({ pool: subnet.pool, now: () => now.t })
  return { subnet, db, serverId: '10.1.0.1', now }
}

const mac = '02:00:00:00:00:0a'
const request = (type: 'DISCOVER' | 'REQUEST' | 'RELEASE' | 'DECLINE' | 'INFORM', fields: Partial<DhcpMessage> = {}, options: Array<[number, unknown]> = []) => {
  const m = new DhcpMessage({ op: 1, xid: 42, chaddr: mac, ...fields })
  m.set(53, type)
  for (const [code, value] of options) m.options.set(code, value as never)
  return m
}

describe('responder (RFC 2131 4.3)', () => {
  it('offers with the subnet options, only the asked-for classless routes and search list', async () => {
    const ctx = await setup()
    const a = respond(request('DISCOVER', {}, [[55, [1, 3, 6, 121]]]), ctx)
    expect(a.event).toBe('offer')
    expect(a.reply!.yiaddr).toBe('10.1.0.10')
    expect(a.reply!.get(54)).toBe('10.1.0.1')
    expect(a.reply!.get(51)).toBe(3600)
    expect(a.reply!.get(58)).toBe(1800)
    expect(a.reply!.get(59)).toBe(3150)
    expect(a.reply!.get(3)).toEqual(['10.1.0.1'])
    expect(a.reply!.get(121)).toEqual([{ destination: '0.0.0.0', prefixLength: 0, router: '10.1.0.1' }])
    expect(a.reply!.get(119)).toBeUndefined()
    expect(a.reply!.xid).toBe(42)
  })

  it('acks the selected offer, ignores a selection of another server, and NAKs a taken address', async () => {
    const ctx = await setup()
    respond(request('DISCOVER'), ctx)
    expect(respond(request('REQUEST', {}, [[54, '10.1.0.250'], [50, '10.1.0.10']]), ctx)).toEqual({ event: 'not-selected' })
    const ack = respond(request('REQUEST', {}, [[54, '10.1.0.1'], [50, '10.1.0.10']]), ctx)
    expect(ack.event).toBe('ack')
    expect(ack.reply!.yiaddr).toBe('10.1.0.10')
    expect(ctx.db.at('10.1.0.10')?.state).toBe('bound')
    const other = request('REQUEST', { chaddr: '02:00:00:00:00:0b' }, [[54, '10.1.0.1'], [50, '10.1.0.10']])
    const nak = respond(other, ctx)
    expect(nak.event).toBe('nak')
    expect(nak.reply!.broadcast).toBe(true)
    expect(nak.reply!.yiaddr).toBe('0.0.0.0')
  })

  it('in INIT-REBOOT: NAKs another network, stays silent for an unknown client, acks a known one', async () => {
    const ctx = await setup()
    expect(respond(request('REQUEST', {}, [[50, '192.168.0.5']]), ctx).event).toBe('nak')
    expect(respond(request('REQUEST', {}, [[50, '10.1.0.12']]), ctx)).toEqual({ event: 'unknown-client' })
    ctx.db.bind(clientKey(mac), mac, '10.1.0.12', 3_600_000)
    expect(respond(request('REQUEST', {}, [[50, '10.1.0.12']]), ctx).reply!.yiaddr).toBe('10.1.0.12')
  })

  it('extends a lease on renewal, and NAKs renewal of an address that is not the client’s', async () => {
    const ctx = await setup()
    ctx.db.bind(clientKey(mac), mac, '10.1.0.11', 3_600_000)
    ctx.now.t = 1_800_000
    const renew = respond(request('REQUEST', { ciaddr: '10.1.0.11' }), ctx)
    expect(renew.event).toBe('ack')
    expect(renew.reply!.ciaddr).toBe('10.1.0.11')
    expect(ctx.db.at('10.1.0.11')!.expiresAt).toBe(1_800_000 + 3_600_000)
    expect(respond(request('REQUEST', { ciaddr: '10.1.0.15', chaddr: '02:00:00:00:00:0c' }), ctx)).toMatchObject({ event: 'ack' })
    ctx.db.bind(clientKey('02:00:00:00:00:0d'), 'x', '10.1.0.16', 3_600_000)
    expect(respond(request('REQUEST', { ciaddr: '10.1.0.16' }), ctx).event).toBe('nak')
  })

  it('gives reservations to their client only, answers INFORM without a lease, honours RELEASE and DECLINE', async () => {
    const ctx = await setup()
    expect(respond(request('DISCOVER', { chaddr: '02:00:00:00:00:99' }), ctx).reply!.yiaddr).toBe('10.1.0.99')
    expect(respond(request('DISCOVER', {}, [[50, '10.1.0.99']]), ctx).reply!.yiaddr).toBe('10.1.0.10')
    const inform = respond(request('INFORM', { ciaddr: '10.1.0.77' }), ctx)
    expect(inform.event).toBe('inform')
    expect(inform.reply!.yiaddr).toBe('0.0.0.0')
    expect(inform.reply!.get(51)).toBeUndefined()
    expect(inform.reply!.get(6)).toEqual(['10.42.0.3'])
    ctx.db.bind(clientKey(mac), mac, '10.1.0.10', 3_600_000)
    expect(respond(request('RELEASE', { ciaddr: '10.1.0.10' }), ctx)).toMatchObject({ event: 'release', lease: { address: '10.1.0.10', state: 'released' } })
    expect(ctx.db.at('10.1.0.10')!.state).toBe('released')
    ctx.db.bind(clientKey(mac), mac, '10.1.0.10', 3_600_000)
    expect(respond(request('DECLINE', {}, [[50, '10.1.0.10']]), ctx)).toMatchObject({ event: 'decline', lease: { state: 'declined' } })
    expect(ctx.db.at('10.1.0.10')!.state).toBe('declined')
    expect(respond(request('DISCOVER'), ctx).reply!.yiaddr).not.toBe('10.1.0.10')
  })

  it('answers relayed requests with giaddr kept, so the reply goes back through the relay', async () => {
    const ctx = await setup()
    const agent = new Map([[1, Buffer.from('port-7')], [2, Buffer.from([0xaa, 0xbb])]])
    const a = respond(request('DISCOVER', { giaddr: '10.1.0.254', hops: 1 }, [[82, agent]]), ctx)
    expect(a.reply!.giaddr).toBe('10.1.0.254')
    // Option 82 is echoed unchanged, as the last option on the wire.
    const decoded = DhcpMessage.decode(a.reply!.encode())
    expect(decoded.get(82)).toEqual(agent)
    expect([...decoded.options.keys()].at(-1)).toBe(82)
  })
})

describe('responder outcomes', () => {
  it('names every silent outcome instead of returning nothing', async () => {
    const ctx = await setup()
    const reply = new DhcpMessage({ op: 2, xid: 1, chaddr: mac }).set(53, 'OFFER')
    expect(respond(reply, ctx)).toEqual({ event: 'not-request' })
    expect(respond(request('REQUEST'), ctx)).toEqual({ event: 'bad-request' })
    expect(respond(request('RELEASE', { ciaddr: '10.1.0.10' }), ctx)).toEqual({ event: 'release' }) // nothing to release
    const small = new Subnet({ subnet: '10.2.0.0/24', range: ['10.2.0.10', '10.2.0.10'] })
    const db = await LeaseDatabase.open({ pool: small.pool })
    expect(respond(request('DISCOVER'), { subnet: small, db, serverId: '10.2.0.1' }).event).toBe('offer')
    expect(respond(request('DISCOVER', { chaddr: '02:00:00:00:00:0b' }), { subnet: small, db, serverId: '10.2.0.1' })).toEqual({ event: 'exhausted' })
  })

  it('leaves a running binding as it is when its client DISCOVERs again', async () => {
    const ctx = await setup()
    ctx.db.bind(clientKey(mac), mac, '10.1.0.11', 3_600_000)
    const offer = respond(request('DISCOVER'), ctx)
    expect(offer.reply!.yiaddr).toBe('10.1.0.11')
    expect(ctx.db.at('10.1.0.11')).toMatchObject({ state: 'bound', expiresAt: 3_600_000 })
  })
})

describe('point-to-point /31 subnets (RFC 3021)', () => {
  it('offers the peer address of a /31 with its mask and no broadcast option', async () => {
    const subnet = new Subnet({ subnet: '100.0.0.2/31', range: ['100.0.0.3', '100.0.0.3'], router: '100.0.0.2' })
    const db = await LeaseDatabase.open({ pool: subnet.pool, now: () => 0 })
    const discover = new DhcpMessage({ op: 1, xid: 7, chaddr: '02:00:00:00:00:0a' }).set(53, 'DISCOVER').set(55, [1, 3, 28])
    const offer = respond(discover, { subnet, db, serverId: '100.0.0.2' })
    expect(offer.reply!.yiaddr).toBe('100.0.0.3')
    expect(offer.reply!.get(1)).toBe('255.255.255.254')
    expect(offer.reply!.get(3)).toEqual(['100.0.0.2'])
    expect(offer.reply!.get(28)).toBeUndefined()
  })
})
