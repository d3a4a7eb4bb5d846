// Qdiscs: netem encoded byte for byte as `tc qdisc add ... netem` sends it (captured with
// `strace -e trace=sendmsg -xx tc qdisc add dev v0 root netem delay 50ms 5ms loss 2% duplicate 1%
// reorder 25% corrupt 0.1%` on this machine), and tbf added, changed, listed and deleted in a
// namespace, read back as `tc -j qdisc show` reads it. This kernel has no sch_netem: its run-time
// test is skipped with the reason when the kernel refuses the kind.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TestNetns, cleanupAll, isRoot, run } from '@lab/testkit'
import { MessageWriter } from '../src/netlink/message.js'
import type { RequestContext } from '../src/rtnetlink/context.js'
import { decodeQdisc, qdiscAdd, qdiscDel, type QdiscOptions } from '../src/rtnetlink/qdisc.js'
import { ArgumentError, Netlink, NetlinkError } from '../src/index.js'

const ctx: RequestContext = { index: () => 3, netnsFd: () => -1 }
const hex = (escaped: string) => escaped.replace(/\\x/g, '')

function encoded(op: ReturnType<typeof qdiscAdd>): { type: number; flags: number; payload: string } {
  const request = op.encode(ctx)
  const w = new MessageWriter()
  const at = w.begin(request.type, request.flags ?? 0, 1)
  request.body?.(w)
  w.end(at)
  return { type: request.type, flags: request.flags ?? 0, payload: w.view().subarray(16).toString('hex') }
}

const NETEM_TC =
  '\\x00\\x00\\x00\\x00\\x03\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\xff\\xff\\xff\\xff\\x00\\x00\\x00\\x00\\x0a\\x00\\x01\\x00\\x6e\\x65\\x74\\x65\\x6d\\x00\\x00\\x00\\x34\\x00\\x02\\x00\\xc2\\xeb\\x0b\\x00\\xe8\\x03\\x00\\x00\\x52\\xb8\\x1e\\x05\\x01\\x00\\x00\\x00\\x29\\x5c\\x8f\\x02\\x2d\\x31\\x01\\x00\\x0c\\x00\\x03\\x00\\x00\\x00\\x00\\x40\\x00\\x00\\x00\\x00\\x0c\\x00\\x04\\x00\\x37\\x89\\x41\\x00\\x00\\x00\\x00\\x00'
const NETEM_DELAY_TC =
  '\\x00\\x00\\x00\\x00\\x03\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\xff\\xff\\xff\\xff\\x00\\x00\\x00\\x00\\x0a\\x00\\x01\\x00\\x6e\\x65\\x74\\x65\\x6d\\x00\\x00\\x00\\x1c\\x00\\x02\\x00\\xb4\\xc4\\x04\\x00\\xe8\\x03\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00'
const DEL_TC = '\\x00\\x00\\x00\\x00\\x03\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\xff\\xff\\xff\\xff\\x00\\x00\\x00\\x00'

describe('netem requests match tc byte for byte', () => {
  it('tc qdisc add dev v0 root netem delay 50ms 5ms loss 2% duplicate 1% reorder 25% corrupt 0.1%', () => {
    const r = encoded(qdiscAdd({ interface: 'v0', kind: 'netem', delay: '50ms', jitter: '5ms', loss: '2%', duplicate: '1%', reorder: '25%', corrupt: '0.1%' }))
    expect(r.type).toBe(36)
    expect(r.flags).toBe(0x600)
    expect(r.payload).toBe(hex(NETEM_TC))
  })
  it('tc qdisc add dev v0 root netem delay 20ms (numbers are tc units: microseconds)', () => {
    expect(encoded(qdiscAdd({ interface: 'v0', kind: 'netem', delay: 20_000 })).payload).toBe(hex(NETEM_DELAY_TC))
  })
  it('tc qdisc del dev v0 root', () => {
    const r = encoded(qdiscDel({ interface: 'v0' }))
    expect(r.type).toBe(37)
    expect(r.payload).toBe(hex(DEL_TC))
  })
  it('decodes what it encodes (the kernel echoes the same struct and attributes)', () => {
    const payload = Buffer.from(hex(NETEM_TC), 'hex')
    const q = decodeQdisc({ type: 36, flags: 0, seq: 0, pid: 0, payload } as never)
    expect(q).toMatchObject({ index: 3, kind: 'netem', parent: 'root', handle: '0:' })
    expect(q.netem).toEqual({ limit: 1000, delay: 50_000, jitter: 5000, loss: 2, gap: 1, duplicate: 1, reorder: 25, corrupt: 0.1 })
  })
  it('rejects bad values before anything is sent, naming the field', () => {
    const bad: Array<[QdiscOptions, string]> = [
      [{ interface: 'v0', kind: 'netem', delay: '50 parsecs' }, 'delay'],
      [{ interface: 'v0', kind: 'netem', loss: '120%' }, 'loss'],
      [{ interface: 'v0', kind: 'netem', reorder: '10%' }, 'reorder'],
      [{ interface: 'v0', kind: 'tbf', rate: 'fast' }, 'rate'],
      [{ interface: 'v0', kind: 'tbf', rate: '1mbit', burst: 'big' }, 'burst'],
      [{ interface: 'v0', kind: 'sfq' } as unknown as QdiscOptions, 'kind'],
    ]
    for (const [options, field] of bad) {
      let error: unknown
      try {
        qdiscAdd(options)
      } catch (e) {
        error = e
      }
      expect(error, field).toBeInstanceOf(ArgumentError)
      expect((error as ArgumentError).field).toBe(field)
    }
  })
})

