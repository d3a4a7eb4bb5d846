// A lease as the client holds it: what the ACK said, in a shape callbacks can apply directly.
import type { ClasslessRoute } from '../codec/options.js'
import type { DhcpMessage } from '../codec/message.js'
import { ipv4ToNumber, maskToPrefix, numberToIpv4, prefixToMask } from '@lab/netlink-native'

export interface ClientLease {
  interface: string
  address: string
  prefixLength: number
  /** Option 3's first router; ignored for routing when classless routes came (RFC 3442). */
  router?: string
  /** The routes to install: option 121 when present, else a default route via the router. */
  routes: ClasslessRoute[]
  dns: string[]
  domain?: string
  search: string[]
  mtu?: number
  ntp: string[]
  broadcast?: string
  serverId: string
  /** Link-layer source of the ACK: the server, or the relay in front of it. */
  serverMac?: string
  /** Seconds; 0xffffffff is infinite. */
  leaseTime: number
  renewalTime: number
  rebindingTime: number
  /** Clock time (ms) the lease was granted: T1, T2 and expiry count from here. */
  acquiredAt: number
  hostname?: string
}

export const INFINITE = 0xffffffff

function classfulPrefix(address: string): number {
  const first = ipv4ToNumber(address) >>> 24
  return first < 128 ? 8 : first < 192 ? 16 : 24
}

/** Option 1's prefix; without one (or with a mask that is not contiguous), the classful one as RFC 2131 2.2 leaves it. */
function prefixOf(mask: string | undefined, address: string): number {
  if (mask) {
    try {
      return maskToPrefix(mask, 'subnet mask')
    } catch {
      // A server sent a non-contiguous mask, which no interface can carry: handled as no mask.
    }
  }
  return classfulPrefix(address)
}

export function leaseFromAck(ack: DhcpMessage, options: { interface: string; acquiredAt: number; serverMac?: string; requestedServer?: string }): ClientLease {
  const leaseTime = ack.get(51) ?? 3600
  const infinite = leaseTime === INFINITE
  const router = ack.get(3)?.[0]
  const classless = ack.get(121)
  const routes = classless?.length ? classless : router ? [{ destination: '0.0.0.0', prefixLength: 0, router }] : []
  const hostname = ack.get(12)
  const mtu = ack.get(26)
  const broadcast = ack.get(28)
  const domain = ack.get(15)
  return {
    interface: options.interface,
    address: ack.yiaddr,
    prefixLength: prefixOf(ack.get(1), ack.yiaddr),
    ...(router ? { router } : {}),
    routes,
    dns: ack.get(6) ?? [],
    ...(domain ? { domain } : {}),
    search: ack.get(119) ?? [],
    ...(mtu ? { mtu } : {}),
    ntp: ack.get(42) ?? [],
    ...(broadcast ? { broadcast } : {}),
    serverId: ack.get(54) ?? options.requestedServer ?? ack.siaddr,
    ...(options.serverMac ? { serverMac: options.serverMac } : {}),
    leaseTime,
    renewalTime: infinite ? INFINITE : Math.min(ack.get(58) ?? Math.floor(leaseTime / 2), leaseTime),
    rebindingTime: infinite ? INFINITE : Math.min(ack.get(59) ?? Math.floor((leaseTime * 7) / 8), leaseTime),
    acquiredAt: options.acquiredAt,
    ...(hostname ? { hostname } : {}),
  }
}

/** Whether two leases configure the host the same way (times aside). */
export function sameConfiguration(a: ClientLease, b: ClientLease): boolean {
  const strip = ({ leaseTime, renewalTime, rebindingTime, acquiredAt, serverMac, ...rest }: ClientLease) => rest
  return JSON.stringify(strip(a)) === JSON.stringify(strip(b))
}

export function expiresAt(lease: ClientLease): number {
  return lease.leaseTime === INFINITE ? Infinity : lease.acquiredAt + lease.leaseTime * 1000
}

/** The network of a lease, e.g. 10.1.0.0/24. */
export function networkOf(lease: ClientLease): string {
  return `${numberToIpv4((ipv4ToNumber(lease.address) & prefixToMask(lease.prefixLength)) >>> 0)}/${lease.prefixLength}`
}
