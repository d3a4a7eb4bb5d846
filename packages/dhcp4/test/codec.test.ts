import { describe, expect, it } from 'vitest'
import { ArgumentError } from '@lab/netlink-native'
import { DhcpDecodeError, DhcpError, DhcpMessage, type OptionValue } from '../src/index.js'

function full(): DhcpMessage {
  const m = new DhcpMessage({ op: 2, xid: 0xdeadbeef, secs: 3, broadcast: true, yiaddr: '10.1.0.2', siaddr: '10.1.0.1', giaddr: '10.9.0.1', chaddr: '02:00:00:00:00:01', sname: 'switch', file: 'boot.efi' })
  m.set(53, 'ACK')
    .set(1, '255.255.255.0')
    .set(2, -3600)
    .set(3, ['10.1.0.1'])
    .set(6, ['10.42.0.3', '1.1.1.1'])
    .set(12, 'vm1')
    .set(15, 'lab.test')
    .set(26, 1400)
    .set(28, '10.1.0.255')
    .set(42, ['10.1.0.1'])
    .set(51, 43200)
    .set(54, '10.1.0.1')
    .set(55, [1, 3, 6, 15, 121])
    .set(56, 'hello')
    .set(57, 1500)
    .set(58, 21600)
    .set(59, 37800)
    .set(60, 'lab-client')
    .set(61, Buffer.from([1, 2, 0, 0, 0, 0, 1]))
    .set(66, 'tftp.lab')
    .set(67, 'pxe.bin')
    .set(81, { flags: 0x05, rcode1: 0, rcode2: 0, name: 'vm1.lab.test' })
    .set(82, new Map([[1, Buffer.from('eth0')], [2, Buffer.from([1, 2, 3])]]))
    .set(119, ['lab.test', 'example.org'])
    .set(121, [{ destination: '0.0.0.0', prefixLength: 0, router: '10.1.0.1' }, { destination: '10.0.0.0', prefixLength: 8, router: '10.1.0.254' }, { destination: '192.168.1.0', prefixLength: 24, router: '10.1.0.253' }])
  m.setRaw(224, Buffer.from('private'))
  return m
}

const plain = (m: DhcpMessage) => ({ ...m, options: [...m.options] as Array<[number, OptionValue]> })

