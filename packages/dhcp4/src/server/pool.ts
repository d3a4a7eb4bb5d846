// The addresses a subnet hands out: a range, minus the server's own and excluded addresses, with
// reservations for known clients.
import { ArgumentError, ipv4ToNumber, parseIpv4Cidr } from '@lab/netlink-native'

export interface PoolOptions {
  /** "10.1.0.0/24" */
  subnet: string
  /** First and last address handed out. */
  range: [string, string]
  exclude?: string[]
  /** client key (`mac:..` or `id:..`) or bare MAC -> address */
  reservations?: Record<string, string>
}

export class AddressPool {
  readonly network: number
  readonly prefixLength: number
  readonly mask: number
  /** The subnet's broadcast address (on a /31 its second host). */
  readonly broadcast: number
  readonly first: number
  readonly last: number
  readonly excluded: Set<number>
  readonly reservations = new Map<string, string>()
  readonly #reservedTo = new Map<string, string>()

  constructor(readonly options: PoolOptions) {
    if (typeof options.subnet !== 'string' || !options.subnet.includes('/')) throw new ArgumentError('subnet', `a prefix like 10.1.0.0/24, got ${JSON.stringify(options.subnet)}`)
    const cidr = parseIpv4Cidr(options.subnet, 'subnet')
    if (cidr.prefixLength < 8 || cidr.prefixLength > 31) throw new ArgumentError('subnet', `prefix /${cidr.prefixLength} (8..31)`)
    this.prefixLength = cidr.prefixLength
    this.mask = cidr.mask
    this.network = cidr.network
    this.broadcast = cidr.broadcast
    if (!Array.isArray(options.range) || options.range.length !== 2) throw new ArgumentError('range', '[first, last] addresses')
    this.first = ipv4ToNumber(options.range[0], 'range')
    this.last = ipv4ToNumber(options.range[1], 'range')
    if (this.first > this.last || !this.contains(this.first) || !this.contains(this.last)) throw new ArgumentError('range', `${options.range.join('-')} is not inside ${options.subnet}`)
    this.excluded = new Set((options.exclude ?? []).map((a) => ipv4ToNumber(a, 'exclude')))
    for (const [client, address] of Object.entries(options.reservations ?? {})) {
      if (!this.contains(ipv4ToNumber(address, 'reservations'))) throw new ArgumentError('reservations', `${address} is outside ${options.subnet}`)
      const key = client.includes(':') && !client.startsWith('mac:') && !client.startsWith('id:') ? `mac:${client.toLowerCase()}` : client
      this.reservations.set(key, address)
      this.#reservedTo.set(address, key)
    }
  }

  contains(n: number): boolean {
    if (((n & this.mask) >>> 0) !== this.network) return false
    // RFC 3021: a /31 is a point-to-point link whose two addresses are both hosts.
    return this.prefixLength === 31 || (n !== this.network && n !== this.broadcast)
  }

  /** Whether the address may be handed to a client that has no reservation for it. */
  dynamic(n: number): boolean {
    return n >= this.first && n <= this.last && !this.excluded.has(n)
  }

  reservedFor(client: string): string | undefined {
    return this.reservations.get(client)
  }

  /** The client an address is reserved for, if any. */
  reservedTo(address: string): string | undefined {
    return this.#reservedTo.get(address)
  }

  isReserved(address: string): boolean {
    return this.#reservedTo.has(address)
  }

  /** Excluded addresses inside the range (they never count as free). */
  get excludedInRange(): number {
    let n = 0
    for (const e of this.excluded) if (e >= this.first && e <= this.last) n++
    return n
  }

  get size(): number {
    return this.last - this.first + 1
  }
}
