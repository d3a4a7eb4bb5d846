// The switch's status as one JSON document: links and bridge ports (read live through rtnetlink),
// leases, the DHCP server's health, the uplink's lease, forwards, the SOCKS door and the
// supervision tree; and the same for a person at a terminal.
import { Netlink } from '@lab/netlink-native'
import type { NodeStatus } from '@lab/supervisor'
import { RouterState } from './routed/routed-links.js'
import type { SwitchState } from './switched/state.js'
import { remoteFdb } from './fabric/dataplane.js'
import { bgpPeers, evpnMacs, type BgpPeer } from './fabric/frr.js'
import type { FabricState } from './fabric/runnables.js'
import { formatIpv6, ipv6Status, leases6, type Ipv6Status, type Lease6Status } from './switched/status6.js'

export interface RoutedUplinkStatus {
  name: string
  mac: string
  state: string | null
  address: string | null
  router: string | null
  server: string | null
}

export interface SwitchStatus {
  mode: 'switched' | 'routed'
  netns: string | null
  /** Routed mode: client links and their /31s, refused links, uplinks with their leases. */
  clients?: Array<{ link: string; mac: string; router: string; client: string; dhcp: boolean; ipv6?: string | null }>
  refused?: Array<{ link: string; mac: string; reason: string }>
  uplinks?: RoutedUplinkStatus[]
  bridge: { name: string; address: string; network: string; ports: string[] } | null
  links: Array<{ name: string; kind: string | null; mac: string | null; up: boolean; running: boolean; master: string | null }>
  leases: Array<{ address: string; mac: string; hostname: string | null; expiresAt: string }>
  /** Switched mode: the DHCP server's health (ok, or why not: its lease journal cannot be written). */
  dhcp?: { ok: boolean; text: string } | null
  /** `state` is `waiting for link` while a named uplink has not appeared. */
  uplink: { name: string; mac: string | null; state: string | null; address: string | null; router: string | null; server: string | null; expiresAt: string | null } | null
  /**
   * Forwards count connections and bytes: `bytesIn` towards the VM, `bytesOut` back, `bytes` both
   * (kernel: IP packets from the nft counters, live; proxy: the payload of finished connections).
   * Proxy forwards also know the open and failed connections.
   */
  forwards: Array<{ spec: string; mode: 'kernel' | 'proxy'; total: number; active?: number; failed?: number; bytes?: number; bytesIn?: number; bytesOut?: number }>
  socks: { port: number; connections: number } | null
  /**
   * With a fabric: the BGP sessions (from FRR), the MACs EVPN installed in the kernel's fdb on the
   * VXLAN port (`remoteMacs`) and the ones this host advertises (`localMacs`, from FRR).
   * `error` says why FRR could not be asked (it is restarting, say); the rest is then empty.
   */
  fabric?: FabricStatus | null
  /** Switched mode: the bridge's IPv6 (address, /64, RA and DHCPv6 server, the uplink's IPv6); null with IPv6 off. */
  ipv6?: Ipv6Status | null
  /** Switched mode: the DHCPv6 server's bindings in force (addresses, delegated prefixes). */
  leases6?: Lease6Status[]
  supervisor: NodeStatus
}

export interface FabricStatus {
  vni: number
  local: string
  vxlan: string
  peers: BgpPeer[]
  remoteMacs: string[]
  localMacs: string[]
  error?: string
}

async function fabricStatus(f: FabricState, nl: Netlink): Promise<FabricStatus> {
  const base = { vni: f.plan.vni, local: f.plan.local, vxlan: f.plan.vxlan }
  const remoteMacs = await remoteFdb(nl, f.plan.vxlan).catch(() => [] as string[]) // no VXLAN device yet (starting)
  // FRR not answering (starting, or being restarted) is said in the status instead of failing it.
  const errors: string[] = []
  const failed = (error: unknown) => void errors.push((error as Error).message)
  const [peers, macs] = await Promise.all([
    bgpPeers(f.frr, f.plan.neighbors).catch((error: unknown) => (failed(error), f.plan.neighbors.map((address) => ({ address, state: 'unknown', uptimeMs: 0, prefixesReceived: 0 })))),
    evpnMacs(f.frr, f.plan.vni).catch((error: unknown) => (failed(error), [])),
  ])
  return { ...base, peers, remoteMacs, localMacs: macs.filter((m) => m.type === 'local').map((m) => m.mac), ...(errors.length ? { error: errors.join('; ') } : {}) }
}

