// The server's configuration file (JSON), validated before anything starts: a bad field fails with
// its path (`subnets[0].range: ...`), an unknown key with the known key it is closest to, as
// better-sqlite3 names a misspelled option. The file takes what DhcpServer.start() takes, in the
// same shape; reservations may also be a list of { mac | clientId, address }.
import { ArgumentError, ipv4ToNumber } from '@lab/netlink-native'
import { DhcpError } from './errors.js'
import type { DhcpServerOptions } from './server/server.js'
import { Subnet, type SubnetConfig } from './server/subnet.js'

/** What a configuration file holds: DhcpServer.start()'s options without the logger. */
export type ServerConfig = Omit<DhcpServerOptions, 'logger' | 'interface'> & { interface: string[] }

/** A configuration file is wrong; `field` is the path of the bad value (empty for the file itself). */
export class ConfigError extends DhcpError {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super('LAB_ERR_DHCP_CONFIG', field ? `${field}: ${message}` : message)
    this.name = 'ConfigError'
  }
}

const TOP_KEYS = ['interface', 'netns', 'leaseFile', 'durability', 'leaseTime', 'serverId', 'offerHoldMs', 'subnets'] as const
const SUBNET_KEYS = ['subnet', 'range', 'exclude', 'reservations', 'router', 'dns', 'domain', 'search', 'routes', 'mtu', 'ntp', 'leaseTime'] as const
const RESERVATION_KEYS = ['mac', 'clientId', 'address'] as const
const ROUTE_KEYS = ['destination', 'prefixLength', 'router'] as const

/** Edit distance (insertions, deletions, substitutions, each 1), for "did you mean". */
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const next = [i]
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    row = next
  }
  return row[b.length]!
}

/** The known key `key` is most likely a misspelling of, if any is close enough. */
export function closest(key: string, known: readonly string[]): string | undefined {
  let best: { key: string; d: number } | undefined
  for (const candidate of known) {
    const d = candidate.toLowerCase() === key.toLowerCase() ? 0 : distance(key, candidate)
    if (!best || d < best.d) best = { key: candidate, d }
  }
  return best && best.d <= Math.max(2, Math.floor(best.key.length / 3)) ? best.key : undefined
}

const path = (at: string, key: string) => (at ? `${at}.${key}` : key)

function object(value: unknown, at: string, known: readonly string[]): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ConfigError(at, 'expected an object')
  const o = value as Record<string, unknown>
  for (const key of Object.keys(o)) {
    if ((known as readonly string[]).includes(key)) continue
    const guess = closest(key, known)
    throw new ConfigError(at, `unknown key "${key}"${guess ? `, did you mean "${guess}"?` : ` (known: ${known.join(', ')})`}`)
  }
  return o
}

function ip(value: unknown, at: string): string {
  if (typeof value !== 'string') throw new ConfigError(at, 'expected an IPv4 address')
  try {
    ipv4ToNumber(value, at)
  } catch {
    throw new ConfigError(at, `expected an IPv4 address, got ${JSON.stringify(value)}`)
  }
  return value
}

function ips(value: unknown, at: string): string[] {
  if (!Array.isArray(value)) throw new ConfigError(at, 'expected a list of IPv4 addresses')
  return value.map((v, i) => ip(v, `${at}[${i}]`))
}

function strings(value: unknown, at: string): string[] {
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || !v)) throw new ConfigError(at, 'expected a list of non-empty strings')
  return value as string[]
}

function integer(value: unknown, at: string, min: number, max: number, unit: string): number {
  if (!Number.isInteger(value) || (value as number) < min || (value as number) > max) throw new ConfigError(at, `expected ${unit}, an integer ${min}..${max}`)
  return value as number
}

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i
const HEX_ID = /^([0-9a-f]{2}:?)+$/i

/** A reservation key as the JS API takes it: a MAC, `mac:<MAC>` or `id:<hex>`. */
function reservationKey(key: string, at: string): string {
  if (MAC.test(key)) return `mac:${key.toLowerCase()}`
  if (key.startsWith('mac:') && MAC.test(key.slice(4))) return key.toLowerCase()
  if (key.startsWith('id:') && HEX_ID.test(key.slice(3))) return `id:${key.slice(3).replaceAll(':', '').toLowerCase()}`
  throw new ConfigError(at, `expected a MAC address (02:00:00:00:00:05), "mac:<MAC>" or "id:<client id in hex>" as key, got ${JSON.stringify(key)}`)
}

