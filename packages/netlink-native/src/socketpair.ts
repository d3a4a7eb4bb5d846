// AF_UNIX socketpairs: "virtual Ethernet cables" between VMs and processes. One end can be kept and
// wrapped as a frame stream here, the other passed to a child (QEMU `-netdev socket,fd=` or stdio).
import { native } from './native.js'
import { ArgumentError, sys } from './errors.js'
import { SOCK_DGRAM, SOCK_SEQPACKET, SOCK_STREAM } from './sys/socket.js'

export type SocketPairType = 'dgram' | 'stream' | 'seqpacket'

const types: Record<SocketPairType, number> = { stream: SOCK_STREAM, dgram: SOCK_DGRAM, seqpacket: SOCK_SEQPACKET }

/** Creates a connected AF_UNIX pair and returns its two fds (close-on-exec; the caller owns them). */
export function socketpair(type: SocketPairType = 'dgram'): [number, number] {
  const value = types[type]
  if (value === undefined) throw new ArgumentError('type', `expected dgram, stream or seqpacket, got ${String(type)}`)
  return sys('socketpair', type, () => native.socketpair(value))
}
