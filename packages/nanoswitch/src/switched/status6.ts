// The IPv6 part of a switched-mode switch's status: the bridge's address and /64, the RA sender and
// DHCPv6 server, the DHCPv6 bindings, and the uplink's IPv6 as the kernel has it (SLAAC and DHCPv6
// addresses, the default route the upstream's RA gave) beside the DHCPv6 client's lease.
import { expiresAt } from '@lab/dhcp6'
import type { Link, Netlink } from '@lab/netlink-native'
import type { Ipv6State } from './state.js'

export interface Ipv6Status {
  /** The switch's address on the bridge: `fd0a:b3ec:1::1/64`. */
  address: string
  /** The /64 announced for SLAAC and served by DHCPv6. */
  prefix: string
  /** The DHCPv6 server's address range. */
  range: [string, string]
  /** IPv6 DNS servers announced (RDNSS) and served; empty when none was given. */
  dns: string[]
  /** The DHCPv6 server's health. */
  dhcp: { ok: boolean; text: string } | null
  /** Router advertisements sent and solicitations answered. */
  ra: { advertisements: number; solicitations: number } | null
  uplink: UplinkIpv6Status | null
  /** The prefix delegated on the uplink (IA_PD), whose first /64 is on the bridge; null when none is held. */
  delegated: DelegatedPrefixStatus | null
}

export interface DelegatedPrefixStatus {
  /** As delegated: `2001:db8:100::/56`. */
  prefix: string
  /** Its first /64, on the bridge, announced (SLAAC) and routed without NAT. */
  bridgePrefix: string
  /** The switch's address in it, on the bridge: `2001:db8:100::1/64`. */
  address: string
  /** Seconds, as the last Reply gave them. */
  preferredLifetime: number
  validLifetime: number
  /** End of the valid lifetime; null when infinite. */
  expiresAt: string | null
}

export interface UplinkIpv6Status {
  name: string
  /** The DHCPv6 client's state (`soliciting`, `bound`, ...). */
  state: string | null
  /** Global addresses on the uplink that passed DAD (SLAAC and DHCPv6), with their prefix lengths. */
  addresses: string[]
  /** The default router the upstream's RA gave (link-local), if any. */
  router: string | null
  /** What the DHCPv6 client leased: addresses, delegated prefixes, server DUID, end of the valid lifetime. */
  lease: { addresses: string[]; prefixes: string[]; server: string; expiresAt: string | null } | null
  /** Whether the bridge's /64 is masqueraded out of the uplink (NAT66). */
  nat: boolean
}

export interface Lease6Status {
  /** The address (`na`) or the delegated prefix with its length (`pd`). */
  address: string
  kind: 'na' | 'pd'
  duid: string
  iaid: number
  mac: string | null
  expiresAt: string
}

export async function ipv6Status(v6: Ipv6State, nl: Netlink, links: Link[]): Promise<Ipv6Status> {
  let uplink: UplinkIpv6Status | null = null
  const up = v6.uplink
  const link = up && links.find((l) => l.name === up.name)
  if (up) {
    // Usable ones only: an address still in DAD (tentative) is neither a source nor reachable yet.
    const addresses = link ? (await nl.addr.list({ link: link.index, family: 6 })).filter((a) => a.scope === 0 && !a.tentative).map((a) => a.cidr) : []
    const routes = link ? await nl.route.list({ family: 6, link: link.index }) : []
    const lease = up.lease
    const end = lease ? expiresAt(lease) : undefined
    uplink = {
      name: up.name,
      state: up.state ?? null,
      addresses,
      router: routes.find((r) => r.dst === 'default')?.gateway ?? null,
      lease: lease
        ? { addresses: lease.addresses.map((a) => a.address), prefixes: lease.prefixes.map((p) => `${p.prefix}/${p.prefixLength}`), server: lease.serverId, expiresAt: end !== undefined && Number.isFinite(end) ? new Date(end).toISOString() : null }
        : null,
      nat: up.nat,
    }
  }
  const ra = v6.ra?.counters()
  const d = v6.delegated
  return {
    address: v6.plan.cidr,
    prefix: v6.plan.prefix,
    range: v6.plan.range,
    dns: v6.dns,
    dhcp: v6.dhcpHealth ?? null,
    ra: ra ? { advertisements: ra.advertisements, solicitations: ra.solicitations } : null,
    uplink,
    delegated: d ? { prefix: d.prefix, bridgePrefix: d.bridgePrefix, address: d.address, preferredLifetime: d.preferredLifetime, validLifetime: d.validLifetime, expiresAt: Number.isFinite(d.expiresAt) ? new Date(d.expiresAt).toISOString() : null } : null,
  }
}

/** The DHCPv6 server's bindings in force now. */
export function leases6(v6: Ipv6State | undefined, now = Date.now()): Lease6Status[] {
  return (v6?.server?.db.list() ?? [])
    .filter((l) => l.state === 'bound' && l.expiresAt > now)
    .map((l) => ({ address: l.address, kind: l.kind, duid: l.duid, iaid: l.iaid, mac: l.mac ?? null, expiresAt: new Date(l.expiresAt).toISOString() }))
}

/** Lines for `nanoswitch status` on a terminal. */
export function formatIpv6(s: Ipv6Status | null | undefined, leases: Lease6Status[] | undefined): string[] {
  if (!s) return []
  const lines = [`ipv6 ${s.address}: SLAAC in ${s.prefix}, DHCPv6 ${s.range[0]}-${s.range[1]}${s.dns.length ? `, DNS ${s.dns.join(' ')}` : ''}${s.ra ? ` (${s.ra.advertisements} RAs sent)` : ''}`]
  if (s.dhcp) lines.push(`dhcpv6 server: ${s.dhcp.text}`)
  const u = s.uplink
  if (u) lines.push(`uplink ${u.name} ipv6: ${u.addresses.join(' ') || 'no address'}${u.router ? ` via ${u.router}` : ''}${u.state ? ` (dhcpv6 ${u.state})` : ''}${u.nat ? `, ${s.prefix} masqueraded (NAT66)` : ''}`)
  const d = s.delegated
  if (d) lines.push(`delegated ${d.prefix}: ${d.address} on the bridge, ${d.bridgePrefix} announced and routed without NAT${d.expiresAt ? ` until ${d.expiresAt}` : ''}`)
  lines.push(`leases6 (${leases?.length ?? 0}):`)
  for (const l of leases ?? []) lines.push(`  ${l.address.padEnd(24)} ${l.mac ?? l.duid} until ${l.expiresAt}`)
  return lines
}
