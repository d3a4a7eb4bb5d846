import { describe, expect, it } from 'vitest'
import { compareSnapshots, takeSnapshot, type HostSnapshot } from '../src/host-guard.js'
import { isRoot } from '../src/run.js'

function clone(s: HostSnapshot): HostSnapshot {
  return JSON.parse(JSON.stringify(s)) as HostSnapshot
}

describe.skipIf(!isRoot())('host guard', () => {
  it('finds no difference between two snapshots of an unchanged host', async () => {
    const a = await takeSnapshot()
    const b = await takeSnapshot()
    expect(compareSnapshots(a, b)).toEqual([])
    expect(Object.keys(a.link)).toContain('lo')
  })

  it('names a link leaked into the host namespace (crafted snapshot, host untouched)', async () => {
    const before = await takeSnapshot()
    const after = clone(before)
    after.link['veth-leak0'] = JSON.stringify({ ifname: 'veth-leak0', link_type: 'ether' })
    after.addr['veth-leak0 10.99.0.1/24'] = JSON.stringify({ family: 'inet', local: '10.99.0.1', prefixlen: 24 })
    expect(compareSnapshots(before, after)).toEqual(['link added: veth-leak0', 'addr added: veth-leak0 10.99.0.1/24'])
  })

  it('names changed sysctls, removed routes and added nftables objects', async () => {
    const before = await takeSnapshot()
    const after = clone(before)
    after.sysctl['net.ipv4.ip_forward'] = before.sysctl['net.ipv4.ip_forward'] === '1' ? '0' : '1'
    const route = Object.keys(after.route)[0]
    if (route) delete after.route[route]
    after.nft['{"table":{"family":"inet","name":"leak"}}'] = '{"table":{"family":"inet","name":"leak"}}'
    const diff = compareSnapshots(before, after)
    expect(diff).toContainEqual(expect.stringMatching(/^sysctl changed: net\.ipv4\.ip_forward: [01] -> [01]$/))
    if (route) expect(diff).toContain(`route removed: ${route}`)
    expect(diff).toContain('nft added: {"table":{"family":"inet","name":"leak"}}')
  })

  it('names a rewritten resolv.conf (crafted snapshot, host untouched)', async () => {
    const before = await takeSnapshot()
    expect(before.file['/etc/resolv.conf']).toBeDefined()
    const after = clone(before)
    after.file['/etc/resolv.conf'] = JSON.stringify('\n')
    expect(compareSnapshots(before, after)).toEqual([`file changed: /etc/resolv.conf: ${before.file['/etc/resolv.conf']} -> "\\n"`])
  })

  it('ignores address lifetimes, which count down on their own', async () => {
    const before = await takeSnapshot()
    const after = clone(before)
    expect(Object.values(after.addr).some((v) => v.includes('life_time'))).toBe(false)
    expect(compareSnapshots(before, after)).toEqual([])
  })
})