type TcQdisc = { kind: string; handle: string; root?: boolean; options: { rate?: number; burst?: number; lat?: number; limit?: number; delay?: { delay: number; jitter: number } } }

describe.skipIf(!isRoot())('qdiscs in a namespace, as tc sees them (needs root)', () => {
  let ns: TestNetns
  let nl: Netlink
  beforeAll(async () => {
    ns = await TestNetns.create('qdisc')
    nl = await Netlink.open({ netns: ns.name })
    await nl.link.add({ name: 'q0', kind: 'veth', peer: { name: 'q1' }, up: true })
  })
  afterAll(async () => {
    await nl?.close()
    cleanupAll()
  })
  const tc = async (): Promise<TcQdisc[]> => JSON.parse((await ns.exec(['tc', '-j', 'qdisc', 'show', 'dev', 'q0'])).stdout) as TcQdisc[]

  it('adds, changes, replaces, lists and deletes a tbf rate limit', async () => {
    await nl.qdisc.add({ interface: 'q0', kind: 'tbf', rate: '100mbit', burst: '32kbit', latency: '50ms' })
    await expect(nl.qdisc.add({ interface: 'q0', kind: 'tbf', rate: '10mbit' })).rejects.toMatchObject({ code: 'EEXIST', op: 'qdisc add' })
    const check = async (rateBits: number) => {
      const [ours] = await nl.qdisc.list({ link: 'q0' })
      const [theirs] = await tc()
      expect(ours!.kind).toBe('tbf')
      expect(theirs!.kind).toBe('tbf')
      expect(ours!.handle).toBe(theirs!.handle)
      expect(ours!.parent).toBe('root')
      expect(ours!.tbf!.rate).toBe(rateBits)
      // tc prints the rate in bytes per second, the bucket in bytes and the latency in microseconds.
      expect(ours!.tbf!.rate / 8).toBe(theirs!.options.rate)
      // tc converts the kernel's 64 ns ticks through /proc/net/psched's rounded factors, so its
      // bucket and latency differ from the exact conversion by a fraction of a percent.
      expect(Math.abs(ours!.tbf!.burst - theirs!.options.burst!) / theirs!.options.burst!).toBeLessThan(0.01)
      expect(Math.abs(ours!.tbf!.latency - theirs!.options.lat!) / theirs!.options.lat!).toBeLessThan(0.01)
    }
    await check(100e6)
    await nl.qdisc.change({ interface: 'q0', kind: 'tbf', rate: '10mbit', burst: '16kb' })
    await check(10e6)
    await nl.qdisc.replace({ interface: 'q0', kind: 'tbf', rate: '40gbit' }) // past 2^32 bytes/s: TCA_TBF_RATE64
    await check(40e9)
    await nl.qdisc.del({ interface: 'q0' })
    expect((await tc()).map((q) => q.kind)).not.toContain('tbf')
    await expect(nl.qdisc.del({ interface: 'q0' })).rejects.toBeInstanceOf(NetlinkError)
  })

  it('netem: added and read back as tc reads it, or refused by a kernel without sch_netem', async (context) => {
    try {
      await nl.qdisc.add({ interface: 'q0', kind: 'netem', delay: '50ms', jitter: '5ms', loss: '2%' })
    } catch (error) {
      if ((error as NetlinkError).code === 'ENOENT' && /unknown/i.test((error as Error).message)) {
        context.skip('this kernel has no sch_netem (CONFIG_NET_SCH_NETEM): the encoding is covered byte for byte above')
      }
      throw error
    }
    const [ours] = await nl.qdisc.list({ link: 'q0' })
    const [theirs] = await tc()
    expect(ours!.netem).toMatchObject({ delay: 50_000, jitter: 5000, loss: 2 })
    expect(theirs!.options.delay).toMatchObject({ delay: 0.05, jitter: 0.005 })
    await nl.qdisc.del({ interface: 'q0' })
    await run(['true'])
  })
})
