// Neighbours (RTM_*NEIGH): ARP and NDP entries, and bridge FDB entries (family bridge).
import { ArgumentError } from '../errors.js'
import { Attributes, fixedHeader } from '../netlink/attributes.js'
import { NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE } from '../netlink/constants.js'
import type { MessageWriter, NetlinkMessage } from '../netlink/message.js'
import { checkRef, refsOf, type LinkRef, type Operation } from './context.js'
import * as C from './constants.js'
import { AF_BRIDGE, afOf, familyOf, formatIp, formatMac, parseIp, parseMac, type Family } from './inet.js'

export interface Neighbour {
  family: Family | 'bridge'
  index: number
  /** IP address (absent for bridge FDB entries). */
  address?: string
  lladdr?: string
  /** NUD state names: reachable, stale, permanent, ... */
  state: string[]
  flags: number
  router: boolean
  proxy: boolean
}

export interface NeighbourOptions {
  /** The interface the entry belongs to (`dev` in `ip neigh`). */
  interface: LinkRef
  address: string
  lladdr?: string
  state?: keyof typeof C.NUD
  router?: boolean
  proxy?: boolean
}

function stateNames(state: number): string[] {
  if (state === 0) return ['none']
  return Object.entries(C.NUD)
    .filter(([, bit]) => bit !== 0 && (state & bit) !== 0)
    .map(([name]) => name)
}

export function decodeNeighbour(message: NetlinkMessage): Neighbour {
  const p = fixedHeader(message.payload, 12, 'struct ndmsg')
  const af = p.readUInt8(0)
  const flags = p.readUInt8(10)
  const a = new Attributes(p, 12)
  const n: Neighbour = {
    family: af === AF_BRIDGE ? 'bridge' : (familyOf(af) ?? 4),
    index: p.readInt32LE(4),
    state: stateNames(p.readUInt16LE(8)),
    flags,
    router: (flags & 0x80) !== 0,
    proxy: (flags & C.NTF_PROXY) !== 0,
  }
  const dst = a.get(C.NDA_DST)
  if (dst) n.address = formatIp(dst)
  const ll = a.get(C.NDA_LLADDR)
  if (ll && ll.length > 0) n.lladdr = formatMac(ll)
  return n
}

function ndmsg(w: MessageWriter, af: number, index: number, state: number, flags: number): void {
  const at = w.reserve(12)
  w.buf.writeUInt8(af, at)
  w.buf.writeInt32LE(index, at + 4)
  w.buf.writeUInt16LE(state, at + 8)
  w.buf.writeUInt8(flags, at + 10)
}

function neighOperation(kind: 'add' | 'replace' | 'del', o: NeighbourOptions): Operation<void> {
  checkRef(o.interface, 'interface')
  const ip = parseIp(o.address, 'address')
  const ll = o.lladdr !== undefined ? parseMac(o.lladdr, 'lladdr') : undefined
  if (kind !== 'del' && !ll && !o.proxy) throw new ArgumentError('lladdr', 'required to add a neighbour entry')
  const state = o.state === undefined ? C.NUD.permanent! : C.NUD[o.state]
  if (state === undefined) throw new ArgumentError('state', `unknown state ${o.state}`)
  const flags = (o.router ? 0x80 : 0) | (o.proxy ? C.NTF_PROXY : 0)
  return {
    refs: refsOf(o.interface),
    encode: (ctx) => ({
      type: kind === 'del' ? C.RTM_DELNEIGH : C.RTM_NEWNEIGH,
      flags: kind === 'add' ? NLM_F_CREATE | NLM_F_EXCL : kind === 'replace' ? NLM_F_CREATE | NLM_F_REPLACE : 0,
      op: `neigh ${kind}`,
      object: `${o.address} dev ${o.interface}`,
      body: (w) => {
        ndmsg(w, afOf(ip.family), ctx.index(o.interface, 'interface'), kind === 'del' ? 0 : state, flags)
        w.attr(C.NDA_DST, ip.bytes)
        if (ll) w.attr(C.NDA_LLADDR, ll)
      },
    }),
    decode: () => undefined,
  }
}

export const neighAdd = (o: NeighbourOptions) => neighOperation('add', o)
export const neighReplace = (o: NeighbourOptions) => neighOperation('replace', o)
export const neighDel = (o: NeighbourOptions) => neighOperation('del', o)

export function neighDumpRequest(w: MessageWriter, family?: Family | 'bridge'): void {
  ndmsg(w, family === 'bridge' ? AF_BRIDGE : family ? afOf(family) : 0, 0, 0, 0)
}
