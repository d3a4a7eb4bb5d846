// RelayLoad, the engine of both load generators (DHCPv4's LoadGenerator, @lab/dhcp6's
// LoadGenerator6), with a toy two-step protocol against a toy server on loopback: the window is
// kept, lost messages are sent again and counted, clients give up after their retries, refusals
// and completions are counted, runs take turns, a closed engine refuses to run.
import { afterEach, describe, expect, it } from 'vitest'
import { ArgumentError, UdpSocket } from '@lab/netlink-native'
import { DhcpError, RelayLoad, clientMac, formatMacNumber, type RelayExchange, type RelayProtocol, type ReplyVerdict } from '../src/index.js'

// A request: xid (4 bytes), step (1: first, 2: second). A reply: xid, kind (1 answer to the first
// step, 2 to the second, 9 refusal).
const toyProtocol = (port: number): RelayProtocol => ({
  xidBits: 32,
  server: '127.0.0.1',
  port,
  first: (e: RelayExchange) => Buffer.from([...u32(e.xid), 1]),
  xidOf: (b: Buffer) => (b.length === 5 ? b.readUInt32BE(0) : -1),
  answer(b: Buffer, e: RelayExchange): ReplyVerdict {
    const kind = b[4]
    if (kind === 9) return 'refused'
    if (e.step === 'first' && kind === 1) {
      e.message = Buffer.from([...u32(e.xid), 2])
      return 'next'
    }
    return e.step === 'second' && kind === 2 ? 'done' : 'ignore'
  },
})
const u32 = (n: number) => [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]

/** The toy server: answers every request, but refuses some xids, ignores others, drops some first sends. */
async function toyServer(behaviour: (xid: number, step: number, seen: number) => 'answer' | 'refuse' | 'drop') {
  const socket = await UdpSocket.open({ address: '127.0.0.1', port: 0 })
  const seen = new Map<string, number>()
  const inFlight = new Set<number>()
  let maxInFlight = 0
  socket.on('message', (d) => {
    const xid = d.data.readUInt32BE(0)
    const step = d.data[4]!
    const key = `${xid}/${step}`
    const n = (seen.get(key) ?? 0) + 1
    seen.set(key, n)
    inFlight.add(xid)
    maxInFlight = Math.max(maxInFlight, inFlight.size)
    const what = behaviour(xid, step, n)
    if (what === 'drop') return
    if (what === 'refuse' || step === 2) inFlight.delete(xid)
    void socket.send({ data: Buffer.from([...u32(xid), what === 'refuse' ? 9 : step]), address: d.from.address, port: d.from.port })
  })
  return { socket, port: socket.port!, maxInFlight: () => maxInFlight, sends: (xid: number, step: number) => seen.get(`${xid}/${step}`) ?? 0 }
}

const open: Array<{ close(): Promise<void> }> = []
afterEach(async () => {
  for (const c of open.splice(0)) await c.close()
})

describe('RelayLoad', () => {
  it('keeps the window, resends what is lost, gives up after its retries, counts refusals and completions', async () => {
    // Relative to the run's first xid: the 3rd refused, the 5th's first request lost once, the 7th never answered.
    let first = -1
    const server = await toyServer((xid, step, n) => {
      if (first < 0) first = xid
      const i = (xid - first) >>> 0
      if (i === 2) return 'refuse'
      if (i === 4 && step === 1 && n === 1) return 'drop'
      if (i === 6) return 'drop'
      return 'answer'
    })
    open.push(server.socket)
    const engine = new RelayLoad(await UdpSocket.open({ address: '127.0.0.1', port: 0 }), toyProtocol(server.port), () => new DhcpError('LAB_ERR_DHCP_CLOSED', 'closed'))
    open.push(engine)
    const done: string[] = []
    const result = await engine.run({ clients: 40, window: 4, timeoutMs: 200, retries: 2, base: 7, onDone: (e) => done.push(formatMacNumber(e.mac)) })
    expect(result).toMatchObject({ completed: 38, refused: 1, failed: 1, sendFailures: 0 })
    // The lost first request once, and the unanswered one twice before giving up (more only if
    // a busy machine held an answer past the timeout).
    expect(result.retransmissions).toBeGreaterThanOrEqual(3)
    expect(server.sends(first + 6, 1)).toBe(3)
    expect(server.maxInFlight()).toBeLessThanOrEqual(4)
    expect(done).toHaveLength(38)
    expect(done[0]).toBe(formatMacNumber(clientMac(7, 0)))
    expect(formatMacNumber(clientMac(7, 0x01020304))).toBe('02:07:01:02:03:04')
    expect(result.latencyMs.p50).toBeGreaterThan(0)
    expect(result.latencyMs.max).toBeGreaterThanOrEqual(result.latencyMs.p99)
  })

  it('runs take turns; bad counts and windows are ArgumentErrors; a closed engine refuses to run', async () => {
    const server = await toyServer(() => 'answer')
    open.push(server.socket)
    const engine = new RelayLoad(await UdpSocket.open({ address: '127.0.0.1', port: 0 }), toyProtocol(server.port), () => new DhcpError('LAB_ERR_DHCP_CLOSED', 'closed'))
    const [a, b] = await Promise.all([engine.run({ clients: 20, window: 8 }), engine.run({ clients: 30, window: 8 })])
    expect([a.completed, b.completed]).toEqual([20, 30])
    await expect(engine.run({ clients: -1 })).rejects.toBeInstanceOf(ArgumentError)
    await expect(engine.run({ clients: 1, window: 0 })).rejects.toBeInstanceOf(ArgumentError)
    await engine.close()
    await expect(engine.run({ clients: 1 })).rejects.toMatchObject({ code: 'LAB_ERR_DHCP_CLOSED' })
  })
})
