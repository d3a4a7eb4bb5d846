// The client state machine on a fake clock: what it sends and when (RFC 8415 section 15's
// retransmission for each exchange), how it chooses among Advertises, and what it does at T1, T2
// and the end of the lease. Server replies are built with the codec.
import { describe, expect, it } from 'vitest'
import { FakeClock } from '@lab/clock'
import { ClientMachine, DUID_EPOCH_MS, Dhcp6Message, Dhcp6Options, OPTION, STATUS, defaultIaid, duidLl, duidLlt, encodeDuid, type Dhcp6Lease, type Duid, type LeaseChangeReason, type MachineOptions } from '../src/index.js'

const MAC = '02:00:00:00:00:0a'
const IAID = 0x0000000a
const SERVER_A: Duid = { type: 'll', hardwareType: 1, linkLayerAddress: '02:00:00:00:01:01' }
const SERVER_B: Duid = { type: 'll', hardwareType: 1, linkLayerAddress: '02:00:00:00:01:02' }

interface Sent {
  m: Dhcp6Message
  at: number
}

function setup(options: Partial<MachineOptions> = {}) {
  const clock = new FakeClock(1_000_000)
  const sent: Sent[] = []
  const changes: Array<{ old?: Dhcp6Lease; next?: Dhcp6Lease; reason: LeaseChangeReason }> = []
  const machine = new ClientMachine(
    {
      interface: 'eth0',
      duid: duidLl(MAC),
      iaid: IAID,
      clock,
      random: () => 0.5, // RAND = 0: every timeout is exactly its nominal value
      onLease: (old, next, reason) => void changes.push({ ...(old ? { old } : {}), ...(next ? { next } : {}), reason }),
      ...options,
    },
    { send: (m) => void sent.push({ m, at: clock.now() }) },
  )
  const last = () => sent[sent.length - 1]!.m
  const types = () => sent.map((s) => s.m.type)
  const gaps = (type: string) => {
    const at = sent.filter((s) => s.m.type === type).map((s) => s.at)
    return at.slice(1).map((t, i) => t - at[i]!)
  }
  return { clock, sent, changes, machine, last, types, gaps }
}

interface ReplyFields {
  server?: Duid
  preference?: number
  rapidCommit?: boolean
  addresses?: string[]
  prefixes?: string[]
  t1?: number
  t2?: number
  preferred?: number
  valid?: number
  status?: number
  iaStatus?: number
  dns?: string[]
  domains?: string[]
  clientId?: Duid
  refresh?: number
}

/** A server's answer to `request`, as Kea or dnsmasq would shape it. */
function reply(request: Dhcp6Message, type: 'ADVERTISE' | 'REPLY', f: ReplyFields = {}): Dhcp6Message {
  const o = new Dhcp6Options()
  o.add(OPTION.CLIENTID, f.clientId ?? request.options.get(OPTION.CLIENTID)!)
  o.add(OPTION.SERVERID, f.server ?? SERVER_A)
  if (f.preference !== undefined) o.add(OPTION.PREFERENCE, f.preference)
  if (f.rapidCommit) o.add(OPTION.RAPID_COMMIT, true)
  if (f.status !== undefined) o.add(OPTION.STATUS_CODE, { code: f.status, message: '' })
  const lifetimes = { preferredLifetime: f.preferred ?? 150, validLifetime: f.valid ?? 200 }
  for (const ia of request.options.all(OPTION.IA_NA)) {
    const inner = new Dhcp6Options()
    if (f.iaStatus !== undefined) inner.add(OPTION.STATUS_CODE, { code: f.iaStatus, message: '' })
    else for (const address of f.addresses ?? ['fd00:1::1000']) inner.add(OPTION.IAADDR, { address, ...lifetimes, options: new Dhcp6Options() })
    o.add(OPTION.IA_NA, { iaid: ia.iaid, t1: f.t1 ?? 100, t2: f.t2 ?? 160, options: inner })
  }
  for (const ia of request.options.all(OPTION.IA_PD)) {
    const inner = new Dhcp6Options()
    if (f.iaStatus !== undefined) inner.add(OPTION.STATUS_CODE, { code: f.iaStatus, message: '' })
    else for (const p of f.prefixes ?? ['fd00:100::/56']) inner.add(OPTION.IAPREFIX, { prefix: p.split('/')[0]!, prefixLength: Number(p.split('/')[1]), ...lifetimes, options: new Dhcp6Options() })
    o.add(OPTION.IA_PD, { iaid: ia.iaid, t1: f.t1 ?? 100, t2: f.t2 ?? 160, options: inner })
  }
  o.add(OPTION.DNS_SERVERS, f.dns ?? ['fd00:1::53'])
  if (f.domains) o.add(OPTION.DOMAIN_LIST, f.domains)
  if (f.refresh !== undefined) o.add(OPTION.INFORMATION_REFRESH_TIME, f.refresh)
  return new Dhcp6Message(type, request.transactionId, o)
}

