// What a request builder needs from its handle: interface indexes for names (resolved before the
// request is encoded) and fds of other namespaces (opened for the exchange, closed after it).
import { ArgumentError } from '../errors.js'

export type LinkRef = string | number

export interface RequestContext {
  /** Index of a link in the handle's namespace; names must have been resolved beforehand. */
  index(link: LinkRef, field: string): number
  /** An fd for a namespace (name or path), valid until the exchange completes. */
  netnsFd(netns: string): number
}

/** Names a request needs resolved to indexes before it can be encoded. */
export function refsOf(...links: Array<LinkRef | undefined>): string[] {
  return links.filter((l): l is string => typeof l === 'string')
}

export function checkRef(link: unknown, field: string): LinkRef {
  if (typeof link === 'number') {
    if (!Number.isInteger(link) || link <= 0) throw new ArgumentError(field, `invalid interface index ${link}`)
    return link
  }
  if (typeof link === 'string' && link.length > 0 && link.length < 16) return link
  throw new ArgumentError(field, `expected an interface name or index, got ${JSON.stringify(link)}`)
}

/** A prepared operation: the names it refers to, the names it creates, and its encoder. */
export interface Operation<T> {
  refs: string[]
  creates?: string[]
  /** Links it creates with an index given up front ([name, index]): no lookup needed after it. */
  indexes?: Array<[string, number]>
  encode(ctx: RequestContext): import('../netlink/socket.js').NetlinkRequest
  decode(reply: import('../netlink/socket.js').NetlinkReply): T
  /** The change it makes, published on lab:netlink:* once the kernel acknowledged it. */
  change?: import('../diagnostics.js').PendingChange
}
