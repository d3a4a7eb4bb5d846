// Routes (RTM_*ROUTE), IPv4 and IPv6, with tables, scope, protocol, metric, preferred source and
// multipath next hops.
import { ArgumentError } from '../errors.js'
import { Attributes, fixedHeader } from '../netlink/attributes.js'
import { NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE } from '../netlink/constants.js'
import type { MessageWriter, NetlinkMessage } from '../netlink/message.js'
import { checkRef, refsOf, type LinkRef, type Operation, type RequestContext } from './context.js'
import * as C from './constants.js'
import { afOf, familyOf, formatIp, networkOf, parseCidr, parseIp, type Family, type IpAddress } from './inet.js'

export interface NextHop {
  gateway?: string
  /** Index of the next hop's interface. */
  index?: number
  weight: number
}

export interface Route {
  family: Family
  /** "default" or "10.0.0.0/24" */
  dst: string
  gateway?: string
  /** Index of the output interface (RTA_OIF). */
  index?: number
  prefsrc?: string
  table: number
  protocol: number
  scope: number
  type: (typeof C.ROUTE_TYPES)[number]
  metric?: number
  multipath?: NextHop[]
  flags: number
  /** IPv6 router preference (RTA_PREF, RFC 4191). */
  pref?: 'low' | 'medium' | 'high'
}

export interface NextHopOptions {
  gateway?: string
  /** The next hop's interface (`dev` in `ip route`). */
  interface?: LinkRef
  /** 1..256, like `ip route ... weight N`. */
  weight?: number
}

export interface RouteOptions {
  /** "default", "10.0.0.0/24", or a bare address for a host route. */
  dst: string
  gateway?: string
  /** The output interface (`dev` in `ip route`). */
  interface?: LinkRef
  /** Preferred source address (`src` in `ip route`). */
  src?: string
  table?: keyof typeof C.TABLES | number
  protocol?: keyof typeof C.RTPROT | number
  scope?: keyof typeof C.SCOPES | number
  type?: (typeof C.ROUTE_TYPES)[number]
  metric?: number
  multipath?: NextHopOptions[]
  onlink?: boolean
  /** Force the address family for "default" (4 unless a gateway says otherwise). */
  family?: Family
  mtu?: number
}

export function decodeRoute(message: NetlinkMessage): Route {
  const p = fixedHeader(message.payload, 12, 'struct rtmsg')
  const af = p.readUInt8(0)
  const family = familyOf(af) ?? 4
  const dstLen = p.readUInt8(1)
  const a = new Attributes(p, 12)
  const dst = a.get(C.RTA_DST)
  const route: Route = {
    family,
    dst: dst ? `${formatIp(dst)}/${dstLen}` : dstLen === 0 ? 'default' : `${family === 4 ? '0.0.0.0' : '::'}/${dstLen}`,
    table: a.u32(C.RTA_TABLE) ?? p.readUInt8(4),
    protocol: p.readUInt8(5),
    scope: p.readUInt8(6),
    type: C.ROUTE_TYPES[p.readUInt8(7)] ?? 'unspec',
    flags: p.readUInt32LE(8),
  }
  const gw = a.get(C.RTA_GATEWAY)
  if (gw) route.gateway = formatIp(gw)
  const oif = a.u32(C.RTA_OIF)
  if (oif !== undefined) route.index = oif
  const prefsrc = a.get(C.RTA_PREFSRC)
  if (prefsrc) route.prefsrc = formatIp(prefsrc)
  const metric = a.u32(C.RTA_PRIORITY)
  if (metric !== undefined) route.metric = metric
  const pref = a.u8(C.RTA_PREF)
  if (pref !== undefined) route.pref = pref === 1 ? 'high' : pref === 3 ? 'low' : 'medium'
  const mp = a.get(C.RTA_MULTIPATH)
  if (mp) {
    const hops: NextHop[] = []
    for (let at = 0; at + 8 <= mp.length; ) {
      const len = mp.readUInt16LE(at)
      if (len < 8) break
      const hop: NextHop = { weight: mp.readUInt8(at + 3) + 1, index: mp.readInt32LE(at + 4) }
      const nested = new Attributes(mp, at + 8, at + len)
      const g = nested.get(C.RTA_GATEWAY)
      if (g) hop.gateway = formatIp(g)
      hops.push(hop)
      at += (len + 3) & ~3
    }
    route.multipath = hops
  }
  return route
}

function lookup<T extends Record<string, number>>(table: T, value: string | number | undefined, field: string, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value === 'number') return value
  const v = table[value]
  if (v === undefined) throw new ArgumentError(field, `unknown ${field} ${value} (${Object.keys(table).join(', ')})`)
  return v
}

export function tableNumber(table: RouteOptions['table']): number {
  return lookup(C.TABLES, table, 'table', C.RT_TABLE_MAIN)
}

interface Prepared {
  family: Family
  dst: { bytes: Buffer; length: number } | undefined
  gateway?: IpAddress
  src?: IpAddress
  table: number
  protocol: number
  scope: number
  type: number
}

