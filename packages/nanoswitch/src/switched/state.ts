// What the runnables of a switched-mode switch share: its options, the plan of its bridge, what
// it knows about itself (for `nanoswitch status`) and how the switch is ending.
import type { DhcpServer, ClientLease } from '@lab/dhcp4'
import type { FabricOptions } from '../fabric/fabric.js'
import type { FrrOptions } from '../fabric/frr.js'
import type { FabricState } from '../fabric/runnables.js'
import type { ForwardSpec } from '../forward/forward-spec.js'
import type { Lifecycle } from '../lifecycle.js'
import type { SocksServer } from '../socks/socks5-server.js'
import type { BridgeOptions } from './bridge.js'
import type { BridgePlan } from './plan.js'
import type { UplinkSelector } from './ports.js'

export interface SwitchOptions {
  netns?: string
  /** Default vmbridge. */
  bridge?: string
  /** The switch's address on the bridge, with the prefix: default 10.1.0.1/24. */
  subnet?: string
  /** DNS servers handed to VMs: default the seed's 10.42.0.3. */
  dns?: string[]
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

/** What the running switch knows about itself, for `nanoswitch status`. */
export class SwitchState {
  bridge: BridgePlan | undefined
  /** `state` is `waiting for link` until the uplink appears, then the DHCP client's state. */
  uplink: { name: string; mac?: string; lease?: ClientLease; state?: string } | undefined
  ports = new Map<string, { name: string; mac?: string }>()
  server: DhcpServer | undefined
  dhcpHealth: DhcpHealthStatus | undefined
  /** Per forward (by its spec text): how it is done and its connection counts. */
  forwards = new Map<string, { mode: 'kernel' | 'proxy'; counters: () => Promise<{ total: number; active?: number; failed?: number }> }>()
  socks: SocksServer | undefined
  /** With a fabric: its plan, FRR's paths and the MTU the VMs get. */
  fabric: FabricState | undefined
}

/** Everything a switched-mode runnable is built from. */
export interface SwitchContext {
  options: SwitchOptions
  netns: string | undefined
  plan: BridgePlan
  bridge: BridgeOptions
  state: SwitchState
  lifecycle: Lifecycle
}