describe('DHCP codec', () => {
  it('rejects dotted quads with leading zeros as ip does (010.0.0.1 is not 10.0.0.1, nor 8.0.0.1)', () => {
    expect(() => new DhcpMessage({ op: 2, xid: 1, yiaddr: '010.0.0.1', chaddr: '02:00:00:00:00:01' }).encode()).toThrow(ArgumentError)
    expect(() => new DhcpMessage({ op: 2, xid: 1, chaddr: '02:00:00:00:00:01' }).set(54, '10.0.0.01').encode()).toThrow(/option 54: invalid IPv4 address/)
    expect(() => new DhcpMessage({ op: 2, xid: 1, chaddr: '02:00:00:00:00:01' }).set(3, ['10.0.0.1', '1.02.3.4']).encode()).toThrow(ArgumentError)
  })

  it('fails decoding with a DhcpDecodeError, a DhcpError with a stable code', () => {
    const error = (() => {
      try {
        DhcpMessage.decode(Buffer.alloc(10))
      } catch (e) {
        return e
      }
    })()
    expect(error).toBeInstanceOf(DhcpDecodeError)
    expect(error).toBeInstanceOf(DhcpError)
    expect(error).toMatchObject({ code: 'LAB_ERR_DHCP_DECODE', reason: 'short-packet' })
  })

  it('round-trips every typed option and the header', () => {
    const m = full()
    const again = DhcpMessage.decode(m.encode())
    expect(plain(again)).toEqual(plain(m))
    expect(again.messageType).toBe('ACK')
    expect(m.encode().length).toBeGreaterThanOrEqual(300)
  })

  it('encodes RFC 3442 routes with only the significant destination octets', () => {
    const bytes = new DhcpMessage().set(121, [{ destination: '10.0.0.0', prefixLength: 8, router: '10.0.0.1' }, { destination: '0.0.0.0', prefixLength: 0, router: '10.0.0.2' }]).encode()
    const at = bytes.indexOf(Buffer.from([121, 11]))
    expect([...bytes.subarray(at, at + 13)]).toEqual([121, 11, 8, 10, 10, 0, 0, 1, 0, 10, 0, 0, 2])
  })

  it('splits options longer than 255 bytes and joins them again (RFC 3396)', () => {
    const names = Array.from({ length: 40 }, (_, i) => `domain${i}.example.org`)
    const m = new DhcpMessage().set(53, 'OFFER').set(119, names)
    const bytes = m.encode()
    expect(DhcpMessage.decode(bytes).get(119)).toEqual(names)
    let chunks = 0
    for (let at = 240; bytes[at] !== 255; at += 2 + bytes[at + 1]!) if (bytes[at] === 119) chunks++
    expect(chunks).toBeGreaterThan(1)
  })

  it('joins a repeated short option before decoding it, and reports framing errors before value errors', () => {
    // Decoding reads options in place unless one repeats: a requested address split in two halves
    // (RFC 3396) is one address, neither half an error of its own.
    const bytes = Buffer.from(new DhcpMessage({ op: 1, xid: 8, chaddr: '02:00:00:00:00:0a' }).set(53, 'REQUEST').encode())
    Buffer.from([53, 1, 3, 50, 2, 10, 1, 61, 1, 7, 50, 2, 0, 9, 255]).copy(bytes, 240)
    const d = DhcpMessage.decode(bytes)
    expect(d.get(50)).toBe('10.1.0.9')
    expect([...d.options.keys()]).toEqual([53, 50, 61])
    expect(d.get(61)).toEqual(Buffer.from([7]))
    // A bad value (a 2-byte address) before an option that overruns the packet: the overrun is
    // what decoding reports, as when every option was framed before any value was read.
    const bad = Buffer.from(bytes.subarray(0, 250))
    Buffer.from([53, 1, 3, 50, 2, 10, 1, 12, 9, 0x61]).copy(bad, 240)
    expect(() => DhcpMessage.decode(bad)).toThrow(expect.objectContaining({ reason: 'option-overrun', option: 12 }))
    bad[248] = 1
    expect(() => DhcpMessage.decode(bad)).toThrow(expect.objectContaining({ reason: 'bad-option-length', option: 50 }))
    // An unknown message type, read in place, is a value error naming it.
    bytes[242] = 99
    expect(() => DhcpMessage.decode(bytes)).toThrow(expect.objectContaining({ reason: 'bad-option-value', option: 53 }))
  })

  it('reads options continued in file and sname when option 52 says so', () => {
    const m = new DhcpMessage({ op: 1, xid: 7, chaddr: '02:00:00:00:00:09' }).set(53, 'DISCOVER')
    const bytes = Buffer.from(m.encode())
    // options: message type, overload = 3 (file and sname), end
    Buffer.from([53, 1, 1, 52, 1, 3, 255]).copy(bytes, 240)
    Buffer.from([12, 3, 0x61, 0x62, 0x63, 255]).copy(bytes, 108) // file: hostname "abc"
    Buffer.from([15, 3, 0x6c, 0x61, 0x62, 255]).copy(bytes, 44) // sname: domain "lab"
    const d = DhcpMessage.decode(bytes)
    expect(d.get(12)).toBe('abc')
    expect(d.get(15)).toBe('lab')
    expect(d.file).toBe('')
    expect(d.options.has(52)).toBe(false)
  })

  it('keeps unknown options raw and re-encodes them unchanged', () => {
    const d = DhcpMessage.decode(full().encode())
    expect(d.options.get(224)).toEqual(Buffer.from('private'))
    const bytes = d.encode()
    expect(bytes.includes(Buffer.from([224, 7, ...Buffer.from('private')]))).toBe(true)
  })

  it.each([
    ['short packet', Buffer.alloc(100), 'short-packet'],
    ['bad cookie', (() => { const b = full().encode(); b[236] = 0; return b })(), 'bad-cookie'],
    ['bad op', (() => { const b = full().encode(); b[0] = 9; return b })(), 'bad-op'],
    ['option overrun', (() => { const b = new DhcpMessage().encode(); Buffer.from([12, 200, 0x61]).copy(b, 240); return b })(), 'option-overrun'],
    ['bad length for a typed option', (() => { const b = new DhcpMessage().encode(); Buffer.from([1, 3, 255, 255, 0, 255]).copy(b, 240); return b })(), 'bad-option-length'],
    ['unknown message type', (() => { const b = new DhcpMessage().encode(); Buffer.from([53, 1, 99, 255]).copy(b, 240); return b })(), 'bad-option-value'],
  ])('rejects a %s with a typed error', (_what, bytes, reason) => {
    let error: unknown
    try {
      DhcpMessage.decode(bytes as Buffer)
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(DhcpDecodeError)
    expect((error as DhcpDecodeError).reason).toBe(reason)
  })

  it('prints readably', () => {
    const text = full().toString()
    expect(text.split('\n')[0]).toBe('DHCPACK xid 0xdeadbeef chaddr 02:00:00:00:00:01 broadcast')
    expect(text).toContain('router (3): 10.1.0.1')
    expect(text).toContain('classless-routes (121): 0.0.0.0/0 via 10.1.0.1, 10.0.0.0/8 via 10.1.0.254, 192.168.1.0/24 via 10.1.0.253')
    expect(text).toContain('lease-time (51): 43200s')
    expect(text).toContain('parameter-request-list (55): subnet-mask, router, dns, domain-name, classless-routes')
  })

  it('survives fuzzing: random and mutated packets decode or fail with DhcpDecodeError only', () => {
    let seed = 99
    const random = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff
    const base = full().encode()
    let decoded = 0
    for (let i = 0; i < 30_000; i++) {
      let packet: Buffer
      if (i % 3 === 0) {
        packet = Buffer.alloc(Math.floor(random() * 600))
        for (let j = 0; j < packet.length; j++) packet[j] = Math.floor(random() * 256)
        if (packet.length >= 240 && random() < 0.7) Buffer.from([99, 130, 83, 99]).copy(packet, 236)
        if (packet.length > 0 && random() < 0.7) packet[0] = 1 + Math.floor(random() * 2)
      } else {
        packet = Buffer.from(base)
        const flips = 1 + Math.floor(random() * 8)
        for (let j = 0; j < flips; j++) packet[240 + Math.floor(random() * (packet.length - 240))] = Math.floor(random() * 256)
        if (random() < 0.2) packet = packet.subarray(0, Math.floor(random() * packet.length))
      }
      let m: DhcpMessage | undefined
      try {
        m = DhcpMessage.decode(packet)
      } catch (error) {
        if (!(error instanceof DhcpDecodeError)) throw error
      }
      if (m) {
        decoded++
        // What decodes re-encodes, and decodes to the same thing.
        expect(plain(DhcpMessage.decode(m.encode()))).toEqual(plain(m))
      }
    }
    expect(decoded).toBeGreaterThan(1000)
  })
})
