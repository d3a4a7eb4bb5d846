import { describe, expect, it } from 'vitest'
import { native } from '../src/native.js'
import { ArgumentError, socketpair } from '../src/index.js'

describe('socketpair', () => {
  for (const type of ['dgram', 'stream', 'seqpacket'] as const) {
    it(`carries bytes both ways (${type})`, () => {
      const [a, b] = socketpair(type)
      try {
        expect(native.write(a, Buffer.from('ping'))).toBe(4)
        const buf = Buffer.alloc(64)
        expect(native.read(b, buf)).toBe(4)
        expect(buf.subarray(0, 4).toString()).toBe('ping')
        expect(native.write(b, Buffer.from('pong!'))).toBe(5)
        expect(native.read(a, buf)).toBe(5)
        expect(buf.subarray(0, 5).toString()).toBe('pong!')
      } finally {
        native.close(a)
        native.close(b)
      }
    })
  }

  it('keeps datagram boundaries on dgram pairs', () => {
    const [a, b] = socketpair('dgram')
    try {
      native.write(a, Buffer.from('one'))
      native.write(a, Buffer.from('three'))
      const buf = Buffer.alloc(64)
      expect(native.read(b, buf)).toBe(3)
      expect(native.read(b, buf)).toBe(5)
    } finally {
      native.close(a)
      native.close(b)
    }
  })

  it('rejects an unknown type before any syscall', () => {
    expect(() => socketpair('raw' as never)).toThrow(ArgumentError)
  })

  it('reports EAGAIN as a return value on an empty non-blocking end', () => {
    const [a, b] = socketpair('dgram')
    try {
      native.setNonBlocking(b, true)
      expect(native.read(b, Buffer.alloc(16))).toBe(-11)
    } finally {
      native.close(a)
      native.close(b)
    }
  })

  it('throws a typed errno error on a closed fd', () => {
    const [a, b] = socketpair('dgram')
    native.close(a)
    native.close(b)
    expect(() => native.write(a, Buffer.from('x'))).toThrow(expect.objectContaining({ code: 'EBADF', syscall: 'write' }))
  })
})