export async function switchStatus(state: SwitchState | RouterState, bridgeName: string, netns: string | undefined, tree: NodeStatus): Promise<SwitchStatus> {
  if (state instanceof RouterState) return routedStatus(state, netns, tree)
  const nl = await Netlink.open({ netns })
  let links
  let fabric: FabricStatus | undefined
  let ipv6: Ipv6Status | undefined
  try {
    links = await nl.link.list()
    if (state.fabric) fabric = await fabricStatus(state.fabric, nl)
    if (state.ipv6) ipv6 = await ipv6Status(state.ipv6, nl, links)
  } finally {
    nl.close()
  }
  const byIndex = new Map(links.map((l) => [l.index, l.name]))
  const bridge = links.find((l) => l.name === bridgeName)
  const now = Date.now()
  const lease = state.uplink?.lease
  return {
    mode: 'switched',
    netns: netns ?? null,
    bridge:
      bridge && state.bridge
        ? { name: bridgeName, address: state.bridge.cidr, network: state.bridge.network, ports: links.filter((l) => l.master === bridge.index).map((l) => l.name) }
        : null,
    links: links.map((l) => ({ name: l.name, kind: l.kind ?? null, mac: l.address ?? null, up: l.up, running: l.running, master: l.master ? (byIndex.get(l.master) ?? String(l.master)) : null })),
    leases: (state.server?.db.list() ?? [])
      .filter((l) => l.state === 'bound' && l.expiresAt > now)
      .map((l) => ({ address: l.address, mac: l.mac, hostname: l.hostname ?? null, expiresAt: new Date(l.expiresAt).toISOString() })),
    dhcp: state.dhcpHealth ?? null,
    uplink: state.uplink
      ? {
          name: state.uplink.name,
          mac: state.uplink.mac ?? null,
          state: state.uplink.state ?? null,
          address: lease ? `${lease.address}/${lease.prefixLength}` : null,
          router: lease?.router ?? null,
          server: lease?.serverId ?? null,
          expiresAt: lease && lease.leaseTime !== 0xffffffff ? new Date(lease.acquiredAt + lease.leaseTime * 1000).toISOString() : null,
        }
      : null,
    forwards: await Promise.all(
      [...state.forwards].map(async ([spec, f]) => {
        const c = await f.counters()
        return { spec, mode: f.mode, ...c, ...(c.bytesIn !== undefined && c.bytesOut !== undefined ? { bytes: c.bytesIn + c.bytesOut } : {}) }
      }),
    ),
    socks: state.socks ? { port: state.socks.port, connections: state.socks.counters().connections } : null,
    fabric: fabric ?? null,
    ipv6: ipv6 ?? null,
    leases6: leases6(state.ipv6, now),
    supervisor: tree,
  }
}

async function routedStatus(state: RouterState, netns: string | undefined, tree: NodeStatus): Promise<SwitchStatus> {
  const nl = await Netlink.open({ netns })
  let links
  try {
    links = await nl.link.list()
  } finally {
    nl.close()
  }
  const byIndex = new Map(links.map((l) => [l.index, l.name]))
  return {
    mode: 'routed',
    netns: netns ?? null,
    bridge: null,
    links: links.map((l) => ({ name: l.name, kind: l.kind ?? null, mac: l.address ?? null, up: l.up, running: l.running, master: l.master ? (byIndex.get(l.master) ?? String(l.master)) : null })),
    clients: [...state.clients.values()].map((c) => ({ link: c.link, mac: c.mac, router: `${c.router}/31`, client: c.client, dhcp: !!c.server, ipv6: c.ipv6 ? `${c.ipv6.router}/64` : null })),
    refused: [...state.refused.values()],
    uplinks: [...state.uplinks.values()].map((u) => ({
      name: u.link,
      mac: u.mac,
      state: u.state ?? null,
      address: u.lease ? `${u.lease.address}/${u.lease.prefixLength}` : null,
      router: u.lease?.router ?? null,
      server: u.lease?.serverId ?? null,
    })),
    leases: [...state.clients.values()].flatMap((c) =>
      (c.server?.db.list() ?? []).filter((l) => l.state === 'bound' && l.expiresAt > Date.now()).map((l) => ({ address: l.address, mac: l.mac, hostname: l.hostname ?? null, expiresAt: new Date(l.expiresAt).toISOString() })),
    ),
    uplink: null,
    forwards: [],
    socks: null,
    supervisor: tree,
  }
}

