// rtnetlink multicast events as an async iterator of typed values. A dedicated socket joins the
// groups; when the kernel drops events (ENOBUFS), the consumer hears `overrun` and then gets the
// current state again, so nothing is silently missed.
import { NETLINK_ROUTE } from '../netlink/constants.js'
import type { NetlinkMessage } from '../netlink/message.js'
import { NetlinkSocket } from '../netlink/socket.js'
import { eventStream, type EventSink } from '../netlink/event-stream.js'
import { decodeAddress, type Address } from './addr.js'
import * as C from './constants.js'
import { decodeLink, type Link } from './link.js'
import { decodeNeighbour, type Neighbour } from './neigh.js'
import { decodeRoute, type Route } from './route.js'
import { decodeRule, type Rule } from './rule.js'

export type WatchKind = 'link' | 'addr' | 'route' | 'neigh' | 'rule'
export type EventAction = 'new' | 'del'

export type NetlinkEvent =
  | { kind: 'link'; action: EventAction; link: Link; resync?: boolean }
  | { kind: 'addr'; action: EventAction; addr: Address; resync?: boolean }
  | { kind: 'route'; action: EventAction; route: Route; resync?: boolean }
  | { kind: 'neigh'; action: EventAction; neigh: Neighbour; resync?: boolean }
  | { kind: 'rule'; action: EventAction; rule: Rule; resync?: boolean }
  | { kind: 'overrun' }

const GROUPS: Record<WatchKind, number[]> = {
  link: [C.RTNLGRP_LINK],
  addr: [C.RTNLGRP_IPV4_IFADDR, C.RTNLGRP_IPV6_IFADDR],
  route: [C.RTNLGRP_IPV4_ROUTE, C.RTNLGRP_IPV6_ROUTE],
  neigh: [C.RTNLGRP_NEIGH],
  rule: [C.RTNLGRP_IPV4_RULE, C.RTNLGRP_IPV6_RULE],
}

export function decodeEvent(message: NetlinkMessage): NetlinkEvent | undefined {
  switch (message.type) {
    case C.RTM_NEWLINK:
    case C.RTM_DELLINK:
      return { kind: 'link', action: message.type === C.RTM_NEWLINK ? 'new' : 'del', link: decodeLink(message) }
    case C.RTM_NEWADDR:
    case C.RTM_DELADDR:
      return { kind: 'addr', action: message.type === C.RTM_NEWADDR ? 'new' : 'del', addr: decodeAddress(message) }
    case C.RTM_NEWROUTE:
    case C.RTM_DELROUTE:
      return { kind: 'route', action: message.type === C.RTM_NEWROUTE ? 'new' : 'del', route: decodeRoute(message) }
    case C.RTM_NEWNEIGH:
    case C.RTM_DELNEIGH:
      return { kind: 'neigh', action: message.type === C.RTM_NEWNEIGH ? 'new' : 'del', neigh: decodeNeighbour(message) }
    case C.RTM_NEWRULE:
    case C.RTM_DELRULE:
      return { kind: 'rule', action: message.type === C.RTM_NEWRULE ? 'new' : 'del', rule: decodeRule(message) }
    default:
      return undefined
  }
}

export function watchEvents(
  netns: string | undefined,
  kinds: WatchKind[],
  signal: AbortSignal | undefined,
  snapshot: (kind: WatchKind) => Promise<NetlinkEvent[]>,
  receiveBufferBytes?: number,
  maxQueued?: number,
): AsyncIterableIterator<NetlinkEvent> {
  // Opened synchronously: the socket has joined its groups when watch() returns, so no change
  // made after that is missed.
  const socket = NetlinkSocket.openSync({ protocol: NETLINK_ROUTE, netns, groups: kinds.flatMap((k) => GROUPS[k]), receiveBufferBytes })
  let resyncing = false
  let lostDuringResync = false
  const resync = (sink: EventSink<NetlinkEvent>) => {
    resyncing = true
    sink.push({ kind: 'overrun' })
    void (async () => {
      try {
        for (const kind of kinds) for (const e of await snapshot(kind)) sink.push(e)
      } catch (error) {
        sink.fail(error)
      } finally {
        resyncing = false
      }
      // Events lost while the snapshot was read may be newer than it: report and resync again.
      if (lostDuringResync) {
        lostDuringResync = false
        resync(sink)
      }
    })()
  }
  return eventStream<NetlinkEvent>(socket, {
    decode: decodeEvent,
    signal,
    maxQueued,
    // Events were lost: say so, then give the current state of every watched kind.
    onOverrun(sink) {
      if (resyncing) lostDuringResync = true
      else resync(sink)
    },
  })
}
