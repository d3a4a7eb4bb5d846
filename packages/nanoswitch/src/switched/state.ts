// What the runnables of a switched-mode switch share: its options, the plan of its bridge, what
// it knows about itself (for `nanoswitch status`) and how the switch is ending.
import type { DhcpServer, ClientLease } from '@lab/dhcp4'
import type { Dhcp6Lease, DhcpV6Server } from '@lab/dhcp6'
import type { RouterAdvertiser } from '@lab/ndp'
import type { FabricOptions } from '../fabric/fabric.js'
import type { FrrOptions } from '../fabric/frr.js'
import type { FabricState } from '../fabric/runnables.js'
import type { ForwardSpec } from '../forward/forward-spec.js'
import type { Lifecycle } from '../lifecycle.js'
import type { SocksServer } from '../socks/socks5-server.js'
import type { BridgeOptions } from './bridge.js'
import type { DelegatedPrefix } from './delegation.js'
import type { BridgePlan } from './plan.js'
import type { BridgePlan6 } from './plan6.js'
import type { UplinkSelector } from './ports.js'

export interface SwitchOptions {
  netns?: string
  /** Default vmbridge. */
  bridge?: string
  /** The switch's address on the bridge, with the prefix: default 10.1.0.1/24. */
  subnet?: string
  /**
   * DNS servers handed to VMs: default the seed's 10.42.0.3. IPv4 ones go in DHCPv4 (the default
   * when none is IPv4); IPv6 ones in the RAs' RDNSS and DHCPv6 (none by default).
   */
  dns?: string[]
  /**
   * IPv6 on the bridge (default true, false with a fabric): the switch's address `subnet6`, RAs
   * announcing its /64 for SLAAC (M and O set), a DHCPv6 server for addresses from ::1000-::ffff
   * and other configuration, and on the uplink SLAAC, a DHCPv6 client and NAT66 of the /64.
   */
  ipv6?: boolean
  /** The switch's IPv6 address on the bridge, in a /64: default fd0a:b3ec:1::1/64. */
  subnet6?: string
  /**
   * Ask the upstream for a prefix (DHCPv6 IA_PD) on the uplink (default true): the first /64 of a
   * delegated prefix goes on the bridge beside the ULA one, is announced and routed without NAT.
   */
  prefixDelegation?: boolean
  /** Lease time, seconds: default 12 h. */
  leaseTime?: number
  /**
   * The uplink: `{ name }` or `{ mac }`, waited for until it appears. Default: the link with the
   * seed's MAC 02:72:82:bf:c3:56 if there is one at start; without it the switch has no uplink.
   */
  uplink?: UplinkSelector
  forwards?: ForwardSpec[]
  /**
   * How forwards work: 'kernel' (default) DNATs connections that arrive from outside the bridge
   * (the uplink side); 'proxy' accepts them in this process on every address of the switch and
   * dials the VM (also from the bridge side; bytes moved by splice in the kernel).
   */
  forwardMode?: 'kernel' | 'proxy'
  /** Port of a SOCKS5 proxy into the bridge subnet. */
  socks?: number
  /** Where leases are kept (a journal); without one they live in memory only. */
  leaseFile?: string
  /**
   * One switched network across many hosts: a VXLAN device for `vni` on the bridge, FRR's BGP
   * EVPN to the `neighbors`, the same gateway address and MAC on every host, DHCP from `range`.
   */
  fabric?: FabricOptions
  /** Where FRR is and where this switch's FRR keeps its files (default /var/run/frr/<netns>). */
  frr?: FrrOptions
}

/** The DHCP server's own account of its health, where @lab/dhcp4 gives one. */
export interface DhcpHealthStatus {
  ok: boolean
  /** As the server words it: `healthy`, or what is wrong. */
  text: string
}

/** The IPv6 side of a switched-mode switch, for `nanoswitch status`. */
export interface Ipv6State {
  plan: BridgePlan6
  /** IPv6 DNS servers announced (RDNSS) and served (DHCPv6 option 23). */
  dns: string[]
  ra: RouterAdvertiser | undefined
  server: DhcpV6Server | undefined
  dhcpHealth: DhcpHealthStatus | undefined
  /** The uplink's IPv6: the DHCPv6 client's state and lease; whether the /64 is masqueraded. */
  uplink: { name: string; state?: string; lease?: Dhcp6Lease; nat: boolean } | undefined
  /** The prefix delegated on the uplink whose first /64 is on the bridge, if any. */
  delegated?: DelegatedPrefix | undefined
}

/** What the running switch knows about itself, for `nanoswitch status`. */
export class SwitchState {
  bridge: BridgePlan | undefined
  /** `state` is `waiting for link` until the uplink appears, then the DHCP client's state. */
  uplink: { name: string; mac?: string; lease?: ClientLease; state?: string } | undefined
  ports = new Map<string, { name: string; mac?: string }>()
  server: DhcpServer | undefined
  dhcpHealth: DhcpHealthStatus | undefined
  /** Per forward (by its spec text): how it is done, its connection counts and bytes each way. */
  forwards = new Map<string, { mode: 'kernel' | 'proxy'; counters: () => Promise<{ total: number; active?: number; failed?: number; bytesIn?: number; bytesOut?: number }> }>()
  socks: SocksServer | undefined
  /** With a fabric: its plan, FRR's paths and the MTU the VMs get. */
  fabric: FabricState | undefined
  /** IPv6 (undefined with --no-ipv6). */
  ipv6: Ipv6State | undefined
}

/** Everything a switched-mode runnable is built from. */
export interface SwitchContext {
  options: SwitchOptions
  netns: string | undefined
  plan: BridgePlan
  /** The bridge's IPv6 plan; undefined when IPv6 is off. */
  plan6: BridgePlan6 | undefined
  bridge: BridgeOptions
  state: SwitchState
  lifecycle: Lifecycle
}
