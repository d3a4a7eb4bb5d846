// A prefix served: the range its addresses come from, the pool prefixes are delegated from, its
// reservations and the options its clients get. IPv6 arithmetic in BigInt: a /64 has 2^64 hosts.
import { ArgumentError, parseCidr } from '@lab/netlink-native'
import { formatIpv6, ipv6, parseIpv6Hex } from '../codec/address.js'
import { BoundedMemo } from '../codec/memo.js'

export interface Reservation6 {
  /** The client's DUID as hex (colons allowed). */
  duid?: string
  /** The client's MAC (from a DUID-LL/LLT or the relay's client link-layer address, RFC 6939). */
  mac?: string
  /** The address it always gets (inside the prefix). */
  address?: string
  /** The prefix it always gets delegated, `fd00:100:0:ff00::/56`. */
  prefix?: string
}

export interface Dhcp6SubnetConfig {
  /** The on-link prefix, `fd00:1::/64`: a relay's link-address inside it selects this subnet. */
  prefix: string
  /** First and last address handed out (inclusive), inside `prefix`. Without it: no IA_NA. */
  range?: [string, string]
  /** Prefix delegation: delegate `length`-long prefixes from `prefix` (RFC 8415 6.3). */
  pdPool?: { prefix: string; length: number }
  reservations?: Reservation6[]
  /** DNS servers (option 23, RFC 3646). */
  dns?: string[]
  /** Domain search list (option 24). */
  domains?: string[]
  /** Seconds (default 3600). */
  preferredLifetime?: number
  /** Seconds (default 7200). */
  validLifetime?: number
}

/** An IPv6 address as a number; memoized: the same addresses are looked up several times per exchange. */
const numbers = new BoundedMemo(4096, (text: string, field: string): bigint => {
  const b = ipv6(text, field)
  return (b.readBigUInt64BE(0) << 64n) | b.readBigUInt64BE(8)
})
export function toBig(text: string, field: string): bigint {
  return numbers.get(text, field)
}

const LOW64 = (1n << 64n) - 1n

export function fromBig(n: bigint): string {
  const bytes = Buffer.allocUnsafe(16)
  bytes.writeBigUInt64BE(n >> 64n, 0)
  bytes.writeBigUInt64BE(n & LOW64, 8)
  const text = formatIpv6(bytes)
  numbers.set(text, n)
  return text
}

function network(text: string, field: string): { base: bigint; length: number } {
  const p = parseCidr(text, field)
  if (p.family !== 6) throw new ArgumentError(field, `expected an IPv6 prefix, got ${text}`)
  const host = 128n - BigInt(p.length)
  const base = (BigInt('0x' + p.bytes.toString('hex')) >> host) << host
  return { base, length: p.length }
}

/** Where one kind of resource comes from: a range of addresses, or the prefixes of a pool. */
export interface Pool6 {
  readonly kind: 'na' | 'pd'
  readonly size: bigint
  /** The i-th resource's key (`address`, or `prefix/length`). */
  at(i: bigint): string
  /** The index of a key, or undefined when it is not in the pool. */
  indexOf(key: string): bigint | undefined
  /** Whether a key is in the pool: indexOf() without remembering the key (for walks over every binding). */
  has(key: string): boolean
  /** The key reserved for a client (by its DUID hex or MAC). */
  reservedFor(duid: string, mac: string | undefined): string | undefined
  /** Who a key is reserved to (a DUID hex or `mac:...`), if anyone. */
  reservedTo(key: string): string | undefined
}

const normalizeDuid = (text: string) => text.replaceAll(':', '').toLowerCase()

class Reservations {
  readonly byClient = new Map<string, string>()
  readonly byKey = new Map<string, string>()
  add(r: Reservation6, key: string): void {
    const who = r.duid ? normalizeDuid(r.duid) : `mac:${r.mac!.toLowerCase()}`
    this.byClient.set(who, key)
    this.byKey.set(key, who)
  }
  for(duid: string, mac: string | undefined): string | undefined {
    return this.byClient.get(duid) ?? (mac ? this.byClient.get(`mac:${mac.toLowerCase()}`) : undefined)
  }
}

export class Subnet6 {
  readonly base: bigint
  readonly length: number
  readonly na: Pool6 | undefined
  readonly pd: Pool6 | undefined
  readonly preferredLifetime: number
  readonly validLifetime: number

