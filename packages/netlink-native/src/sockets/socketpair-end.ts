// One end of an AF_UNIX socketpair as a frame stream: each message event is one datagram (or, on a
// stream pair, whatever arrived). The other end can be handed to a child process as a "cable".
import { native } from '../native.js'
import { FdHandle } from '../io/fd-handle.js'
import { socketpair, type SocketPairType } from '../socketpair.js'
import { DatagramReader, check } from './datagram-reader.js'

const MAX_FRAME = 65536

export class SocketPairEnd extends DatagramReader<Buffer> {
  readonly type: SocketPairType

  constructor(fd: number, type: SocketPairType) {
    const handle = new FdHandle(fd, `socketpair ${type}`)
    const buf = Buffer.allocUnsafe(MAX_FRAME)
    super(handle, () => {
      const n = check(native.read(handle.fd, buf), 'socketpair read', type)
      if (n === 0 && type === 'stream') {
        // The peer closed a stream pair: end the stream.
        queueMicrotask(() => void this.close())
        return undefined
      }
      return n === undefined ? undefined : Buffer.from(buf.subarray(0, n))
    })
    this.type = type
  }

  /** Writes one frame; waits for room when the peer is slow (backpressure). */
  async write(frame: Buffer): Promise<void> {
    let offset = 0
    while (offset < frame.length) {
      const n = check(native.write(this.handle.fd, frame, offset, frame.length - offset), 'socketpair write', this.type)
      if (n === undefined) {
        await this.handle.writable()
        continue
      }
      // Datagram and seqpacket pairs write whole frames; streams may take part of one.
      offset += n
      if (this.type !== 'stream') return
    }
  }

  /** Makes the fd inheritable and stops using it here: pass the number in a child's stdio. */
  handOff(): number {
    const fd = this.handle.release()
    native.setInheritable(fd, true)
    return fd
  }
}

/** A connected pair of frame streams (a virtual Ethernet cable, for dgram/seqpacket). */
export function cable(type: SocketPairType = 'dgram'): [SocketPairEnd, SocketPairEnd] {
  const [a, b] = socketpair(type)
  return [new SocketPairEnd(a, type), new SocketPairEnd(b, type)]
}
