// State changes made through a Netlink handle, published on node:diagnostics_channel so tests,
// status pages and loggers can follow them without the library printing anything. Publishing
// costs one `hasSubscribers` check per change when nobody listens.
import { channel } from 'node:diagnostics_channel'
import type { AddressOptions } from './rtnetlink/addr.js'
import type { LinkRef } from './rtnetlink/context.js'
import type { LinkAddOptions, LinkAttributes } from './rtnetlink/link.js'
import type { RouteOptions } from './rtnetlink/route.js'

/** `lab:netlink:link`: a link was added, changed or deleted (after the kernel acknowledged it). */
export interface LinkChange {
  kind: 'link'
  action: 'add' | 'set' | 'del'
  /** The namespace of the handle (name or path); undefined: the process's own. */
  netns: string | undefined
  /** The link as the caller named it (name or index). */
  link: LinkRef
  /** What was asked for: the add options or the attributes set. */
  options?: LinkAddOptions | LinkAttributes
}

/** `lab:netlink:addr`: an address was added, replaced or deleted. */
export interface AddrChange {
  kind: 'addr'
  action: 'add' | 'replace' | 'del'
  netns: string | undefined
  link: LinkRef
  /** "10.0.0.1/24" */
  address: string
  options?: AddressOptions
}

/** `lab:netlink:route`: a route was added, replaced, appended or deleted. */
export interface RouteChange {
  kind: 'route'
  action: 'add' | 'replace' | 'append' | 'del'
  netns: string | undefined
  route: RouteOptions
}

export type NetlinkChange = LinkChange | AddrChange | RouteChange

/** A change an operation makes, without the namespace (the handle adds it when publishing). */
export type PendingChange = Omit<LinkChange, 'netns'> | Omit<AddrChange, 'netns'> | Omit<RouteChange, 'netns'>

export const CHANNELS = {
  link: channel('lab:netlink:link'),
  addr: channel('lab:netlink:addr'),
  route: channel('lab:netlink:route'),
} as const

/** Publishes a change the kernel acknowledged; nothing is built when nobody subscribes. */
export function publishChange(netns: string | undefined, change: PendingChange): void {
  const ch = CHANNELS[change.kind]
  if (!ch.hasSubscribers) return
  ch.publish({ ...change, netns } as NetlinkChange)
}
