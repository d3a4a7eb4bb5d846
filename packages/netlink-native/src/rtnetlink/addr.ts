// Addresses (RTM_*ADDR), IPv4 and IPv6.
import { ArgumentError, DecodeError } from '../errors.js'
import { Attributes, fixedHeader } from '../netlink/attributes.js'
import { NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE } from '../netlink/constants.js'
import type { MessageWriter, NetlinkMessage } from '../netlink/message.js'
import { checkRef, refsOf, type LinkRef, type Operation } from './context.js'
import * as C from './constants.js'
import { afOf, familyOf, formatIp, parseCidr, parseIp, type Family } from './inet.js'

export interface Address {
  family: Family
  /** Interface index. */
  index: number
  /** The address itself (IFA_LOCAL for IPv4, IFA_ADDRESS otherwise). */
  address: string
  prefixLength: number
  /** "10.0.0.1/24" */
  cidr: string
  /** IFA_ADDRESS when it differs from the local address (the peer of a point-to-point link). */
  peer?: string
  broadcast?: string
  label?: string
  scope: number
  /** Raw IFA_F_* flags. */
  flags: number
  permanent: boolean
  tentative: boolean
  deprecated: boolean
  secondary: boolean
  /** Seconds; 0xffffffff = forever. */
  validLifetime?: number
  preferredLifetime?: number
}

export interface AddressOptions {
  /** Point-to-point peer address. */
  peer?: string
  broadcast?: string
  label?: string
  scope?: keyof typeof C.SCOPES | number
  /** Don't add the prefix route (IFA_F_NOPREFIXROUTE). */
  noPrefixRoute?: boolean
  /** IPv6: skip duplicate address detection. */
  nodad?: boolean
  validLifetime?: number
  preferredLifetime?: number
  metric?: number
}

export function decodeAddress(message: NetlinkMessage): Address {
  const p = fixedHeader(message.payload, 8, 'struct ifaddrmsg')
  const family = familyOf(p.readUInt8(0)) ?? 4
  const prefixLength = p.readUInt8(1)
  const scope = p.readUInt8(3)
  const index = p.readUInt32LE(4)
  const a = new Attributes(p, 8)
  const flags = a.u32(C.IFA_FLAGS) ?? p.readUInt8(2)
  const local = a.get(C.IFA_LOCAL)
  const addressAttr = a.get(C.IFA_ADDRESS)
  const own = local ?? addressAttr
  if (own === undefined) throw new DecodeError(`address on ifindex ${index}: no IFA_LOCAL or IFA_ADDRESS`, { attribute: C.IFA_ADDRESS })
  const address = formatIp(own)
  const out: Address = {
    family,
    index,
    address,
    prefixLength,
    cidr: `${address}/${prefixLength}`,
    scope,
    flags,
    permanent: (flags & C.IFA_F_PERMANENT) !== 0,
    tentative: (flags & C.IFA_F_TENTATIVE) !== 0,
    deprecated: (flags & C.IFA_F_DEPRECATED) !== 0,
    secondary: (flags & C.IFA_F_SECONDARY) !== 0,
  }
  if (local && addressAttr && !local.equals(addressAttr)) out.peer = formatIp(addressAttr)
  const brd = a.get(C.IFA_BROADCAST)
  if (brd) out.broadcast = formatIp(brd)
  const label = a.str(C.IFA_LABEL)
  if (label) out.label = label
  const cache = a.get(C.IFA_CACHEINFO)
  if (cache && cache.length >= 8) {
    out.preferredLifetime = cache.readUInt32LE(0)
    out.validLifetime = cache.readUInt32LE(4)
  }
  return out
}

function scopeOf(value: AddressOptions['scope'], fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value === 'number') return value
  const s = C.SCOPES[value]
  if (s === undefined) throw new ArgumentError('scope', `unknown scope ${value} (global, site, link, host)`)
  return s
}

function ifaddrmsg(w: MessageWriter, af: number, prefixLength: number, flags: number, scope: number, index: number): void {
  const at = w.reserve(8)
  w.buf.writeUInt8(af, at)
  w.buf.writeUInt8(prefixLength, at + 1)
  w.buf.writeUInt8(flags & 0xff, at + 2)
  w.buf.writeUInt8(scope, at + 3)
  w.buf.writeUInt32LE(index, at + 4)
}

function addrOperation(kind: 'add' | 'replace' | 'del', link: LinkRef, cidr: string, o: AddressOptions = {}): Operation<void> {
  checkRef(link, 'link')
  const prefix = parseCidr(cidr, 'address')
  const peer = o.peer !== undefined ? parseIp(o.peer, 'peer') : undefined
  const brd = o.broadcast !== undefined ? parseIp(o.broadcast, 'broadcast') : undefined
  if (peer && peer.family !== prefix.family) throw new ArgumentError('peer', 'address family differs from the address')
  if (brd && brd.family !== 4) throw new ArgumentError('broadcast', 'broadcast addresses are IPv4 only')
  // Like `ip`, loopback addresses default to host scope.
  const defaultScope = prefix.family === 4 && prefix.bytes[0] === 127 ? C.RT_SCOPE_HOST : C.RT_SCOPE_UNIVERSE
  const scope = scopeOf(o.scope, defaultScope)
  let flags = 0
  if (o.noPrefixRoute) flags |= C.IFA_F_NOPREFIXROUTE
  if (o.nodad) flags |= C.IFA_F_NODAD
  const type = kind === 'del' ? C.RTM_DELADDR : C.RTM_NEWADDR
  const nlFlags = kind === 'add' ? NLM_F_CREATE | NLM_F_EXCL : kind === 'replace' ? NLM_F_CREATE | NLM_F_REPLACE : 0
  return {
    refs: refsOf(link),
    change: { kind: 'addr', action: kind, link, address: cidr, ...(kind === 'del' ? {} : { options: o }) },
    encode: (ctx) => ({
      type,
      flags: nlFlags,
      op: `addr ${kind}`,
      object: `${cidr} dev ${link}`,
      body: (w) => {
        ifaddrmsg(w, afOf(prefix.family), prefix.length, flags, scope, ctx.index(link, 'link'))
        if (prefix.family === 4) w.attr(C.IFA_LOCAL, prefix.bytes)
        w.attr(C.IFA_ADDRESS, peer ? peer.bytes : prefix.bytes)
        if (brd) w.attr(C.IFA_BROADCAST, brd.bytes)
        if (o.label) w.str(C.IFA_LABEL, o.label)
        if (flags > 0xff) w.u32(C.IFA_FLAGS, flags)
        if (o.metric !== undefined) w.u32(C.IFA_RT_PRIORITY, o.metric)
        if (o.validLifetime !== undefined || o.preferredLifetime !== undefined) {
          const info = Buffer.alloc(16)
          info.writeUInt32LE(o.preferredLifetime ?? o.validLifetime ?? 0xffffffff, 0)
          info.writeUInt32LE(o.validLifetime ?? 0xffffffff, 4)
          w.attr(C.IFA_CACHEINFO, info)
        }
      },
    }),
    decode: () => undefined,
  }
}

export const addrAdd = (link: LinkRef, cidr: string, o?: AddressOptions) => addrOperation('add', link, cidr, o)
export const addrReplace = (link: LinkRef, cidr: string, o?: AddressOptions) => addrOperation('replace', link, cidr, o)
export const addrDel = (link: LinkRef, cidr: string, o?: AddressOptions) => addrOperation('del', link, cidr, o)

export function addrDumpRequest(w: MessageWriter, family?: Family): void {
  ifaddrmsg(w, family ? afOf(family) : 0, 0, 0, 0, 0)
}
