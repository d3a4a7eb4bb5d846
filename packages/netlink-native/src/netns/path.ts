import { isAbsolute } from 'node:path'
import { ArgumentError } from '../errors.js'

/** Where named namespaces live, as with `ip netns`. */
export const NETNS_RUN_DIR = '/run/netns'

/** `sw1` → `/run/netns/sw1`; an absolute path (e.g. /proc/1234/ns/net) is used as it is. */
export function resolveNetnsPath(netns: string): string {
  if (isAbsolute(netns)) return netns
  if (!netns || netns.includes('/') || netns === '.' || netns === '..') {
    throw new ArgumentError('netns', `invalid namespace name ${JSON.stringify(netns)}`)
  }
  return `${NETNS_RUN_DIR}/${netns}`
}
