// The fabric: one switched network across many hosts. Each host's switch puts a VXLAN device for
// the VNI on its bridge, and FRR's BGP EVPN tells every host which MACs live behind which VTEP.
// This file holds the configuration object, its checks (one ArgumentError naming the field) and
// what follows from it: device names, the anycast gateway MAC, the MTU.
import { ArgumentError, ipv4ToNumber, parseIp, parseMac } from '@lab/netlink-native'

export interface FabricOptions {
  /** The VXLAN network identifier shared by every host of the fabric (1..16777215). */
  vni: number
  /** This host's VTEP address: an address of the underlay interface. */
  local: string
  /** The interface that carries the VXLAN traffic; it keeps its address and is never bridged. */
  underlay: string
  /** This host's AS number; iBGP when every neighbor has it too. */
  asn: number
  /** The other hosts' VTEP addresses (BGP neighbors). */
  neighbors: string[]
  /** The neighbors' AS number when it differs from `asn` (eBGP). Default: `asn`. */
  peerAsn?: number
  /** The slice of the subnet this host's DHCP server hands out: no two hosts may overlap. */
  range?: [string, string]
  /** The anycast gateway MAC on every host's bridge. Default: derived from the VNI. */
  gatewayMac?: string
  /** UDP port of the VXLAN traffic. Default 4789 (IANA). */
  port?: number
}

/** The fabric's parts as this host names them. */
export interface FabricPlan extends Required<Omit<FabricOptions, 'range' | 'peerAsn'>> {
  peerAsn: number
  range: [string, string] | undefined
  /** The VXLAN device: `vx<vni>`. */
  vxlan: string
}

const FIELDS = new Set(['vni', 'local', 'underlay', 'asn', 'neighbors', 'peerAsn', 'range', 'gatewayMac', 'port'])

/**
 * The anycast gateway MAC for a VNI: locally administered, unicast, 02:a7:00 then the VNI's
 * three bytes, so every host derives the same one.
 */
export function gatewayMacFor(vni: number): string {
  const b = [0x02, 0xa7, 0x00, (vni >> 16) & 0xff, (vni >> 8) & 0xff, vni & 0xff]
  return b.map((x) => x.toString(16).padStart(2, '0')).join(':')
}

/** The VXLAN overhead on an IPv4 underlay: outer IP 20 + UDP 8 + VXLAN 8 + inner Ethernet 14. */
export const VXLAN_OVERHEAD = 50

function ipv4(value: unknown, field: string): string {
  if (typeof value !== 'string' || parseIp(value, field).family !== 4) throw new ArgumentError(field, `an IPv4 address, not ${JSON.stringify(value)}`)
  return value
}

function asNumber(value: unknown, field: string): number {
  if (!Number.isInteger(value) || (value as number) < 1 || (value as number) > 4294967295) throw new ArgumentError(field, `an AS number (1-4294967295), not ${JSON.stringify(value)}`)
  return value as number
}

/** Checks a fabric object (from a file, a config or the API): ArgumentError `fabric.<field>`. */
export function fabricPlan(o: unknown, subnet?: { network: string; prefixLength: number; address: string }): FabricPlan {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new ArgumentError('fabric', 'an object with vni, local, underlay, asn and neighbors')
  const f = o as Record<string, unknown>
  for (const key of Object.keys(f)) if (!FIELDS.has(key)) throw new ArgumentError(`fabric.${key}`, `unknown field (known: ${[...FIELDS].join(', ')})`)
  if (!Number.isInteger(f.vni) || (f.vni as number) < 1 || (f.vni as number) > 0xffffff) throw new ArgumentError('fabric.vni', `a VNI (1-16777215), not ${JSON.stringify(f.vni)}`)
  const vni = f.vni as number
  const local = ipv4(f.local, 'fabric.local')
  if (typeof f.underlay !== 'string' || f.underlay.length === 0 || f.underlay.length > 15) throw new ArgumentError('fabric.underlay', `an interface name, not ${JSON.stringify(f.underlay)}`)
  const asn = asNumber(f.asn, 'fabric.asn')
  const peerAsn = f.peerAsn === undefined ? asn : asNumber(f.peerAsn, 'fabric.peerAsn')
  if (!Array.isArray(f.neighbors) || f.neighbors.length === 0) throw new ArgumentError('fabric.neighbors', 'a list of the other hosts\' VTEP addresses')
  const neighbors = f.neighbors.map((n, i) => ipv4(n, `fabric.neighbors[${i}]`))
  if (neighbors.includes(local)) throw new ArgumentError('fabric.neighbors', `${local} is this host's own address (fabric.local)`)
  let range: [string, string] | undefined
  if (f.range !== undefined) {
    if (!Array.isArray(f.range) || f.range.length !== 2) throw new ArgumentError('fabric.range', 'two addresses, [first, last]')
    range = [ipv4(f.range[0], 'fabric.range[0]'), ipv4(f.range[1], 'fabric.range[1]')]
    const [a, b] = range.map((r) => ipv4ToNumber(r)) as [number, number]
    if (a > b) throw new ArgumentError('fabric.range', `${range[0]} comes after ${range[1]}`)
    if (subnet) {
      const net = ipv4ToNumber(subnet.network.split('/')[0]!)
      const size = 2 ** (32 - subnet.prefixLength)
      for (const [i, n] of [a, b].entries()) {
        if (n <= net || n >= net + size - 1) throw new ArgumentError(`fabric.range[${i}]`, `${range[i]} is not a host address of ${subnet.network}`)
      }
      const gw = ipv4ToNumber(subnet.address)
      if (gw >= a && gw <= b) throw new ArgumentError('fabric.range', `includes the gateway ${subnet.address}`)
    }
  }
  if (f.gatewayMac !== undefined) {
    if (typeof f.gatewayMac !== 'string') throw new ArgumentError('fabric.gatewayMac', 'a MAC address')
    const mac = parseMac(f.gatewayMac, 'fabric.gatewayMac')
    if (mac[0]! & 1) throw new ArgumentError('fabric.gatewayMac', `${f.gatewayMac} is a multicast MAC`)
  }
  if (f.port !== undefined && !(Number.isInteger(f.port) && (f.port as number) > 0 && (f.port as number) < 65536)) throw new ArgumentError('fabric.port', `a UDP port (1-65535), not ${JSON.stringify(f.port)}`)
  return {
    vni,
    local,
    underlay: f.underlay,
    asn,
    peerAsn,
    neighbors,
    range,
    gatewayMac: ((f.gatewayMac as string | undefined) ?? gatewayMacFor(vni)).toLowerCase(),
    port: (f.port as number | undefined) ?? 4789,
    vxlan: `vx${vni}`,
  }
}
