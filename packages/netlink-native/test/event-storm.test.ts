// Netlink event storms on purpose: 10 000 address events while a watcher runs. Whether the
// consumer keeps up or not, no event is lost silently: the state the consumer rebuilds from what
// it heard equals the kernel's; a consumer that does not read gets an overrun and a resync instead
// of a queue that grows without bound.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TestNetns, cleanupAll, isRoot } from '@lab/testkit'
import { Netlink, type NetlinkEvent } from '../src/index.js'

const key = (e: Extract<NetlinkEvent, { kind: 'addr' }>) => `${e.addr.address}/${e.addr.prefixLength}`

/** Applies events to a set of addresses, as a consumer that mirrors the kernel would. */
function mirror() {
  const addresses = new Set<string>()
  let overruns = 0
  return {
    addresses,
    get overruns() {
      return overruns
    },
    apply(e: NetlinkEvent) {
      if (e.kind === 'overrun') {
        overruns++
        addresses.clear()
        return
      }
      if (e.kind !== 'addr') return
      if (e.action === 'new') addresses.add(key(e))
      else addresses.delete(key(e))
    },
  }
}

async function addAndDelete(nl: Netlink, count: number): Promise<void> {
  // 5 000 adds and 5 000 deletes of distinct addresses: 10 000 events.
  await nl.batch((b) => {
    for (let i = 0; i < count; i++) b.addr.add('dummy0', `10.${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}/32`)
  })
  await nl.batch((b) => {
    for (let i = 0; i < count; i++) b.addr.del('dummy0', `10.${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}/32`)
  })
}

describe.skipIf(!isRoot())('netlink event storms (needs root)', () => {
  let ns: TestNetns
  let nl: Netlink

  beforeAll(async () => {
    ns = await TestNetns.create('storm')
    nl = await Netlink.open({ netns: ns.name })
    // A bridge stands in for a dummy link (this kernel has no dummy): addresses work the same.
    await nl.link.add({ name: 'dummy0', kind: 'bridge' })
    await nl.link.set('dummy0', { up: true })
  })
  afterAll(async () => {
    await nl?.close()
    cleanupAll()
  })

  it('a consumer that keeps reading: its mirror of 10 000 events ends equal to the kernel', async () => {
    const controller = new AbortController()
    const events = nl.watch(['addr'], { signal: controller.signal })
    const view = mirror()
    const reading = (async () => {
      for await (const e of events) view.apply(e)
    })()
    await addAndDelete(nl, 5_000)
    await nl.addr.add('dummy0', '10.99.0.1/32') // a marker: when it is seen, everything before it was
    for (let i = 0; i < 400 && !view.addresses.has('10.99.0.1/32'); i++) await new Promise((r) => setTimeout(r, 25))
    const kernel = (await nl.addr.list()).map((a) => `${a.address}/${a.prefixLength}`)
    // Without an overrun the mirror saw only changes; after one, it holds every address a resync gave.
    const expected = view.overruns > 0 ? kernel : kernel.filter((k) => k.startsWith('10.'))
    expect([...view.addresses].filter((k) => view.overruns > 0 || k.startsWith('10.')).sort()).toEqual(expected.sort())
    controller.abort()
    await reading
    await nl.addr.del('dummy0', '10.99.0.1/32')
  })

  it('a consumer that does not read: an overrun and a resync, memory bounded, then the mirror is right', async () => {
    const controller = new AbortController()
    const events = nl.watch(['addr'], { signal: controller.signal, maxQueued: 500 })
    const view = mirror()
    await addAndDelete(nl, 2_000)
    await nl.addr.add('dummy0', '10.99.0.2/32')
    await new Promise((r) => setTimeout(r, 200)) // let the events arrive while nobody reads
    // Now read: what is queued is at most 500 events, then the overrun and the resync, not 4 001.
    let seen = 0
    for (;;) {
      const next = await Promise.race([events.next(), new Promise<undefined>((r) => setTimeout(() => r(undefined), 500))])
      if (!next) break // quiet for 0.5 s: the resync is through
      view.apply(next.value)
      seen++
    }
    expect(view.overruns).toBeGreaterThan(0)
    expect(seen).toBeLessThan(1_500)
    const kernel = (await nl.addr.list()).map((a) => `${a.address}/${a.prefixLength}`)
    expect([...view.addresses].sort()).toEqual(kernel.sort())
    controller.abort()
    await nl.addr.del('dummy0', '10.99.0.2/32')
  })
})
