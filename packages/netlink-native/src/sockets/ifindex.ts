// Interface index by name in the namespace of a socket: SIOCGIFINDEX answers for the socket's
// namespace, so no netlink round trip and no namespace switch is needed.
import { native } from '../native.js'
import { checkIfname } from '../rtnetlink/inet.js'
import { sys } from '../errors.js'

const SIOCGIFINDEX = 0x8933

export function ifindexOf(fd: number, name: string, op: string): number {
  checkIfname(name, 'interface')
  const req = Buffer.alloc(40)
  req.write(name, 0, 15, 'utf8')
  sys(op, name, () => native.ioctl(fd, SIOCGIFINDEX, req))
  return req.readInt32LE(16)
}
