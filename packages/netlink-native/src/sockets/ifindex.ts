// Interface index by name in the namespace of a socket: SIOCGIFINDEX answers for the socket's
// namespace, so no netlink round trip and no namespace switch is needed.
import { checkIfname } from '../rtnetlink/inet.js'
import { sys } from '../errors.js'
import { ifindexByName } from '../sys/ifreq.js'

export function ifindexOf(fd: number, name: string, op: string): number {
  checkIfname(name, 'interface')
  return sys(op, name, () => ifindexByName(fd, name))
}
