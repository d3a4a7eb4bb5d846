// Capture on a lab interface with AF_PACKET (@lab/netlink-native's PacketSocket), written as
// classic pcap (the format tcpdump -r and Wireshark read, also streamed on a pipe: every record
// is written whole as it arrives).
import { PacketSocket } from '@lab/netlink-native'

const LINKTYPE_ETHERNET = 1
const SNAPLEN = 65535

export class PcapWriter {
  constructor(readonly write: (chunk: Buffer) => void) {
    // struct pcap_file_header: magic, version 2.4, thiszone, sigfigs, snaplen, linktype.
    const h = Buffer.alloc(24)
    h.writeUInt32LE(0xa1b2c3d4, 0)
    h.writeUInt16LE(2, 4)
    h.writeUInt16LE(4, 6)
    h.writeUInt32LE(SNAPLEN, 16)
    h.writeUInt32LE(LINKTYPE_ETHERNET, 20)
    write(h)
  }

  frame(data: Buffer, at = Date.now()): void {
    // Record header: seconds, microseconds, captured length, original length.
    const r = Buffer.alloc(16)
    const kept = Math.min(data.length, SNAPLEN)
    r.writeUInt32LE(Math.floor(at / 1000), 0)
    r.writeUInt32LE((at % 1000) * 1000, 4)
    r.writeUInt32LE(kept, 8)
    r.writeUInt32LE(data.length, 12)
    this.write(Buffer.concat([r, data.subarray(0, kept)]))
  }
}

export interface CaptureOptions {
  netns: string
  interface: string
  /** Stop after this many frames (default: until the signal aborts). */
  count?: number
  signal?: AbortSignal
  /** Called for every frame (after it was written when a writer is given). */
  onFrame?: (data: Buffer) => void
  writer?: PcapWriter
  /** Called once the socket is bound: frames from then on are seen. */
  onReady?: () => void
}

/** Captures until `count` frames or the signal; resolves to the number of frames captured. */
export async function capture(options: CaptureOptions): Promise<number> {
  const socket = await PacketSocket.open({ netns: options.netns, interface: options.interface, protocol: 'all', type: 'raw' })
  const stop = () => void socket.close()
  options.signal?.addEventListener('abort', stop, { once: true })
  let n = 0
  try {
    options.onReady?.()
    if (options.signal?.aborted) return 0
    for await (const frame of socket) {
      options.writer?.frame(frame.data)
      options.onFrame?.(frame.data)
      if (options.count !== undefined && ++n >= options.count) break
      if (options.count === undefined) n++
    }
    return n
  } finally {
    options.signal?.removeEventListener('abort', stop)
    await socket.close()
  }
}
