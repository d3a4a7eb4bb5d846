// Ruleset change events, like `nft monitor`: every table, chain, rule, set and element added or
// deleted in the namespace, decoded into the same types as read-back, and each commit's generation.
import { NetlinkSocket, type NetlinkMessage } from './netlink.js'
import { NETLINK_NETFILTER } from './netlink-constants.js'
import { MSG, NFNL_SUBSYS_NFTABLES } from './constants.js'
import { decodeChain, type Chain } from './objects/chain.js'
import { decodeRule, type Rule } from './objects/rule.js'
import { decodeSet, type NftSet } from './objects/set.js'
import { decodeTable, type Table } from './objects/table.js'
import { Attributes, eventStream } from '@lab/netlink-native'

const NFNLGRP_NFTABLES = 7

export type NftEvent =
  | { kind: 'table'; action: 'new' | 'del'; table: Table }
  | { kind: 'chain'; action: 'new' | 'del'; chain: Chain }
  | { kind: 'rule'; action: 'new' | 'del'; rule: Rule }
  | { kind: 'set'; action: 'new' | 'del'; set: NftSet }
  | { kind: 'element'; action: 'new' | 'del'; table: string; set: string }
  | { kind: 'generation'; id: number }
  | { kind: 'overrun' }

export function decodeNftEvent(m: NetlinkMessage): NftEvent | undefined {
  if (m.type >> 8 !== NFNL_SUBSYS_NFTABLES) return undefined
  const msg = m.type & 0xff
  switch (msg) {
    case MSG.NEWTABLE:
    case MSG.DELTABLE:
      return { kind: 'table', action: msg === MSG.NEWTABLE ? 'new' : 'del', table: decodeTable(m) }
    case MSG.NEWCHAIN:
    case MSG.DELCHAIN:
      return { kind: 'chain', action: msg === MSG.NEWCHAIN ? 'new' : 'del', chain: decodeChain(m) }
    case MSG.NEWRULE:
    case MSG.DELRULE:
      return { kind: 'rule', action: msg === MSG.NEWRULE ? 'new' : 'del', rule: decodeRule(m) }
    case MSG.NEWSET:
    case MSG.DELSET:
      return { kind: 'set', action: msg === MSG.NEWSET ? 'new' : 'del', set: decodeSet(m) }
    case MSG.NEWSETELEM:
    case MSG.DELSETELEM: {
      const a = new Attributes(m.payload, 4)
      return { kind: 'element', action: msg === MSG.NEWSETELEM ? 'new' : 'del', table: a.str(1) ?? '', set: a.str(2) ?? '' }
    }
    case MSG.NEWGEN:
      return { kind: 'generation', id: new Attributes(m.payload, 4).be32(1) ?? 0 }
    default:
      return undefined
  }
}

/**
 * Subscribes, then resolves: the socket has joined the group when this returns, so every change
 * committed after it is seen (the kernel queues events until the stream reads them).
 */
export async function monitorEvents(netns: string | undefined, signal?: AbortSignal): Promise<AsyncIterableIterator<NftEvent>> {
  const socket = await NetlinkSocket.open({ protocol: NETLINK_NETFILTER, netns, groups: [NFNLGRP_NFTABLES] })
  return eventStream<NftEvent>(socket, { decode: decodeNftEvent, signal, onOverrun: (sink) => sink.push({ kind: 'overrun' }) })
}