function prepare(o: RouteOptions, forDelete: boolean): Prepared {
  if (!o || typeof o.dst !== 'string') throw new ArgumentError('dst', 'required ("default" or a prefix)')
  const gateway = o.gateway !== undefined ? parseIp(o.gateway, 'gateway') : undefined
  const src = o.src !== undefined ? parseIp(o.src, 'src') : undefined
  let family: Family
  let dst: Prepared['dst']
  if (o.dst === 'default') {
    const hopFamily = o.multipath?.find((h) => h.gateway)?.gateway
    family = o.family ?? gateway?.family ?? (hopFamily ? parseIp(hopFamily).family : undefined) ?? src?.family ?? 4
    dst = undefined
  } else {
    const prefix = parseCidr(o.dst, 'dst')
    family = prefix.family
    dst = { bytes: networkOf(prefix), length: prefix.length }
  }
  if (gateway && gateway.family !== family) throw new ArgumentError('gateway', 'address family differs from dst')
  if (o.interface !== undefined) checkRef(o.interface, 'interface')
  for (const [i, h] of (o.multipath ?? []).entries()) {
    if (h.interface !== undefined) checkRef(h.interface, `multipath[${i}].interface`)
    if (h.gateway !== undefined) parseIp(h.gateway, `multipath[${i}].gateway`)
    if (h.weight !== undefined && (h.weight < 1 || h.weight > 256)) throw new ArgumentError(`multipath[${i}].weight`, '1..256')
  }
  if (!forDelete && o.type === undefined && !gateway && o.interface === undefined && !o.multipath) {
    throw new ArgumentError('gateway', 'a unicast route needs a gateway, an interface or multipath next hops')
  }
  const type = o.type ? C.ROUTE_TYPES.indexOf(o.type) : C.RTN_UNICAST
  if (type < 0) throw new ArgumentError('type', `unknown route type ${o.type}`)
  // `ip route add` defaults: protocol boot; scope link for a unicast route without a gateway.
  const defaultScope = type === C.RTN_LOCAL ? C.RT_SCOPE_HOST : type === C.RTN_UNICAST && !gateway && !o.multipath ? C.RT_SCOPE_LINK : C.RT_SCOPE_UNIVERSE
  return {
    family,
    dst,
    gateway,
    src,
    table: tableNumber(o.table),
    protocol: lookup(C.RTPROT, o.protocol, 'protocol', forDelete ? 0 : C.RTPROT.boot!),
    scope: lookup(C.SCOPES, o.scope, 'scope', forDelete ? C.RT_SCOPE_NOWHERE : defaultScope),
    type,
  }
}

function rtmsg(w: MessageWriter, p: Prepared, flags: number): void {
  const at = w.reserve(12)
  w.buf.writeUInt8(afOf(p.family), at)
  w.buf.writeUInt8(p.dst?.length ?? 0, at + 1)
  w.buf.writeUInt8(p.table < 256 ? p.table : 252 /* RT_TABLE_COMPAT */, at + 4)
  w.buf.writeUInt8(p.protocol, at + 5)
  w.buf.writeUInt8(p.scope, at + 6)
  w.buf.writeUInt8(p.type, at + 7)
  w.buf.writeUInt32LE(flags, at + 8)
}

function writeRoute(w: MessageWriter, o: RouteOptions, p: Prepared, ctx: RequestContext): void {
  rtmsg(w, p, o.onlink ? C.RTNH_F_ONLINK : 0)
  w.u32(C.RTA_TABLE, p.table)
  if (p.dst) w.attr(C.RTA_DST, p.dst.bytes)
  if (p.gateway) w.attr(C.RTA_GATEWAY, p.gateway.bytes)
  if (o.interface !== undefined) w.u32(C.RTA_OIF, ctx.index(o.interface, 'interface'))
  if (p.src) w.attr(C.RTA_PREFSRC, p.src.bytes)
  if (o.metric !== undefined) w.u32(C.RTA_PRIORITY, o.metric)
  if (o.mtu !== undefined) w.nested(C.RTA_METRICS, () => w.u32(2 /* RTAX_MTU */, o.mtu!), false)
  if (o.multipath) {
    const at = w.beginNested(C.RTA_MULTIPATH, false)
    for (const hop of o.multipath) {
      const hopAt = w.reserve(8)
      w.buf.writeUInt8(o.onlink ? C.RTNH_F_ONLINK : 0, hopAt + 2)
      w.buf.writeUInt8((hop.weight ?? 1) - 1, hopAt + 3)
      w.buf.writeInt32LE(hop.interface !== undefined ? ctx.index(hop.interface, 'multipath.interface') : 0, hopAt + 4)
      if (hop.gateway) w.attr(C.RTA_GATEWAY, parseIp(hop.gateway).bytes)
      w.buf.writeUInt16LE(w.length - hopAt, hopAt)
    }
    w.endNested(at)
  }
}

function routeOperation(kind: 'add' | 'replace' | 'append' | 'del', o: RouteOptions): Operation<void> {
  const p = prepare(o, kind === 'del')
  const flags = kind === 'add' ? NLM_F_CREATE | NLM_F_EXCL : kind === 'replace' ? NLM_F_CREATE | NLM_F_REPLACE : kind === 'append' ? NLM_F_CREATE | 0x800 : 0
  return {
    refs: refsOf(o.interface, ...(o.multipath ?? []).map((h) => h.interface)),
    change: { kind: 'route', action: kind, route: o },
    encode: (ctx) => ({
      type: kind === 'del' ? C.RTM_DELROUTE : C.RTM_NEWROUTE,
      flags,
      op: `route ${kind}`,
      object: [o.dst, o.gateway && `via ${o.gateway}`, o.interface !== undefined && `dev ${o.interface}`, o.table !== undefined && `table ${o.table}`]
        .filter(Boolean)
        .join(' '),
      body: (w) => writeRoute(w, o, p, ctx),
    }),
    decode: () => undefined,
  }
}

export const routeAdd = (o: RouteOptions) => routeOperation('add', o)
export const routeReplace = (o: RouteOptions) => routeOperation('replace', o)
export const routeAppend = (o: RouteOptions) => routeOperation('append', o)
export const routeDel = (o: RouteOptions) => routeOperation('del', o)

export function routeDumpRequest(w: MessageWriter, family?: Family): void {
  const at = w.reserve(12)
  w.buf.writeUInt8(family ? afOf(family) : 0, at)
}
