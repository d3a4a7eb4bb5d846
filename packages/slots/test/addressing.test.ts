import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { DEFAULT_RANGES, slotAddressing, validateRanges } from '../src/addressing.js'
import { SlotAllocator } from '../src/allocator.js'
import { IndexStore } from '../src/index-store.js'

describe('slot addressing (seed 003 topology)', () => {
  it.each([
    [1, '10.12.0.2', '10.12.0.3', '10.11.0.1'],
    [2, '10.12.0.4', '10.12.0.5', '10.11.0.2'],
    [127, '10.12.0.254', '10.12.0.255', '10.11.0.127'],
    [128, '10.12.1.0', '10.12.1.1', '10.11.0.128'],
    [300, '10.12.2.88', '10.12.2.89', '10.11.1.44'],
  ])('slot %i: veth %s/31, peer %s/31, host-reachable %s', (i, veth, peer, reachable) => {
    const s = slotAddressing(DEFAULT_RANGES, i)
    expect(s).toMatchObject({ vethAddress: veth, peerAddress: peer, hostReachableIP: reachable, netns: `lab-slot-${i}`, vethName: `veth-${i}` })
    expect(s).toMatchObject({ tapName: 'tap0', tapAddress: '169.254.0.22', tapPrefixLength: 30, guestIP: '169.254.0.21', guestMAC: '02:fc:00:00:00:05' })
  })

  it('honours configured ranges and refuses bad ones, naming the field', () => {
    const r = { ...DEFAULT_RANGES, vethBase: '172.20.0.0', hostBase: '172.21.0.0', netnsPrefix: 'sb-' }
    expect(slotAddressing(r, 3)).toMatchObject({ vethAddress: '172.20.0.6', hostReachableIP: '172.21.0.3', netns: 'sb-3' })
    expect(() => validateRanges({ ...DEFAULT_RANGES, vethBase: '10.12.0.1' })).toThrow(/vethBase: must be even/)
    expect(() => validateRanges({ ...DEFAULT_RANGES, hostBase: 'fd00::' })).toThrow(/hostBase: slots use IPv4/)
    expect(() => validateRanges({ ...DEFAULT_RANGES, vethPrefix: 'a-very-long-', maxSlots: 4000 })).toThrow(/vethPrefix/)
    expect(() => slotAddressing(DEFAULT_RANGES, 0)).toThrow(/index: slot index must be 1\.\./)
  })

  it.each([
    [1, 'fd0a:b3ec:12::2', 'fd0a:b3ec:12::3', 'fd0a:b3ec:11::1'],
    [10, 'fd0a:b3ec:12::14', 'fd0a:b3ec:12::15', 'fd0a:b3ec:11::a'],
    [4000, 'fd0a:b3ec:12::1f40', 'fd0a:b3ec:12::1f41', 'fd0a:b3ec:11::fa0'],
  ])('IPv6 of slot %i: veth %s/127, peer %s/127, host-reachable %s', (i, veth, peer, reachable) => {
    expect(slotAddressing(DEFAULT_RANGES, i).ipv6).toBeUndefined()
    expect(slotAddressing(DEFAULT_RANGES, i, true).ipv6).toEqual({ vethAddress: veth, peerAddress: peer, hostReachableIP: reachable, tapAddress: 'fd0a:b3ec:fc::1', tapPrefixLength: 64, guestIP: 'fd0a:b3ec:fc::2' })
  })

  it('honours configured IPv6 ranges and refuses bad ones, naming the field', () => {
    const r = { ...DEFAULT_RANGES, vethBase6: 'fd00:1:2:3:ffff:ffff:ffff:fffe', hostBase6: 'fd00:9::100', guestAddress6: 'fd00:fc::9' }
    // Carries cross the 16-bit groups like any 128-bit number.
    expect(slotAddressing(r, 1, true).ipv6).toMatchObject({ vethAddress: 'fd00:1:2:4::', peerAddress: 'fd00:1:2:4::1', hostReachableIP: 'fd00:9::101', guestIP: 'fd00:fc::9' })
    expect(() => validateRanges({ ...DEFAULT_RANGES, vethBase6: 'fd00::1' })).toThrow(/vethBase6: must be even/)
    expect(() => validateRanges({ ...DEFAULT_RANGES, hostBase6: '10.0.0.0' })).toThrow(/hostBase6: expected an IPv6 address/)
    expect(() => validateRanges({ ...DEFAULT_RANGES, vethBase6: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:fff0' })).toThrow(/vethBase6: too high/)
    expect(() => validateRanges({ ...DEFAULT_RANGES, tapPrefixLength6: 128 })).toThrow(/tapPrefixLength6/)
  })
})

describe('slot indexes', () => {
  it('hands out the lowest free index, re-adopts, and releases', () => {
    const a = new SlotAllocator(3)
    a.adopt(2)
    expect(a.allocate()).toBe(1)
    expect(a.allocate()).toBe(3)
    expect(() => a.allocate()).toThrow(/all 3 slots are in use/)
    a.release(2)
    expect(a.allocate()).toBe(2)
    expect(a.inUse).toEqual([1, 2, 3])
  })

  it('shares indexes between processes through files, one owner each', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lab-slots-idx-'))
    try {
      const one = new IndexStore(dir, 10)
      const two = new IndexStore(dir, 10)
      const a = one.claim({ containerId: 'c-a', ifname: 'eth0' })
      const b = two.claim({ containerId: 'c-b', ifname: 'eth0' })
      expect([a, b]).toEqual([1, 2])
      expect(two.claim({ containerId: 'c-a', ifname: 'eth0' })).toBe(1)
      expect(one.find({ containerId: 'c-b', ifname: 'eth0' })).toBe(2)
      expect(one.find({ containerId: 'c-b', ifname: 'net1' })).toBeUndefined()
      one.release(1)
      expect(two.claim({ containerId: 'c-c', ifname: 'eth0' })).toBe(1)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
