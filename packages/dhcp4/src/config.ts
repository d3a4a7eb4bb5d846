// The server's configuration file (JSON), validated before anything starts: a bad field fails with
// its path, e.g. `subnets[0].range: ...`.
import type { SubnetConfig } from './server/subnet.js'

export interface ServerConfigFile {
  interfaces: string[]
  leaseFile?: string
  leaseTime?: number
  subnets: Array<Omit<SubnetConfig, 'reservations'> & { reservations?: Array<{ mac?: string; clientId?: string; address: string }> }>
}

export class ConfigError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`)
    this.name = 'ConfigError'
  }
}

const isIp = (v: unknown) => typeof v === 'string' && /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.test(v) && v.split('.').every((o) => Number(o) <= 255)

export function parseConfig(text: string): { interfaces: string[]; leaseFile?: string; subnets: SubnetConfig[] } {
  let raw: ServerConfigFile
  try {
    raw = JSON.parse(text) as ServerConfigFile
  } catch (error) {
    throw new ConfigError('config', `not JSON: ${(error as Error).message}`)
  }
  if (!Array.isArray(raw.interfaces) || raw.interfaces.length === 0 || raw.interfaces.some((i) => typeof i !== 'string' || !i)) {
    throw new ConfigError('interfaces', 'a non-empty list of interface names')
  }
  if (!Array.isArray(raw.subnets) || raw.subnets.length === 0) throw new ConfigError('subnets', 'at least one subnet')
  if (raw.leaseTime !== undefined && !(Number.isInteger(raw.leaseTime) && raw.leaseTime > 0)) throw new ConfigError('leaseTime', 'seconds, a positive integer')
  const subnets = raw.subnets.map((s, i) => {
    const at = `subnets[${i}]`
    if (typeof s.subnet !== 'string' || !/^[\d.]+\/\d+$/.test(s.subnet)) throw new ConfigError(`${at}.subnet`, 'a prefix like 10.1.0.0/24')
    if (!Array.isArray(s.range) || s.range.length !== 2 || !s.range.every(isIp)) throw new ConfigError(`${at}.range`, '[first, last] addresses')
    if (s.router !== undefined && !isIp(s.router)) throw new ConfigError(`${at}.router`, 'an IPv4 address')
    if (s.dns !== undefined && (!Array.isArray(s.dns) || !s.dns.every(isIp))) throw new ConfigError(`${at}.dns`, 'a list of IPv4 addresses')
    const reservations: Record<string, string> = {}
    for (const [j, r] of (s.reservations ?? []).entries()) {
      if (!isIp(r.address)) throw new ConfigError(`${at}.reservations[${j}].address`, 'an IPv4 address')
      if (r.mac) reservations[`mac:${r.mac.toLowerCase()}`] = r.address
      else if (r.clientId) reservations[`id:${r.clientId.replace(/:/g, '').toLowerCase()}`] = r.address
      else throw new ConfigError(`${at}.reservations[${j}]`, 'needs mac or clientId')
    }
    return { ...s, leaseTime: s.leaseTime ?? raw.leaseTime, reservations } as SubnetConfig
  })
  return { interfaces: raw.interfaces, ...(raw.leaseFile ? { leaseFile: raw.leaseFile } : {}), subnets }
}
