// A slot's egress policy: what its guest may reach through the uplink. Checked here, applied by
// SlotNat as one chain and one set per slot on the host, reached through one verdict map keyed by
// the slot's source address, so changing a policy is one nftables transaction.
import { ArgumentError, parseIpv4Cidr } from '@lab/netlink-native'

/**
 * `allow` (the default): everything; `deny`: nothing (but DNS to the resolver given to
 * `Slots.open`); `{ allow: [cidr] }`: only these (and DNS); `{ deny: [cidr] }`: all but these.
 */
export type EgressPolicy = 'allow' | 'deny' | { allow: string[] } | { deny: string[] }

export function validateEgress(policy: unknown, field = 'egress'): EgressPolicy {
  if (policy === 'allow' || policy === 'deny') return policy
  if (policy && typeof policy === 'object') {
    const keys = Object.keys(policy)
    const list = (policy as Record<string, unknown>)[keys[0]!]
    if (keys.length === 1 && (keys[0] === 'allow' || keys[0] === 'deny') && Array.isArray(list)) {
      list.forEach((cidr, i) => {
        if (typeof cidr !== 'string') throw new ArgumentError(`${field}.${keys[0]}[${i}]`, 'expected an IPv4 CIDR')
        parseIpv4Cidr(cidr.includes('/') ? cidr : `${cidr}/32`, `${field}.${keys[0]}[${i}]`)
      })
      return policy as EgressPolicy
    }
  }
  throw new ArgumentError(field, "expected 'allow', 'deny', { allow: [cidr…] } or { deny: [cidr…] }")
}