function reservations(value: unknown, at: string): Record<string, string> {
  const out: Record<string, string> = {}
  if (Array.isArray(value)) {
    for (const [j, entry] of value.entries()) {
      const here = `${at}[${j}]`
      const r = object(entry, here, RESERVATION_KEYS)
      const address = ip(r.address, `${here}.address`)
      if (r.mac !== undefined) {
        if (typeof r.mac !== 'string' || !MAC.test(r.mac)) throw new ConfigError(`${here}.mac`, 'expected a MAC address')
        out[`mac:${r.mac.toLowerCase()}`] = address
      } else if (r.clientId !== undefined) {
        if (typeof r.clientId !== 'string' || !HEX_ID.test(r.clientId)) throw new ConfigError(`${here}.clientId`, 'expected a client id in hex, e.g. 01:02:00:00:00:00:05')
        out[`id:${r.clientId.replaceAll(':', '').toLowerCase()}`] = address
      } else {
        throw new ConfigError(here, 'needs mac or clientId')
      }
    }
    return out
  }
  if (typeof value !== 'object' || value === null) throw new ConfigError(at, 'expected { "<MAC>": "<address>", ... } or a list of { "mac" | "clientId", "address" }')
  for (const [key, address] of Object.entries(value)) {
    const here = `${at}[${JSON.stringify(key)}]`
    out[reservationKey(key, here)] = ip(address, here)
  }
  return out
}

function subnet(value: unknown, at: string, leaseTime: number | undefined): SubnetConfig {
  const s = object(value, at, SUBNET_KEYS)
  if (typeof s.subnet !== 'string') throw new ConfigError(`${at}.subnet`, 'expected a prefix like 10.1.0.0/24')
  if (!Array.isArray(s.range) || s.range.length !== 2) throw new ConfigError(`${at}.range`, 'expected [first, last] addresses')
  const config: SubnetConfig = { subnet: s.subnet, range: [ip(s.range[0], `${at}.range[0]`), ip(s.range[1], `${at}.range[1]`)] }
  if (s.exclude !== undefined) config.exclude = ips(s.exclude, `${at}.exclude`)
  if (s.reservations !== undefined) config.reservations = reservations(s.reservations, `${at}.reservations`)
  if (s.router !== undefined) config.router = ip(s.router, `${at}.router`)
  if (s.dns !== undefined) config.dns = ips(s.dns, `${at}.dns`)
  if (s.ntp !== undefined) config.ntp = ips(s.ntp, `${at}.ntp`)
  if (s.domain !== undefined) {
    if (typeof s.domain !== 'string' || !s.domain) throw new ConfigError(`${at}.domain`, 'expected a domain name')
    config.domain = s.domain
  }
  if (s.search !== undefined) config.search = strings(s.search, `${at}.search`)
  if (s.mtu !== undefined) config.mtu = integer(s.mtu, `${at}.mtu`, 68, 65535, 'bytes')
  if (s.routes !== undefined) {
    if (!Array.isArray(s.routes)) throw new ConfigError(`${at}.routes`, 'expected a list of { destination, prefixLength, router }')
    config.routes = s.routes.map((entry, j) => {
      const here = `${at}.routes[${j}]`
      const r = object(entry, here, ROUTE_KEYS)
      return { destination: ip(r.destination, `${here}.destination`), prefixLength: integer(r.prefixLength, `${here}.prefixLength`, 0, 32, 'a prefix length'), router: ip(r.router, `${here}.router`) }
    })
  }
  const time = s.leaseTime !== undefined ? integer(s.leaseTime, `${at}.leaseTime`, 1, 0xffffffff, 'seconds') : leaseTime
  if (time !== undefined) config.leaseTime = time
  // What only the whole subnet can tell (a range outside the prefix, a reservation outside it).
  try {
    new Subnet(config)
  } catch (error) {
    if (!(error instanceof ArgumentError)) throw error
    throw new ConfigError(path(at, error.field), error.message.slice(error.field.length + 2))
  }
  return config
}

/** Reads a configuration file's text. Throws ConfigError naming the first bad field. */
export function parseConfig(text: string): ServerConfig {
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (error) {
    throw new ConfigError('', `not JSON: ${(error as Error).message}`)
  }
  const top = object(raw, '', TOP_KEYS)
  const interfaces = typeof top.interface === 'string' && top.interface ? [top.interface] : top.interface
  if (!Array.isArray(interfaces) || interfaces.length === 0) throw new ConfigError('interface', 'expected an interface name or a non-empty list of them')
  strings(interfaces, 'interface')
  const leaseTime = top.leaseTime !== undefined ? integer(top.leaseTime, 'leaseTime', 1, 0xffffffff, 'seconds') : undefined
  if (!Array.isArray(top.subnets) || top.subnets.length === 0) throw new ConfigError('subnets', 'expected a non-empty list of subnets')
  const config: ServerConfig = { interface: interfaces as string[], subnets: top.subnets.map((s, i) => subnet(s, `subnets[${i}]`, leaseTime)) }
  for (const key of ['netns', 'leaseFile'] as const) {
    const v = top[key]
    if (v === undefined) continue
    if (typeof v !== 'string' || !v) throw new ConfigError(key, 'expected a non-empty string')
    config[key] = v
  }
  if (top.serverId !== undefined) config.serverId = ip(top.serverId, 'serverId')
  if (top.offerHoldMs !== undefined) config.offerHoldMs = integer(top.offerHoldMs, 'offerHoldMs', 1, 0x7fffffff, 'milliseconds')
  if (top.durability !== undefined) {
    if (top.durability !== 'commit' && top.durability !== 'none') throw new ConfigError('durability', 'expected "commit" or "none"')
    config.durability = top.durability
  }
  return config
}