/** Readable status for a terminal. */
export function formatStatus(s: SwitchStatus): string {
  const lines: string[] = []
  lines.push(`nanoswitch (${s.mode})${s.netns ? ` in ${s.netns}` : ''}`)
  for (const c of s.clients ?? []) lines.push(`client ${c.link} ${c.mac}: router ${c.router}, client ${c.client}${c.dhcp ? ' (DHCP)' : ''}${c.ipv6 ? `, IPv6 router ${c.ipv6} (SLAAC)` : ''}`)
  for (const r of s.refused ?? []) lines.push(`refused ${r.link}: ${r.reason}`)
  for (const u of s.uplinks ?? []) lines.push(`uplink ${u.name}: ${u.address ?? 'no lease'}${u.router ? ` via ${u.router}` : ''}${u.state ? ` (${u.state})` : ''}`)
  lines.push(`links (${s.links.length}):`)
  for (const l of s.links) {
    lines.push(`  ${l.name.padEnd(15)} ${(l.kind ?? '-').padEnd(7)} ${l.mac ?? '-'} ${l.up ? (l.running ? 'up' : 'up, no carrier') : 'down'}${l.master ? `, in ${l.master}` : ''}`)
  }
  if (s.bridge) lines.push(`bridge ${s.bridge.name} ${s.bridge.address}, ports: ${s.bridge.ports.join(' ') || '(none)'}`)
  if (s.dhcp) lines.push(`dhcp server: ${s.dhcp.text}`)
  if (s.uplink?.state === 'waiting for link') lines.push(`uplink ${s.uplink.name}: waiting for the link to appear`)
  else if (s.uplink) lines.push(`uplink ${s.uplink.name}: ${s.uplink.address ?? 'no lease'}${s.uplink.router ? ` via ${s.uplink.router}` : ''}${s.uplink.state ? ` (${s.uplink.state})` : ''}`)
  else if (s.mode === 'switched') lines.push('uplink: none')
  lines.push(`leases (${s.leases.length}):`)
  for (const l of s.leases) lines.push(`  ${l.address.padEnd(15)} ${l.mac} ${l.hostname ?? '-'} until ${l.expiresAt}`)
  lines.push(...formatIpv6(s.ipv6, s.leases6))
  for (const f of s.forwards) {
    const bytes = f.bytesIn !== undefined && f.bytesOut !== undefined ? `, ${f.bytesIn} bytes in, ${f.bytesOut} out` : ''
    lines.push(f.mode === 'kernel' ? `forward ${f.spec}: kernel DNAT, ${f.total} connections${bytes}` : `forward ${f.spec}: proxy, ${f.active ?? 0} open, ${f.total} total, ${f.failed ?? 0} failed${bytes}`)
  }
  if (s.socks) lines.push(`socks5 :${s.socks.port}: ${s.socks.connections} connections`)
  if (s.fabric) {
    lines.push(`fabric vni ${s.fabric.vni} on ${s.fabric.vxlan}, local ${s.fabric.local}${s.fabric.error ? ` (FRR: ${s.fabric.error})` : ''}`)
    for (const p of s.fabric.peers) lines.push(`  peer ${p.address.padEnd(15)} ${p.state}${p.state === 'Established' ? `, up ${Math.round(p.uptimeMs / 1000)} s, ${p.prefixesReceived} prefixes` : ''}`)
    lines.push(`  local MACs: ${s.fabric.localMacs.join(' ') || '(none)'}`)
    lines.push(`  remote MACs: ${s.fabric.remoteMacs.join(' ') || '(none)'}`)
  }
  const walk = (n: NodeStatus, depth: number) => {
    lines.push(`${'  '.repeat(depth)}${n.name}: ${n.state}${n.restarts ? `, ${n.restarts} restarts` : ''}${n.lastError ? ` (${n.lastError})` : ''}`)
    for (const c of n.children) walk(c, depth + 1)
  }
  lines.push('supervisor:')
  walk(s.supervisor, 1)
  return lines.join('\n')
}
