// Netlink message framing (struct nlmsghdr: u32 len, u16 type, u16 flags, u32 seq, u32 pid).
import { DecodeError } from '../errors.js'
import { AttributeWriter, align4 } from './attributes.js'
import { NLMSG_HDRLEN } from './constants.js'

export interface NetlinkMessage {
  type: number
  flags: number
  seq: number
  pid: number
  /** The bytes after the header: a view into the receive buffer. */
  payload: Buffer
}

/** Splits a datagram into its messages. */
export function parseMessages(buf: Buffer, length = buf.length): NetlinkMessage[] {
  const out: NetlinkMessage[] = []
  let at = 0
  while (at + NLMSG_HDRLEN <= length) {
    const len = buf.readUInt32LE(at)
    if (len < NLMSG_HDRLEN || at + len > length) {
      throw new DecodeError(`netlink message at ${at}: length ${len} overruns ${length - at} bytes`, { length: len, offset: at })
    }
    out.push({
      type: buf.readUInt16LE(at + 4),
      flags: buf.readUInt16LE(at + 6),
      seq: buf.readUInt32LE(at + 8),
      pid: buf.readUInt32LE(at + 12),
      payload: buf.subarray(at + NLMSG_HDRLEN, at + len),
    })
    at += align4(len)
  }
  return out
}

/** Writes whole messages: `begin()` a header, append the body, `end()` patches the length. */
export class MessageWriter extends AttributeWriter {
  begin(type: number, flags: number, seq: number, pid = 0): number {
    const at = this.reserve(NLMSG_HDRLEN)
    this.buf.writeUInt16LE(type, at + 4)
    this.buf.writeUInt16LE(flags, at + 6)
    this.buf.writeUInt32LE(seq >>> 0, at + 8)
    this.buf.writeUInt32LE(pid >>> 0, at + 12)
    return at
  }

  end(at: number): void {
    this.buf.writeUInt32LE(this.length - at, at)
  }
}
