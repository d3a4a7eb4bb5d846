// The ND codec: typed values to bytes and back, radvd's bytes decoded and re-encoded unchanged,
// every malformed shape refused with NdpDecodeError, and random mutations never escaping as
// anything else.
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { NdpDecodeError, decodeIcmpv6Packet, decodeNdMessage, encodeIcmpv6Packet, encodeNdMessage, formatNdMessage, type NdMessage } from '../src/index.js'

const testdata = (name: string) => fileURLToPath(new URL(`../testdata/${name}`, import.meta.url))

/** The hex lines of a testdata file (lines starting with # are the command and notes). */
function hexFile(name: string): Buffer {
  const text = readFileSync(testdata(name), 'utf8')
  return Buffer.from(text.split('\n').filter((l) => !l.startsWith('#')).join('').replace(/\s+/g, ''), 'hex')
}

const rows: Array<{ name: string; value: NdMessage; hex: string }> = [
  {
    name: 'RS with a source link-layer address (RFC 4861 4.1)',
    value: { type: 'router-solicitation', options: [{ type: 'source-link-layer-address', address: '02:00:00:00:00:02' }] },
    hex: '85000000 00000000 0101020000000002',
  },
  {
    name: 'RA with M and O, a prefix, MTU and RDNSS (RFC 4861 4.2, 4.6.2, 4.6.4; RFC 8106 5.1)',
    value: {
      type: 'router-advertisement',
      curHopLimit: 64,
      managed: true,
      other: true,
      preference: 'medium',
      routerLifetime: 1800,
      reachableTime: 0,
      retransTimer: 0,
      options: [
        { type: 'prefix-information', prefix: 'fd00:1::', prefixLength: 64, onLink: true, autonomous: true, validLifetime: 86400, preferredLifetime: 14400 },
        { type: 'mtu', mtu: 1500 },
        { type: 'rdnss', lifetime: 600, servers: ['fd00:1::53'] },
      ],
    },
    hex: '86000000 40c00708 00000000 00000000' + '0304 40c0 00015180 00003840 00000000 fd000001000000000000000000000000' + '0501 0000 000005dc' + '1903 0000 00000258 fd000001000000000000000000000053',
  },
  {
    name: 'RA with low preference, a route and a search list (RFC 4191 2.2, 2.3; RFC 8106 5.2)',
    value: {
      type: 'router-advertisement',
      curHopLimit: 0,
      managed: false,
      other: false,
      preference: 'low',
      routerLifetime: 0,
      reachableTime: 30000,
      retransTimer: 1000,
      options: [
        { type: 'route-information', prefix: '2001:db8::', prefixLength: 32, preference: 'high', lifetime: 0xffffffff },
        { type: 'dnssl', lifetime: 300, domains: ['lab'] },
      ],
    },
    hex: '86000000 00180000 00007530 000003e8' + '1802 2008 ffffffff 20010db800000000' + '1f02 0000 0000012c 036c616200 000000',
  },
  {
    name: 'NS for an address (RFC 4861 4.3)',
    value: { type: 'neighbor-solicitation', target: 'fe80::1', options: [{ type: 'source-link-layer-address', address: '02:00:00:00:00:02' }] },
    hex: '87000000 00000000 fe800000000000000000000000000001 0101020000000002',
  },
  {
    name: 'NA from a router, solicited, override (RFC 4861 4.4)',
    value: { type: 'neighbor-advertisement', router: true, solicited: true, override: true, target: 'fe80::1', options: [{ type: 'target-link-layer-address', address: '02:00:00:00:00:01' }] },
    hex: '88000000 e0000000 fe800000000000000000000000000001 0201020000000001',
  },
  {
    name: 'an unknown option (a Nonce, RFC 3971 5.3.2) kept as raw bytes',
    value: { type: 'router-solicitation', options: [{ type: 'unknown', code: 14, data: Buffer.from('010203040506', 'hex') }] },
    hex: '85000000 00000000 0e01010203040506',
  },
]

