import { describe, expect, it } from 'vitest'
import { AttributeWriter, Attributes } from '../src/index.js'

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

  it('rejects attributes that overrun their buffer', () => {
    const bad = Buffer.from([8, 0, 1, 0, 0, 0])
    expect(() => new Attributes(bad)).toThrow(/overruns/)
  })
})