/** Solicit, Advertise, Request, Reply: the machine bound at clock time `t.clock.now()`. */
async function bind(t: ReturnType<typeof setup>, fields: ReplyFields = {}): Promise<void> {
  t.machine.start()
  await t.clock.advance(1000) // SOL_MAX_DELAY at most
  t.machine.receive(reply(t.last(), 'ADVERTISE', { ...fields, preference: 255 }))
  expect(t.last().type).toBe('REQUEST')
  t.machine.receive(reply(t.last(), 'REPLY', fields))
  await t.clock.settle()
  expect(t.machine.state).toBe('bound')
}

describe('ClientMachine (RFC 8415 client, fake clock)', () => {
  it('delays the first Solicit by up to SOL_MAX_DELAY, then retransmits at 1.05, 2.1, 4.2 s ... capped at SOL_MAX_RT (section 15)', async () => {
    const t = setup({ retransmit: { solicit: { mrt: 10_000 } } })
    t.machine.start()
    expect(t.sent).toHaveLength(0)
    await t.clock.advance(500) // random 0.5 * SOL_MAX_DELAY
    expect(t.types()).toEqual(['SOLICIT'])
    await t.clock.advance(40_000)
    // The first RT is strictly above IRT (RAND > 0 for the first Solicit): 1000 + 0.05 * 1000.
    expect(t.gaps('SOLICIT').slice(0, 6)).toEqual([1050, 2100, 4200, 8400, 10_000, 10_000])
    const solicit = t.sent[0]!.m
    expect(solicit.options.get(OPTION.ELAPSED_TIME)).toBe(0)
    expect(t.sent[1]!.m.options.get(OPTION.ELAPSED_TIME)).toBe(105) // hundredths of a second
    expect(t.sent[1]!.m.transactionId).toBe(solicit.transactionId) // 16.1: same transaction
    expect(solicit.options.has(OPTION.RAPID_COMMIT)).toBe(true)
    expect(solicit.options.get(OPTION.IA_NA)).toMatchObject({ iaid: IAID, t1: 0, t2: 0 })
    expect(solicit.options.has(OPTION.IA_PD)).toBe(false)
    expect(solicit.options.get(OPTION.ORO)).toEqual([23, 24, 32, 82, 83])
  })

  it('keeps every timeout within RAND = ±0.1 of its nominal value', async () => {
    let i = 0
    const extremes = [0, 0.999999]
    const t = setup({ random: () => extremes[i++ % 2]!, retransmit: { solicit: { mrt: 16_000 } } })
    t.machine.start()
    await t.clock.advance(120_000)
    const gaps = t.gaps('SOLICIT')
    expect(gaps[0]).toBeGreaterThan(1000)
    expect(gaps[0]).toBeLessThanOrEqual(1100)
    for (let k = 1; k < gaps.length; k++) {
      const prev = gaps[k - 1]!
      const doubled = gaps[k]! >= 1.9 * prev - 1 && gaps[k]! <= 2.1 * prev + 1
      const capped = gaps[k]! >= 0.9 * 16_000 - 1 && gaps[k]! <= 1.1 * 16_000 + 1
      expect(doubled || capped, `gap ${k}: ${gaps[k]} after ${prev}`).toBe(true)
    }
    expect(Math.max(...gaps)).toBeLessThanOrEqual(1.1 * 16_000 + 1)
  })

  it('waits out the first RT and requests from the Advertise with the highest preference (18.2.9)', async () => {
    const t = setup()
    t.machine.start()
    await t.clock.advance(500)
    const solicit = t.last()
    t.machine.receive(reply(solicit, 'ADVERTISE', { server: SERVER_A, preference: 10, addresses: ['fd00:1::a'] }))
    t.machine.receive(reply(solicit, 'ADVERTISE', { server: SERVER_B, preference: 200, addresses: ['fd00:1::b'] }))
    expect(t.types()).toEqual(['SOLICIT'])
    await t.clock.advance(1050)
    const request = t.last()
    expect(request.type).toBe('REQUEST')
    expect(request.options.get(OPTION.SERVERID)).toEqual(SERVER_B)
    expect(request.options.get(OPTION.IA_NA)!.options.get(OPTION.IAADDR)).toMatchObject({ address: 'fd00:1::b', preferredLifetime: 0, validLifetime: 0 })
    expect(request.transactionId).not.toBe(solicit.transactionId)
  })

  it('goes to the next Advertise when the chosen server answers the Request with NoAddrsAvail', async () => {
    const t = setup()
    t.machine.start()
    await t.clock.advance(500)
    t.machine.receive(reply(t.last(), 'ADVERTISE', { server: SERVER_A, preference: 20, addresses: ['fd00:1::a'] }))
    t.machine.receive(reply(t.last(), 'ADVERTISE', { server: SERVER_B, preference: 10, addresses: ['fd00:1::b'] }))
    await t.clock.advance(1050)
    expect(t.last().options.get(OPTION.SERVERID)).toEqual(SERVER_A)
    t.machine.receive(reply(t.last(), 'REPLY', { server: SERVER_A, iaStatus: STATUS.NoAddrsAvail }))
    expect(t.types()).toEqual(['SOLICIT', 'REQUEST', 'REQUEST'])
    expect(t.last().options.get(OPTION.SERVERID)).toEqual(SERVER_B)
    t.machine.receive(reply(t.last(), 'REPLY', { server: SERVER_B, iaStatus: STATUS.NoAddrsAvail }))
    expect(t.machine.state).toBe('soliciting')
  })

  it('takes an Advertise with preference 255 at once, and the first Advertise after the first RT', async () => {
    const t = setup()
    t.machine.start()
    await t.clock.advance(500)
    t.machine.receive(reply(t.last(), 'ADVERTISE', { preference: 255 }))
    expect(t.types()).toEqual(['SOLICIT', 'REQUEST'])

    const u = setup()
    u.machine.start()
    await u.clock.advance(500 + 1050 + 500)
    expect(u.types()).toEqual(['SOLICIT', 'SOLICIT'])
    u.machine.receive(reply(u.last(), 'ADVERTISE', { preference: 0 }))
    expect(u.types()).toEqual(['SOLICIT', 'SOLICIT', 'REQUEST'])
  })

  it('ignores Advertises without bindings (NoAddrsAvail), replies for another client and other transactions', async () => {
    const t = setup()
    t.machine.start()
    await t.clock.advance(500)
    t.machine.receive(reply(t.last(), 'ADVERTISE', { preference: 255, iaStatus: STATUS.NoAddrsAvail }))
    t.machine.receive(reply(t.last(), 'ADVERTISE', { preference: 255, clientId: duidLl('02:00:00:00:00:0b') }))
    const other = reply(t.last(), 'ADVERTISE', { preference: 255 })
    other.transactionId ^= 1
    t.machine.receive(other)
    expect(t.types()).toEqual(['SOLICIT'])
    expect(t.machine.state).toBe('soliciting')
  })

  it('binds on a Rapid Commit Reply to the Solicit without a Request (18.2.1)', async () => {
    const t = setup()
    t.machine.start()
    await t.clock.advance(500)
    t.machine.receive(reply(t.last(), 'REPLY', { rapidCommit: true, addresses: ['fd00:1::77'], dns: ['fd00:1::53'], domains: ['lab.test'] }))
    await t.clock.settle()
    expect(t.types()).toEqual(['SOLICIT'])
    expect(t.machine.state).toBe('bound')
    expect(t.changes).toHaveLength(1)
    expect(t.changes[0]).toMatchObject({ reason: 'acquire', next: { addresses: [{ address: 'fd00:1::77', preferredLifetime: 150, validLifetime: 200 }], dns: ['fd00:1::53'], domains: ['lab.test'], t1: 100, t2: 160, validLifetime: 200 } })
  })

  it('does not send Rapid Commit when told not to, and then ignores a Reply to its Solicit', async () => {
    const t = setup({ rapidCommit: false })
    t.machine.start()
    await t.clock.advance(500)
    expect(t.last().options.has(OPTION.RAPID_COMMIT)).toBe(false)
    t.machine.receive(reply(t.last(), 'REPLY', { rapidCommit: true }))
    await t.clock.settle()
    expect(t.machine.state).toBe('soliciting')
  })

  it('retransmits a Request at 1, 2, 4, 8, 16, 30 s (REQ_MAX_RT) and solicits again after REQ_MAX_RC = 10', async () => {
    const t = setup()
    t.machine.start()
    await t.clock.advance(500)
    t.machine.receive(reply(t.last(), 'ADVERTISE', { preference: 255 }))
    await t.clock.advance(200_000)
    expect(t.types().filter((x) => x === 'REQUEST')).toHaveLength(10)
    expect(t.gaps('REQUEST')).toEqual([1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000, 30_000])
    expect(t.types().slice(11)[0]).toBe('SOLICIT')
    expect(t.sent.find((s) => s.m.type === 'SOLICIT' && s.at > 1_000_500)!.at - t.sent.filter((s) => s.m.type === 'REQUEST').at(-1)!.at).toBe(30_000 + 500)
  })

  it('renews at T1 with its server, rebinds at T2 with any, and drops the lease when the valid lifetime ends', async () => {
    const t = setup()
    await bind(t) // T1 100 s, T2 160 s, valid 200 s
    const boundAt = t.clock.now()
    await t.clock.advance(100_000)
    expect(t.machine.state).toBe('renewing')
    const renew = t.last()
    expect(renew.type).toBe('RENEW')
    expect(renew.options.get(OPTION.SERVERID)).toEqual(SERVER_A)
    expect(renew.options.get(OPTION.IA_NA)!.options.get(OPTION.IAADDR)).toMatchObject({ address: 'fd00:1::1000', preferredLifetime: 50, validLifetime: 100 })
    await t.clock.advance(60_000)
    // REN_TIMEOUT 10 s doubling, cut at T2 (MRD = T2 - T1 = 60 s): renews at 100, 110, 130 s.
    expect(t.sent.filter((s) => s.m.type === 'RENEW').map((s) => (s.at - boundAt) / 1000)).toEqual([100, 110, 130])
    expect(t.machine.state).toBe('rebinding')
    expect(t.last().type).toBe('REBIND')
    expect(t.last().options.has(OPTION.SERVERID)).toBe(false)
    await t.clock.advance(40_000)
    expect(t.sent.filter((s) => s.m.type === 'REBIND').map((s) => (s.at - boundAt) / 1000)).toEqual([160, 170, 190])
    expect(t.changes.map((c) => c.reason)).toEqual(['acquire', 'expire'])
    expect(t.changes[1]!.old!.addresses[0]!.address).toBe('fd00:1::1000')
    expect(t.machine.state).toBe('soliciting')
    expect(t.machine.lease).toBeUndefined()
  })

  it('extends the lease on a Reply to its Renew, reported to the callbacks with the new lifetimes', async () => {
    const t = setup()
    await bind(t)
    await t.clock.advance(100_000)
    t.machine.receive(reply(t.last(), 'REPLY', { preferred: 300, valid: 400, t1: 150, t2: 240 }))
    await t.clock.settle()
    expect(t.machine.state).toBe('bound')
    expect(t.changes.map((c) => c.reason)).toEqual(['acquire', 'renew'])
    expect(t.changes[1]!.next).toMatchObject({ t1: 150, validLifetime: 400, acquiredAt: t.clock.now() })
    await t.clock.advance(149_000)
    expect(t.machine.state).toBe('bound')
    await t.clock.advance(1000)
    expect(t.machine.state).toBe('renewing')
  })

  it('chooses T1 and T2 itself (0.5 and 0.8 of the shortest preferred lifetime) when the server sends 0', async () => {
    const t = setup()
    await bind(t, { t1: 0, t2: 0, preferred: 1000, valid: 2000 })
    expect(t.machine.lease).toMatchObject({ t1: 500, t2: 800, validLifetime: 2000 })
  })

  it('asks with a Request when a Renew gets NoBinding (18.2.10.1)', async () => {
    const t = setup()
    await bind(t)
    await t.clock.advance(100_000)
    t.machine.receive(reply(t.last(), 'REPLY', { iaStatus: STATUS.NoBinding }))
    expect(t.last().type).toBe('REQUEST')
    expect(t.last().options.get(OPTION.IA_NA)!.options.get(OPTION.IAADDR)!.address).toBe('fd00:1::1000')
    t.machine.receive(reply(t.last(), 'REPLY', {}))
    await t.clock.settle()
    expect(t.machine.state).toBe('bound')
  })

  it('asks for a delegated prefix (IA_PD) with a length hint and reports it in the lease', async () => {
    const t = setup({ prefixDelegation: { prefixLength: 56 } })
    t.machine.start()
    await t.clock.advance(500)
    expect(t.last().options.get(OPTION.IA_PD)!.options.get(OPTION.IAPREFIX)).toMatchObject({ prefix: '::', prefixLength: 56 })
    t.machine.receive(reply(t.last(), 'ADVERTISE', { preference: 255, prefixes: ['fd00:100:0:200::/56'] }))
    expect(t.last().options.get(OPTION.IA_PD)!.options.get(OPTION.IAPREFIX)).toMatchObject({ prefix: 'fd00:100:0:200::', prefixLength: 56 })
    t.machine.receive(reply(t.last(), 'REPLY', { prefixes: ['fd00:100:0:200::/56'] }))
    await t.clock.settle()
    expect(t.machine.lease).toMatchObject({ addresses: [{ address: 'fd00:1::1000' }], prefixes: [{ prefix: 'fd00:100:0:200::', prefixLength: 56, validLifetime: 200 }] })
  })

  it('undoes the lease, then sends Release until a Reply (REL_TIMEOUT 1 s, REL_MAX_RC 4)', async () => {
    const t = setup()
    await bind(t)
    const released = t.machine.release()
    await t.clock.settle()
    expect(t.changes.map((c) => c.reason)).toEqual(['acquire', 'release'])
    expect(t.last().type).toBe('RELEASE')
    expect(t.last().options.get(OPTION.SERVERID)).toEqual(SERVER_A)
    t.machine.receive(reply(t.last(), 'REPLY', { addresses: [] }))
    await released
    expect(t.machine.state).toBe('stopped')

    const u = setup()
    await bind(u)
    const unanswered = u.machine.release()
    await u.clock.advance(60_000)
    await unanswered
    expect(u.gaps('RELEASE')).toEqual([1000, 2000, 4000])
    expect(u.machine.state).toBe('stopped')
    expect(u.clock.pending).toBe(0)
  })

  it('declines addresses found in use and solicits again (18.2.8)', async () => {
    const t = setup({ conflict: async (addresses) => addresses.filter((a) => a === 'fd00:1::1000') })
    t.machine.start()
    await t.clock.advance(500)
    t.machine.receive(reply(t.last(), 'ADVERTISE', { preference: 255 }))
    t.machine.receive(reply(t.last(), 'REPLY'))
    await t.clock.settle()
    expect(t.last().type).toBe('DECLINE')
    expect(t.last().options.get(OPTION.IA_NA)!.options.get(OPTION.IAADDR)!.address).toBe('fd00:1::1000')
    expect(t.changes).toEqual([])
    t.machine.receive(reply(t.last(), 'REPLY', { addresses: [] }))
    expect(t.machine.state).toBe('soliciting')
  })

  it('confirms after a link change: NotOnLink drops the lease, silence keeps it (CNF_MAX_RD 10 s)', async () => {
    const t = setup()
    await bind(t)
    t.machine.confirm()
    await t.clock.advance(500) // CNF_MAX_DELAY
    expect(t.last().type).toBe('CONFIRM')
    expect(t.last().options.has(OPTION.SERVERID)).toBe(false)
    t.machine.receive(reply(t.last(), 'REPLY', { status: STATUS.NotOnLink, addresses: [] }))
    await t.clock.settle()
    expect(t.changes.map((c) => c.reason)).toEqual(['acquire', 'not-on-link'])
    expect(t.machine.state).toBe('soliciting')

    const u = setup()
    await bind(u)
    u.machine.confirm()
    await u.clock.advance(500 + 10_000)
    // CNF_TIMEOUT 1 s doubling to CNF_MAX_RT 4 s, until CNF_MAX_RD: 0, 1, 3, 7 s; then the lease goes on.
    expect(u.gaps('CONFIRM')).toEqual([1000, 2000, 4000])
    expect(u.machine.state).toBe('bound')
    // The same lease, through the callbacks again (the link going down took the address), with
    // what is left of its times: 10.5 s have passed.
    expect(u.changes.map((c) => c.reason)).toEqual(['acquire', 'confirm'])
    expect(u.changes[1]!.next).toMatchObject({ t1: 90, t2: 150, validLifetime: 190, addresses: [{ address: 'fd00:1::1000', preferredLifetime: 140, validLifetime: 190 }] })
    await u.clock.advance(89_000)
    expect(u.machine.state).toBe('bound')
    await u.clock.advance(1000)
    expect(u.machine.state).toBe('renewing')

    const v = setup()
    await bind(v)
    v.machine.confirm()
    await v.clock.advance(500)
    v.machine.receive(reply(v.last(), 'REPLY', { status: STATUS.Success, addresses: [] }))
    await v.clock.settle()
    expect(v.changes.map((c) => c.reason)).toEqual(['acquire', 'confirm'])
    expect(v.machine.state).toBe('bound')
  })

  it('restarts with a Rebind for an unexpired lease it was given', async () => {
    const t = setup()
    await bind(t)
    const lease = t.machine.lease!
    t.machine.stop()
    const u = setup()
    u.machine.start({ ...lease, acquiredAt: u.clock.now() - 10_000 })
    expect(u.last().type).toBe('REBIND')
    u.machine.receive(reply(u.last(), 'REPLY'))
    await u.clock.settle()
    expect(u.machine.state).toBe('bound')
    expect(u.changes.map((c) => c.reason)).toEqual(['renew'])
  })

  it('stateless: Information-Request, then again after the Information Refresh Time (at least IRT_MINIMUM)', async () => {
    const t = setup({ stateless: true })
    t.machine.start()
    await t.clock.advance(1000)
    const ir = t.last()
    expect(ir.type).toBe('INFORMATION-REQUEST')
    expect(ir.options.has(OPTION.IA_NA)).toBe(false)
    t.machine.receive(reply(ir, 'REPLY', { dns: ['fd00:1::53'], domains: ['lab.test'], refresh: 60 }))
    await t.clock.settle()
    expect(t.changes[0]).toMatchObject({ reason: 'acquire', next: { stateless: true, addresses: [], dns: ['fd00:1::53'], domains: ['lab.test'], t1: 600 } })
    await t.clock.advance(599_000)
    expect(t.types()).toEqual(['INFORMATION-REQUEST'])
    await t.clock.advance(2000)
    expect(t.types()).toEqual(['INFORMATION-REQUEST', 'INFORMATION-REQUEST'])
  })

  it('identifies the client by DUID-LL of its MAC (or DUID-LLT), and its IA by the MAC last four bytes', () => {
    expect(encodeDuid(duidLl('02:00:00:00:00:0A')).toString('hex')).toBe('00030001' + '02000000000a')
    expect(encodeDuid(duidLlt('02:00:00:00:00:0a', DUID_EPOCH_MS + 1000 * 1000)).toString('hex')).toBe('00010001' + '000003e8' + '02000000000a')
    expect(defaultIaid('02:00:11:22:33:44', 7)).toBe(0x11223344)
    expect(defaultIaid(undefined, 7)).toBe(7)
  })
})
