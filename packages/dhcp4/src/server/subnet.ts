// A subnet the server serves: its pool and the options its clients get.
import type { ClasslessRoute } from '../codec/options.js'
import { ipv4ToNumber, numberToIpv4 } from '@lab/netlink-native'
import { AddressPool, type PoolOptions } from './pool.js'

export interface SubnetConfig extends PoolOptions {
  router?: string
  dns?: string[]
  domain?: string
  search?: string[]
  routes?: ClasslessRoute[]
  mtu?: number
  ntp?: string[]
  /** Lease time, seconds (default 12 h, as seed 000). */
  leaseTime?: number
}

export class Subnet {
  readonly pool: AddressPool
  readonly leaseTime: number
  readonly mask: string
  /** Undefined on a /31 (RFC 3021: no broadcast address). */
  readonly broadcast: string | undefined

  constructor(readonly config: SubnetConfig) {
    this.pool = new AddressPool(config)
    this.leaseTime = config.leaseTime ?? 12 * 3600
    this.mask = numberToIpv4(this.pool.mask)
    this.broadcast = this.pool.prefixLength === 31 ? undefined : numberToIpv4(this.pool.broadcast)
  }

  contains(address: string): boolean {
    return this.pool.contains(ipv4ToNumber(address))
  }
}
