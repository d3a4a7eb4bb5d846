// A prefix delegated to the switch on its uplink (DHCPv6 IA_PD, RFC 8415 6.3), used on the bridge:
// its first /64 gets the switch's address ::1 beside the ULA one (with the delegation's lifetimes,
// so the kernel drops it by itself if the switch dies), is announced in the RAs (on-link and
// autonomous, with the delegation's lifetimes: hosts form addresses in it by SLAAC), and is routed
// without NAT (the NAT66 rule matches the ULA source prefix only). The rest of a shorter delegation
// gets an unreachable route (RFC 7084 WPD-5), so traffic for its unused /64s is not sent back up
// the default route. When the delegation ends (expiry, release, NotOnLink, the client stopped or
// the uplink gone) the prefix is withdrawn: RAs with lifetimes 0 for it, address and routes removed.
import type { Dhcp6Lease, LeaseCallback } from '@lab/dhcp6'
import { Netlink, formatIp, isNotFound, parseCidr } from '@lab/netlink-native'
import type { Logger } from 'pino'
import type { Ipv6State, SwitchContext } from './state.js'

export interface DelegatedPrefix {
  /** As delegated: `2001:db8:100::/56`. */
  prefix: string
  /** Its first /64, on the bridge and announced: `2001:db8:100::/64`. */
  bridgePrefix: string
  /** The switch's address in it, on the bridge: `2001:db8:100::1/64`. */
  address: string
  /** Seconds, as the lease last gave them. */
  preferredLifetime: number
  validLifetime: number
  /** When the valid lifetime ends (ms since the epoch); Infinity for an infinite one. */
  expiresAt: number
}

const INFINITE = 0xffffffff

/** The first /64 of the first delegated prefix of 64 bits or fewer in `lease`; undefined when there is none. */
export function delegatedFromLease(lease: Dhcp6Lease | undefined): DelegatedPrefix | undefined {
  const p = lease?.prefixes.find((x) => x.prefixLength <= 64 && x.validLifetime > 0)
  if (!p) return undefined
  const bytes = Buffer.from(parseCidr(`${p.prefix}/${p.prefixLength}`, 'prefix').bytes)
  // Host bits cleared (a server should send none; the /64 is the first one either way).
  for (let bit = p.prefixLength; bit < 128; bit++) bytes[bit >> 3]! &= ~(0x80 >> (bit & 7))
  const network = formatIp(bytes)
  const host = Buffer.from(bytes)
  host[15] = 1
  return {
    prefix: `${network}/${p.prefixLength}`,
    bridgePrefix: `${network}/64`,
    address: `${formatIp(host)}/64`,
    preferredLifetime: p.preferredLifetime,
    validLifetime: p.validLifetime,
    expiresAt: p.validLifetime === INFINITE ? Infinity : lease!.acquiredAt + p.validLifetime * 1000,
  }
}

/** The RA's prefixes: the ULA /64, and the delegated /64 with the delegation's lifetimes. */
export function advertisedPrefixes(v6: Ipv6State): Array<string | { prefix: string; validLifetime: number; preferredLifetime: number }> {
  const d = v6.delegated
  return [v6.plan.prefix, ...(d ? [{ prefix: d.bridgePrefix, validLifetime: d.validLifetime, preferredLifetime: Math.min(d.preferredLifetime, d.validLifetime) }] : [])]
}

/**
 * Puts the delegation of `next` on the bridge (or keeps it, with the new lifetimes), withdrawing a
 * different one held before; `next` undefined (or without a usable prefix) withdraws what is held.
 */
export async function applyDelegation(sw: SwitchContext, v6: Ipv6State, next: DelegatedPrefix | undefined, logger: Logger): Promise<void> {
  const old = v6.delegated
  const nl = await Netlink.open({ netns: sw.netns })
  try {
    if (old && old.prefix !== next?.prefix) {
      // Out of the RAs first (lifetimes 0 in the next three), so hosts stop using it; then the address and routes.
      v6.delegated = undefined
      v6.ra?.setPrefixes(advertisedPrefixes(v6))
      await gone(nl.addr.del(sw.bridge.name, old.address))
      if (old.prefix !== old.bridgePrefix) await gone(nl.route.del({ dst: old.prefix, type: 'unreachable' }))
      logger.info({ prefix: old.prefix, bridge: old.bridgePrefix }, 'delegated prefix withdrawn')
    }
    if (!next) return
    const lifetimes = { validLifetime: next.validLifetime, preferredLifetime: Math.min(next.preferredLifetime, next.validLifetime) }
    await nl.addr.replace(sw.bridge.name, next.address, { nodad: true, ...lifetimes })
    if (next.prefix !== next.bridgePrefix) await nl.route.replace({ dst: next.prefix, type: 'unreachable', family: 6 })
    v6.delegated = next
    v6.ra?.setPrefixes(advertisedPrefixes(v6))
    if (old?.prefix !== next.prefix) logger.info({ prefix: next.prefix, bridge: next.bridgePrefix, address: next.address, ...lifetimes }, 'delegated prefix on the bridge, routed without NAT')
  } finally {
    nl.close()
  }
}

async function gone(p: Promise<unknown>): Promise<void> {
  await p.catch((error: unknown) => {
    // Removed already (by hand, or the kernel when its lifetime ended): gone is what was wanted.
    if (!isNotFound(error)) throw error
  })
}

/** A lease callback for the uplink's DHCPv6 client: the delegation follows every lease change. */
export function manageDelegation(sw: SwitchContext, v6: Ipv6State, logger: Logger): LeaseCallback {
  return (_old, next) => applyDelegation(sw, v6, delegatedFromLease(next), logger)
}
