// The addresses a subnet hands out: a range, minus the server's own and excluded addresses, with
// reservations for known clients.
import { ArgumentError } from '@lab/netlink-native'
import { formatIpv4, parseIpv4 } from '../codec/ipv4.js'

export interface PoolOptions {
  /** "10.1.0.0/24" */
  subnet: string
  /** First and last address handed out. */
  range: [string, string]
  exclude?: string[]
  /** client key (`mac:..` or `id:..`) or bare MAC -> address */
  reservations?: Record<string, string>
}

export function ipToNumber(ip: string, field = 'address'): number {
  const n = parseIpv4(ip)
  if (n < 0) throw new ArgumentError(field, `invalid IPv4 address ${JSON.stringify(ip)}`)
  return n
}

export const numberToIp = formatIpv4

export class AddressPool {
  readonly network: number
  readonly prefixLength: number
  readonly first: number
  readonly last: number
  readonly excluded: Set<number>
  readonly reservations = new Map<string, string>()
  readonly #reservedTo = new Map<string, string>()

  constructor(readonly options: PoolOptions) {
    const [net, len] = options.subnet.split('/')
    this.prefixLength = Number(len)
    if (!Number.isInteger(this.prefixLength) || this.prefixLength < 8 || this.prefixLength > 31) throw new ArgumentError('subnet', `prefix /${len} (8..31)`)
    const mask = this.prefixLength === 0 ? 0 : (0xffffffff << (32 - this.prefixLength)) >>> 0
    this.network = (ipToNumber(net!, 'subnet') & mask) >>> 0
    this.first = ipToNumber(options.range[0], 'range')
    this.last = ipToNumber(options.range[1], 'range')
    if (this.first > this.last || !this.contains(this.first) || !this.contains(this.last)) throw new ArgumentError('range', `${options.range.join('-')} is not inside ${options.subnet}`)
    this.excluded = new Set((options.exclude ?? []).map((a) => ipToNumber(a, 'exclude')))
    for (const [client, address] of Object.entries(options.reservations ?? {})) {
      if (!this.contains(ipToNumber(address, 'reservations'))) throw new ArgumentError('reservations', `${address} is outside ${options.subnet}`)
      const key = client.includes(':') && !client.startsWith('mac:') && !client.startsWith('id:') ? `mac:${client.toLowerCase()}` : client
      this.reservations.set(key, address)
      this.#reservedTo.set(address, key)
    }
  }

  contains(n: number): boolean {
    const mask = (0xffffffff << (32 - this.prefixLength)) >>> 0
    if (((n & mask) >>> 0) !== this.network) return false
    // RFC 3021: a /31 is a point-to-point link whose two addresses are both hosts.
    return this.prefixLength === 31 || (n !== this.network && n !== (this.network | (~mask >>> 0)) >>> 0)
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
