// A lease as the client holds it: the addresses of its IA_NA, the prefixes of its IA_PD and the
// stateless configuration of the same Reply, with the times the client acts on (T1, T2, the end of
// the last valid lifetime), in a shape callbacks can apply directly and a lease file can keep.
import { duidHex } from '../codec/index.js'
import type { AddressIa, LeasedAddress, LeasedPrefix, PrefixIa, ServerReply } from './messages.js'

/** 0xffffffff: an infinite lifetime or T1/T2 (RFC 8415 7.7). */
export const INFINITE = 0xffffffff

/** IRT_DEFAULT and IRT_MINIMUM (RFC 8415 7.6, 21.23), seconds. */
export const IRT_DEFAULT = 86_400
export const IRT_MINIMUM = 600

export interface Dhcp6Lease {
  interface: string
  /** The server's DUID, hex (as the codec's duidHex writes it). */
  serverId: string
  /** The address the Reply came from (the server's, or the relay's, link-local address). */
  serverAddress?: string
  /** The IAID of the IA_NA and IA_PD. */
  iaid: number
  /** IA_NA addresses; each is configured as a /128 (RFC 8415 does not carry a prefix length). */
  addresses: LeasedAddress[]
  /** IA_PD prefixes delegated to this client, for its downstream links. */
  prefixes: LeasedPrefix[]
  dns: string[]
  domains: string[]
  /** Seconds after `acquiredAt`: Renew at T1, Rebind at T2; INFINITE: never. */
  t1: number
  t2: number
  /** Seconds after `acquiredAt` when the last valid lifetime ends; INFINITE: never. */
  validLifetime: number
  /** Clock time (ms) of the Reply: T1, T2 and lifetimes count from here. */
  acquiredAt: number
  /** Information-Request only (stateless DHCPv6, RFC 8415 18.2.6): no addresses, refreshed at T1. */
  stateless?: boolean
}

/** An IA's T1 and T2 must not be reversed (21.4: such an IA is discarded). */
const consistent = (ia: { t1: number; t2: number }) => !(ia.t1 > 0 && ia.t2 > 0 && ia.t1 > ia.t2)

/** 21.6, 21.22: a binding whose preferred lifetime exceeds its valid one is discarded, as is an expired one. */
const usable = (b: { preferredLifetime: number; validLifetime: number }) => b.validLifetime > 0 && b.preferredLifetime <= b.validLifetime

/** The IA_NA and IA_PD of ours in a message, with only what can be used. */
export function usableBindings(m: ServerReply, iaid: number): { iaNa: AddressIa[]; iaPd: PrefixIa[] } {
  const iaNa = m.iaNa.filter((ia) => ia.iaid === iaid && consistent(ia) && !ia.status?.code).map((ia) => ({ ...ia, addresses: ia.addresses.filter(usable) })).filter((ia) => ia.addresses.length > 0)
  const iaPd = m.iaPd.filter((ia) => ia.iaid === iaid && consistent(ia) && !ia.status?.code).map((ia) => ({ ...ia, prefixes: ia.prefixes.filter(usable) })).filter((ia) => ia.prefixes.length > 0)
  return { iaNa, iaPd }
}

/** A time the client chooses when the server left T1/T2 at 0: a fraction of the shortest preferred lifetime (18.2.4: 0.5 and 0.8). */
function fraction(lifetime: number, f: number): number {
  return lifetime === INFINITE ? INFINITE : Math.floor(lifetime * f)
}

function times(ia: { t1: number; t2: number }, bindings: Array<{ preferredLifetime: number; validLifetime: number }>): { t1: number; t2: number } {
  const shortest = Math.min(...bindings.map((b) => b.preferredLifetime))
  return { t1: ia.t1 || fraction(shortest, 0.5), t2: ia.t2 || fraction(shortest, 0.8) }
}