  constructor(readonly config: Dhcp6SubnetConfig) {
    ;({ base: this.base, length: this.length } = network(config.prefix, 'prefix'))
    this.preferredLifetime = config.preferredLifetime ?? 3600
    this.validLifetime = config.validLifetime ?? 7200
    if (!(this.preferredLifetime > 0 && this.validLifetime >= this.preferredLifetime)) throw new ArgumentError('validLifetime', 'lifetimes > 0 with validLifetime >= preferredLifetime')
    for (const d of config.dns ?? []) toBig(d, 'dns')
    const naReserved = new Reservations()
    const pdReserved = new Reservations()
    for (const [i, r] of (config.reservations ?? []).entries()) {
      if (!r.duid && !r.mac) throw new ArgumentError(`reservations[${i}]`, 'needs duid or mac')
      if (r.duid && !/^([0-9a-fA-F]{2}:?)+$/.test(r.duid)) throw new ArgumentError(`reservations[${i}].duid`, 'hex bytes')
      if (r.address) {
        if (!this.contains(r.address)) throw new ArgumentError(`reservations[${i}].address`, `${r.address} is not in ${config.prefix}`)
        naReserved.add(r, fromBig(toBig(r.address, 'address')))
      }
      if (r.prefix) {
        const p = network(r.prefix, `reservations[${i}].prefix`)
        pdReserved.add(r, `${fromBig(p.base)}/${p.length}`)
      }
    }
    if (config.range) {
      const first = toBig(config.range[0], 'range')
      const last = toBig(config.range[1], 'range')
      if (last < first || !this.contains(config.range[0]) || !this.contains(config.range[1])) throw new ArgumentError('range', `${config.range.join('-')} is not a range inside ${config.prefix}`)
      const firstBytes = Buffer.from(ipv6(config.range[0], 'range'))
      const lastBytes = Buffer.from(ipv6(config.range[1], 'range'))
      const scratch = Buffer.alloc(16)
      this.na = {
        kind: 'na',
        size: last - first + 1n,
        at: (i) => fromBig(first + i),
        indexOf: (key) => {
          let n: bigint
          try {
            n = toBig(key, 'address')
          } catch {
            return undefined
          }
          return n >= first && n <= last ? n - first : undefined
        },
        has: (key) => {
          let b: Buffer | undefined
          try {
            b = parseIpv6Hex(key, scratch) ?? ipv6(key, 'address')
          } catch {
            return false
          }
          return b.compare(firstBytes) >= 0 && b.compare(lastBytes) <= 0
        },
        reservedFor: (duid, mac) => naReserved.for(duid, mac),
        reservedTo: (key) => naReserved.byKey.get(key),
      }
    }
    if (config.pdPool) {
      const pool = network(config.pdPool.prefix, 'pdPool.prefix')
      const len = config.pdPool.length
      if (!Number.isInteger(len) || len < pool.length || len > 128) throw new ArgumentError('pdPool.length', `${pool.length}..128, got ${len}`)
      const shift = 128n - BigInt(len)
      this.pd = {
        kind: 'pd',
        size: 1n << BigInt(len - pool.length),
        at: (i) => `${fromBig(pool.base + (i << shift))}/${len}`,
        indexOf: (key) => {
          const slash = key.indexOf('/')
          if (slash < 0 || Number(key.slice(slash + 1)) !== len) return undefined
          let n: bigint
          try {
            n = toBig(key.slice(0, slash), 'prefix')
          } catch {
            return undefined
          }
          if (n & ((1n << shift) - 1n)) return undefined
          const i = (n - pool.base) >> shift
          return n >= pool.base && i < 1n << BigInt(len - pool.length) ? i : undefined
        },
        has: (key) => this.pd!.indexOf(key) !== undefined,
        reservedFor: (duid, mac) => pdReserved.for(duid, mac),
        reservedTo: (key) => pdReserved.byKey.get(key),
      }
    }
  }

  /** Whether `address` is on this subnet's link (inside its prefix). */
  contains(address: string): boolean {
    let n: bigint
    try {
      n = toBig(address, 'address')
    } catch {
      return false
    }
    const host = 128n - BigInt(this.length)
    return n >> host === this.base >> host
  }
}
