// A slot's egress policy: what its guest may reach through the uplink. Checked here, applied by
// SlotNat as one chain and one set per slot and address family on the host, reached through one
// verdict map per family keyed by the slot's source address, so changing a policy is one nftables
// transaction.
import { ArgumentError, parseCidr } from '@lab/netlink-native'

/**
 * `allow` (the default): everything; `deny`: nothing, IPv4 and IPv6 (but DNS to the resolver
 * given to `Slots.open`); `{ allow: [cidr] }`: only these (and DNS); `{ deny: [cidr] }`: all but
 * these. CIDRs are IPv4 or IPv6; a bare address is a /32 or /128.
 */
export type EgressPolicy = 'allow' | 'deny' | { allow: string[] } | { deny: string[] }

export function validateEgress(policy: unknown, field = 'egress'): EgressPolicy {
  if (policy === 'allow' || policy === 'deny') return policy
  if (policy && typeof policy === 'object') {
    const keys = Object.keys(policy)
    const list = (policy as Record<string, unknown>)[keys[0]!]
    if (keys.length === 1 && (keys[0] === 'allow' || keys[0] === 'deny') && Array.isArray(list)) {
      list.forEach((cidr, i) => {
        if (typeof cidr !== 'string') throw new ArgumentError(`${field}.${keys[0]}[${i}]`, 'expected an IPv4 or IPv6 CIDR')
        parseCidr(withLength(cidr), `${field}.${keys[0]}[${i}]`)
      })
      return policy as EgressPolicy
    }
  }
  throw new ArgumentError(field, "expected 'allow', 'deny', { allow: [cidr…] } or { deny: [cidr…] }")
}

function withLength(cidr: string): string {
  return cidr.includes('/') ? cidr : `${cidr}/${cidr.includes(':') ? 128 : 32}`
}

/** A policy's CIDRs of one address family (of a validated policy). */
export function cidrsOf(list: string[], family: 4 | 6): string[] {
  return list.filter((cidr) => parseCidr(withLength(cidr)).family === family)
}
