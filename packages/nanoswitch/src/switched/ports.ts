// Which links are switch ports. Seed 000 takes every Ethernet device with a MAC: the uplink is the
// one with the well-known MAC (or the named one), all others are bridged. In a namespace the
// "devices" are veths and TAPs, so those kinds count too; bridges, tunnels and loopback do not.
import type { Link } from '@lab/netlink-native'

const ARPHRD_ETHER = 1
/** Kinds that stand for a cable to a VM or namespace. Undefined: a real or virtio NIC. */
const PORT_KINDS = new Set([undefined, 'veth', 'tun', 'macvtap', 'macvlan'])

export const DEFAULT_UPLINK_MAC = '02:72:82:bf:c3:56'

export interface UplinkSelector {
  name?: string
  mac?: string
}

export function isEthernetPort(link: Link, bridgeName: string): boolean {
  return link.type === ARPHRD_ETHER && link.name !== bridgeName && link.name !== 'lo' && !!link.address && PORT_KINDS.has(link.kind)
}

export function isUplink(link: Link, selector: UplinkSelector): boolean {
  if (selector.name !== undefined) return link.name === selector.name
  return link.address?.toLowerCase() === (selector.mac ?? DEFAULT_UPLINK_MAC).toLowerCase()
}

export type PortRole = 'uplink' | 'port' | 'ignored'

/** `underlay`: a fabric's underlay interface, which carries VXLAN and is never bridged. */
export function classify(link: Link, bridgeName: string, selector: UplinkSelector, underlay?: string): PortRole {
  if (!isEthernetPort(link, bridgeName) || link.name === underlay) return 'ignored'
  return isUplink(link, selector) ? 'uplink' : 'port'
}
