// A subnet the server serves: its pool and the options its clients get.
import type { ClasslessRoute } from '../codec/options.js'
import { AddressPool, ipToNumber, numberToIp, type PoolOptions } from './pool.js'

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
    const bits = this.pool.prefixLength
    const maskNumber = (0xffffffff << (32 - bits)) >>> 0
    this.mask = numberToIp(maskNumber)
    this.broadcast = bits === 31 ? undefined : numberToIp((this.pool.network | (~maskNumber >>> 0)) >>> 0)
  }

  contains(address: string): boolean {
    return this.pool.contains(ipToNumber(address))
  }
}