export function leaseFromReply(reply: ServerReply, options: { interface: string; iaid: number; acquiredAt: number; serverAddress?: string }): Dhcp6Lease {
  const { iaNa, iaPd } = usableBindings(reply, options.iaid)
  const addresses = iaNa.flatMap((ia) => ia.addresses)
  const prefixes = iaPd.flatMap((ia) => ia.prefixes)
  const t = [...iaNa.map((ia) => times(ia, ia.addresses)), ...iaPd.map((ia) => times(ia, ia.prefixes))]
  const valid = [...addresses, ...prefixes].map((b) => b.validLifetime)
  return {
    interface: options.interface,
    serverId: reply.serverId ? duidHex(reply.serverId) : '',
    ...(options.serverAddress ? { serverAddress: options.serverAddress } : {}),
    iaid: options.iaid,
    addresses,
    prefixes,
    dns: reply.dns,
    domains: reply.domains,
    t1: t.length ? Math.min(...t.map((x) => x.t1)) : INFINITE,
    t2: t.length ? Math.min(...t.map((x) => x.t2)) : INFINITE,
    validLifetime: valid.includes(INFINITE) ? INFINITE : Math.max(0, ...valid),
    acquiredAt: options.acquiredAt,
  }
}

/** A stateless lease from the Reply to an Information-Request: refreshed after its Information Refresh Time. */
export function leaseFromInformation(reply: ServerReply, options: { interface: string; acquiredAt: number; serverAddress?: string }): Dhcp6Lease {
  const irt = reply.informationRefreshTime
  const refresh = irt === undefined ? IRT_DEFAULT : irt === INFINITE ? INFINITE : Math.max(IRT_MINIMUM, irt)
  return {
    interface: options.interface,
    serverId: reply.serverId ? duidHex(reply.serverId) : '',
    ...(options.serverAddress ? { serverAddress: options.serverAddress } : {}),
    iaid: 0,
    addresses: [],
    prefixes: [],
    dns: reply.dns,
    domains: reply.domains,
    t1: refresh,
    t2: refresh,
    validLifetime: INFINITE,
    acquiredAt: options.acquiredAt,
    stateless: true,
  }
}

/** Whether two leases configure the host the same way (times and lifetimes aside). */
export function sameConfiguration(a: Dhcp6Lease, b: Dhcp6Lease): boolean {
  const shape = (l: Dhcp6Lease) =>
    JSON.stringify([l.interface, l.addresses.map((x) => x.address).sort(), l.prefixes.map((p) => `${p.prefix}/${p.prefixLength}`).sort(), l.dns, l.domains])
  return shape(a) === shape(b)
}

/** Clock time (ms) when the lease ends; Infinity for an infinite one. */
export function expiresAt(lease: Dhcp6Lease): number {
  return lease.validLifetime === INFINITE ? Infinity : lease.acquiredAt + lease.validLifetime * 1000
}

/** The lease's addresses and prefixes with their lifetimes counted down to `now` (what a Renew or Release carries). */
export function remaining(lease: Dhcp6Lease, now: number): { addresses: LeasedAddress[]; prefixes: LeasedPrefix[] } {
  const elapsed = Math.floor((now - lease.acquiredAt) / 1000)
  const left = (seconds: number) => (seconds === INFINITE ? INFINITE : Math.max(0, seconds - elapsed))
  return {
    addresses: lease.addresses.map((a) => ({ ...a, preferredLifetime: left(a.preferredLifetime), validLifetime: left(a.validLifetime) })),
    prefixes: lease.prefixes.map((p) => ({ ...p, preferredLifetime: left(p.preferredLifetime), validLifetime: left(p.validLifetime) })),
  }
}

/**
 * The same lease counted from `now`: every time and lifetime shortened by the seconds since it
 * was acquired. What a Confirm that keeps the lease reports, so callbacks (re)install addresses
 * with what is left of their lifetimes (a link going down takes IPv6 addresses with it).
 */
export function rebase(lease: Dhcp6Lease, now: number): Dhcp6Lease {
  const elapsed = Math.max(0, Math.floor((now - lease.acquiredAt) / 1000))
  const left = (seconds: number) => (seconds === INFINITE ? INFINITE : Math.max(0, seconds - elapsed))
  const { addresses, prefixes } = remaining(lease, now)
  return { ...lease, addresses, prefixes, t1: left(lease.t1), t2: left(lease.t2), validLifetime: left(lease.validLifetime), acquiredAt: lease.acquiredAt + elapsed * 1000 }
}