describe('ND codec', () => {
  it.each(rows)('$name', ({ value, hex }) => {
    const bytes = Buffer.from(hex.replace(/\s+/g, ''), 'hex')
    expect(encodeNdMessage(value).toString('hex')).toBe(bytes.toString('hex'))
    expect(decodeNdMessage(bytes)).toEqual(value)
  })

  it("decodes radvd's RA and re-encodes it byte for byte, IPv6 header and checksum included", () => {
    const frame = hexFile('radvd-ra.txt')
    const packet = decodeIcmpv6Packet(frame.subarray(14))
    expect(packet).toMatchObject({ source: 'fe80::707b:85ff:fe6b:3be2', destination: 'ff02::1', hopLimit: 255 })
    const ra = decodeNdMessage(packet.icmp)
    expect(ra).toEqual({
      type: 'router-advertisement',
      curHopLimit: 64,
      managed: true,
      other: true,
      preference: 'high',
      routerLifetime: 12,
      reachableTime: 0,
      retransTimer: 0,
      options: [
        { type: 'prefix-information', prefix: 'fd00:1::', prefixLength: 64, onLink: true, autonomous: true, validLifetime: 86400, preferredLifetime: 14400 },
        // radvd always sends the 24-octet form, so the decoder keeps Length 3 for a /48.
        { type: 'route-information', prefix: 'fd00:99::', prefixLength: 48, preference: 'low', lifetime: 1800, length: 3 },
        { type: 'rdnss', lifetime: 600, servers: ['fd00:1::53', 'fd00:1::54'] },
        { type: 'dnssl', lifetime: 600, domains: ['lab.example', 'example.org'] },
        { type: 'mtu', mtu: 1400 },
        { type: 'source-link-layer-address', address: '02:00:00:00:00:01' },
      ],
    })
    const again = encodeIcmpv6Packet({ ...packet, icmp: encodeNdMessage(ra) })
    expect(again.toString('hex')).toBe(frame.subarray(14).toString('hex'))
    expect(formatNdMessage(ra)).toBe(
      'router advertisement, hop limit 64, Flags [managed, other stateful], pref high, router lifetime 12s, reachable time 0ms, retrans timer 0ms; ' +
        'prefix info: fd00:1::/64, Flags [onlink, auto], valid time 86400s, pref. time 14400s; route info: fd00:99::/48, pref=low, lifetime=1800s; ' +
        'rdnss option: lifetime 600s, addr: fd00:1::53 fd00:1::54; dnssl option: lifetime 600s, domain(s): lab.example, example.org; mtu option: 1400; source link-address 02:00:00:00:00:01',
    )
  })

  const malformed: Array<{ name: string; hex: string; reason: string }> = [
    { name: 'too short for a type', hex: '85', reason: 'short-packet' },
    { name: 'an ICMPv6 echo request', hex: '80000000 00010001', reason: 'bad-type' },
    { name: 'code 1 (RFC 4861 6.1.1)', hex: '85010000 00000000', reason: 'bad-code' },
    { name: 'an RA cut short', hex: '86000000 40000708 0000', reason: 'short-packet' },
    { name: 'an option of length 0 (RFC 4861 6.1.1)', hex: '85000000 00000000 0100020000000002', reason: 'bad-option-length' },
    { name: 'an option longer than the packet', hex: '85000000 00000000 0102020000000002', reason: 'bad-option-length' },
    { name: 'a stray byte after the options', hex: '85000000 00000000 0101020000000002 01', reason: 'bad-option-length' },
    { name: 'a prefix option of length 3', hex: '86000000 40000708 00000000 00000000 0303' + '00'.repeat(22), reason: 'bad-option-length' },
    { name: 'a prefix length of 129', hex: '86000000 40000708 00000000 00000000 0304 8100' + '00'.repeat(28), reason: 'bad-option-value' },
    { name: 'an RDNSS option of even length', hex: '86000000 40000708 00000000 00000000 1902' + '00'.repeat(14), reason: 'bad-option-length' },
    { name: 'a route option too short for its /80 (RFC 4191 2.3)', hex: '86000000 40000708 00000000 00000000 1802 5000 00000000 0000000000000000', reason: 'bad-option-length' },
    { name: 'a DNSSL label running past the option', hex: '86000000 40000708 00000000 00000000 1f02 0000 00000000 3f616200 00000000', reason: 'bad-option-value' },
    { name: 'a DNSSL compression pointer', hex: '86000000 40000708 00000000 00000000 1f02 0000 00000000 c00c0000 00000000', reason: 'bad-option-value' },
    { name: 'an NS for a multicast target (RFC 4861 7.1.1)', hex: '87000000 00000000 ff020000000000000000000000000001', reason: 'bad-field' },
  ]

  it.each(malformed)('refuses $name', ({ hex, reason }) => {
    const bytes = Buffer.from(hex.replace(/\s+/g, ''), 'hex')
    const error = (() => {
      try {
        decodeNdMessage(bytes)
      } catch (e) {
        return e
      }
    })()
    expect(error).toBeInstanceOf(NdpDecodeError)
    expect((error as NdpDecodeError).reason).toBe(reason)
    expect((error as NdpDecodeError).code).toBe('LAB_ERR_NDP_DECODE')
  })

  it('refuses a packet whose checksum or hop limit field was changed in transit', () => {
    const packet = encodeIcmpv6Packet({ source: 'fe80::1', destination: 'ff02::2', icmp: encodeNdMessage(rows[0]!.value) })
    expect(decodeIcmpv6Packet(packet).hopLimit).toBe(255)
    const bad = Buffer.from(packet)
    bad[bad.length - 1]! ^= 1
    expect(() => decodeIcmpv6Packet(bad)).toThrow(expect.objectContaining({ reason: 'bad-checksum' }))
    const long = Buffer.from(packet)
    long.writeUInt16BE(200, 4)
    expect(() => decodeIcmpv6Packet(long)).toThrow(expect.objectContaining({ reason: 'bad-ip-header' }))
  })

  it('lets only NdpDecodeError escape from mutated and truncated packets, and what decodes re-encodes stably', () => {
    // A fixed-seed generator (mulberry32), so a failure repeats; the seeds are radvd's RA and the rows.
    let state = 0x5eed
    const random = () => {
      state = (state + 0x6d2b79f5) | 0
      let t = Math.imul(state ^ (state >>> 15), 1 | state)
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296
    }
    const seeds = [decodeIcmpv6Packet(hexFile('radvd-ra.txt').subarray(14)).icmp, ...rows.map((r) => encodeNdMessage(r.value))]
    let decoded = 0
    for (let i = 0; i < 20_000; i++) {
      const seed = seeds[i % seeds.length]!
      const buf = Buffer.from(seed.subarray(0, random() < 0.2 ? Math.floor(random() * seed.length) : seed.length))
      const flips = 1 + Math.floor(random() * 4)
      for (let f = 0; f < flips && buf.length > 0; f++) buf[Math.floor(random() * buf.length)] = Math.floor(random() * 256)
      let message: NdMessage
      try {
        message = decodeNdMessage(buf)
      } catch (error) {
        if (!(error instanceof NdpDecodeError)) throw new Error(`${buf.toString('hex')}: ${String(error)}`)
        continue
      }
      decoded++
      const bytes = encodeNdMessage(message)
      expect(decodeNdMessage(bytes), buf.toString('hex')).toEqual(message)
      formatNdMessage(message)
    }
    expect(decoded).toBeGreaterThan(1000)
  })
})
