// BindingDatabase's pool figures (free, active): what the metrics and counters() show. Each walk
// remembers which keys are in which pool; the figures must stay right as bindings come and go,
// for two pools side by side, and across repeated walks.
import { describe, expect, it } from 'vitest'
import { BindingDatabase, Subnet6, type Requester } from '../src/index.js'

const who = (n: number, kind: 'na' | 'pd' = 'na'): Requester => ({ client: `duid${n}/${kind}/1`, kind, duid: `0003000102${n.toString(16).padStart(8, '0')}`, iaid: 1 })

describe('BindingDatabase pool figures', () => {
  it('free() and active() follow binds, offers, releases, declines and expiry, per pool, walk after walk', async () => {
    let now = 1_000_000
    const a = new Subnet6({ prefix: 'fd00:1::/64', range: ['fd00:1::10', 'fd00:1::1f'], pdPool: { prefix: 'fd00:100::/48', length: 56 } })
    const b = new Subnet6({ prefix: 'fd00:2::/64', range: ['fd00:2::10', 'fd00:2::13'] })
    const db = await BindingDatabase.open({ now: () => now, offerHoldMs: 1000, declineQuarantineMs: 5000 })
    const figures = () => [a.na!, a.pd!, b.na!].map((p) => [db.free(p), db.active(p)])
    expect(figures()).toEqual([[16, 0], [256, 0], [4, 0]])
    for (let i = 0; i < 5; i++) db.bind(a.na!, who(i), db.choose(a.na!, who(i))!, 60, 120)
    db.bind(a.pd!, who(1, 'pd'), db.choose(a.pd!, who(1, 'pd'))!, 60, 120)
    db.bind(b.na!, who(9), db.choose(b.na!, who(9))!, 60, 600)
    db.offer(who(10), db.choose(b.na!, who(10))!)
    // The same twice: the second walk answers from what the first remembered.
    expect(figures()).toEqual([[11, 5], [255, 1], [2, 1]])
    expect(figures()).toEqual([[11, 5], [255, 1], [2, 1]])
    db.release(who(0).client, db.leaseOf(who(0).client)!.address)
    db.decline(who(1).client, db.leaseOf(who(1).client)!.address)
    expect(figures()).toEqual([[12, 3], [255, 1], [2, 1]])
    // The offer lapses (1 s), the quarantine ends (5 s), the 120 s bindings expire; b's lasts 600 s.
    now += 121_000
    expect(figures()).toEqual([[16, 0], [256, 0], [3, 1]])
  })
})
