import { describe, expect, it } from 'vitest'
import { AttributeWriter, Attributes, DecodeError, LabError, parseMessages } from '../src/index.js'
import { decodeAddress } from '../src/rtnetlink/addr.js'
import { decodeLink } from '../src/rtnetlink/link.js'
import { decodeNeighbour } from '../src/rtnetlink/neigh.js'
import { decodeRoute } from '../src/rtnetlink/route.js'
import { decodeRule } from '../src/rtnetlink/rule.js'

/** One attribute as the kernel lays it out: u16 length (header included), u16 type, value, padding. */
function attr(type: number, value: number[]): Buffer {
  const out = Buffer.alloc((4 + value.length + 3) & ~3)
  out.writeUInt16LE(4 + value.length, 0)
  out.writeUInt16LE(type, 2)
  Buffer.from(value).copy(out, 4)
  return out
}

describe('attributes', () => {
  it('keeps every value when the buffer grows in the middle of a write', () => {
    const w = new AttributeWriter(8)
    for (let i = 0; i < 1000; i++) {
      w.be32(1, i)
      w.u8(2, i & 255)
      w.be64(3, BigInt(i) * 3n)
      w.str(4, `name-${i}`)
      w.nested(5, () => w.u16(6, i))
    }
    const a = new Attributes(w.view())
    expect(a.all(1).map((v) => v.readUInt32BE(0))).toEqual(Array.from({ length: 1000 }, (_, i) => i))
    expect(a.all(2).map((v) => v[0])).toEqual(Array.from({ length: 1000 }, (_, i) => i & 255))
    expect(a.all(3).map((v) => v.readBigUInt64BE(0))).toEqual(Array.from({ length: 1000 }, (_, i) => BigInt(i) * 3n))
    expect(a.all(4).map((v) => v.toString('utf8', 0, v.length - 1))).toEqual(Array.from({ length: 1000 }, (_, i) => `name-${i}`))
    expect(a.all(5).map((v) => new Attributes(v).u16(6))).toEqual(Array.from({ length: 1000 }, (_, i) => i))
  })

  it('rejects attributes that overrun their buffer with a DecodeError', () => {
    const bad = Buffer.from([8, 0, 1, 0, 0, 0])
    expect(() => new Attributes(bad)).toThrow(DecodeError)
    expect(() => new Attributes(bad)).toThrow(/attribute 1 at 0: length 8 overruns 6 bytes/)
    expect(() => new Attributes(Buffer.alloc(8), 0, 12)).toThrow(DecodeError)
  })

  it('reads integers of exactly their size', () => {
    const a = new Attributes(Buffer.concat([attr(1, [7]), attr(2, [1, 2]), attr(3, [1, 0, 0, 0]), attr(4, [1, 0, 0, 0, 0, 0, 0, 0]), attr(5, [0xff, 0xff, 0xff, 0xff])]))
    expect([a.u8(1), a.u16(2), a.be16(2), a.u32(3), a.be32(3), a.u64(4), a.be64(4), a.s32(5)]).toEqual([7, 0x201, 0x102, 1, 0x1000000, 1n, 0x100000000000000n, -1])
    expect(a.u32(9)).toBeUndefined()
  })

  // mdlayher/netlink's AttributeDecoder: "attribute N is not a uint32; length: L".
  it.each([
    { read: 'u8', value: [] },
    { read: 'u8', value: [1, 2] },
    { read: 'u16', value: [1] },
    { read: 'u16', value: [1, 2, 3, 4] },
    { read: 'be16', value: [1, 2, 3] },
    { read: 'u32', value: [1, 2] },
    { read: 'u32', value: [1, 2, 3, 4, 5, 6, 7, 8] },
    { read: 's32', value: [1, 2, 3] },
    { read: 'be32', value: [1, 2, 3, 4, 5] },
    { read: 'u64', value: [1, 2, 3, 4] },
    { read: 'be64', value: [1, 2, 3, 4, 5, 6, 7, 8, 9] },
  ] as const)('a $read read of a $value.length-byte attribute is a DecodeError naming type and length', ({ read, value }) => {
    const a = new Attributes(attr(42, [...value]))
    let caught: unknown
    try {
      a[read](42)
    } catch (error) {
      caught = error
    }
    expect(caught).toBeInstanceOf(DecodeError)
    expect(caught).toBeInstanceOf(LabError)
    expect(caught).toMatchObject({ code: 'LAB_ERR_DECODE', attribute: 42, length: value.length, message: `attribute 42 is not a ${read}: length ${value.length}` })
  })

  it('rejects a netlink message whose length overruns the datagram', () => {
    const m = Buffer.alloc(16)
    m.writeUInt32LE(32, 0)
    expect(() => parseMessages(m)).toThrow(DecodeError)
  })
})

describe('rtnetlink decoders on crafted bytes', () => {
  const message = (payload: Buffer) => ({ type: 0, flags: 0, seq: 0, pid: 0, payload })
  const header = (size: number, ...attrs: Buffer[]) => Buffer.concat([Buffer.alloc(size), ...attrs])

  it.each([
    { name: 'link', decode: decodeLink, size: 16 },
    { name: 'addr', decode: decodeAddress, size: 8 },
    { name: 'route', decode: decodeRoute, size: 12 },
    { name: 'neigh', decode: decodeNeighbour, size: 12 },
    { name: 'rule', decode: decodeRule, size: 12 },
  ])('$name: a payload shorter than its fixed header is a DecodeError', ({ decode, size }) => {
    expect(() => decode(message(Buffer.alloc(size - 1)))).toThrow(DecodeError)
  })

  it('link: an IFLA_MTU (4) of 2 bytes is a DecodeError, not a partial read', () => {
    expect(() => decodeLink(message(header(16, attr(4, [0xdc, 0x05]))))).toThrow(/attribute 4 is not a u32: length 2/)
    expect(decodeLink(message(header(16, attr(4, [0xdc, 0x05, 0, 0])))).mtu).toBe(1500)
  })

  it('link: an IFLA_OPERSTATE (16) of 4 bytes is a DecodeError', () => {
    expect(() => decodeLink(message(header(16, attr(16, [6, 0, 0, 0]))))).toThrow(/attribute 16 is not a u8: length 4/)
  })

  it('route: an RTA_OIF (4) of 8 bytes is a DecodeError', () => {
    expect(() => decodeRoute(message(header(12, attr(4, [1, 0, 0, 0, 0, 0, 0, 0]))))).toThrow(/attribute 4 is not a u32: length 8/)
  })

  it('route: a multipath next hop whose length overruns RTA_MULTIPATH is a DecodeError', () => {
    // struct rtnexthop: u16 len (claims 32), u8 flags, u8 hops, s32 ifindex; only 8 bytes present.
    expect(() => decodeRoute(message(header(12, attr(9, [32, 0, 0, 0, 2, 0, 0, 0]))))).toThrow(DecodeError)
  })

  it('addr: an address without IFA_LOCAL or IFA_ADDRESS is a DecodeError', () => {
    expect(() => decodeAddress(message(header(8)))).toThrow(DecodeError)
  })

  it('rule: an FRA_PRIORITY (6) of 2 bytes is a DecodeError', () => {
    expect(() => decodeRule(message(header(12, attr(6, [1, 0]))))).toThrow(/attribute 6 is not a u32: length 2/)
  })
})
