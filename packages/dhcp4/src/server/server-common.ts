// What DHCPv4's DhcpServer and @lab/dhcp6's DhcpV6Server do alike around their protocols: check
// the options every server takes, tell whether a logger reads debug lines, and turn the lease
// journal's failing and recovering into the server's health.
import { ArgumentError, silentLogger, type Logger } from '@lab/netlink-native'

/** `{ ok: true }` while new bindings can be made; `{ ok: false, reason }` while the journal cannot be written. */
export type ServerHealth = { ok: true } | { ok: false; reason: string }

/**
 * The interface names of a server's `interface` option (one name or a list), after checking it,
 * `subnets` (a non-empty list) and `durability`; throws ArgumentError naming the option.
 */
export function checkServerOptions(options: { interface: string | string[]; subnets: unknown; durability?: unknown }): string[] {
  const names = typeof options.interface === 'string' ? [options.interface] : options.interface
  if (!Array.isArray(names) || names.length === 0 || names.some((n) => typeof n !== 'string' || !n)) throw new ArgumentError('interface', 'an interface name, or a non-empty list of them')
  if (!Array.isArray(options.subnets) || options.subnets.length === 0) throw new ArgumentError('subnets', 'a non-empty list of subnets')
  if (options.durability !== undefined && options.durability !== 'commit' && options.durability !== 'none') throw new ArgumentError('durability', "'commit' or 'none'")
  return names
}

/** Whether the logger writes debug lines: building one per packet costs, and a pino logger says whether anyone reads them. */
export function debugEnabled(logger: Logger): boolean {
  const isLevelEnabled = (logger as { isLevelEnabled?: (level: string) => boolean }).isLevelEnabled
  return logger !== silentLogger && (isLevelEnabled ? isLevelEnabled.call(logger, 'debug') : true)
}

/**
 * The server's health once its lease journal started (`failure`) or stopped (undefined) failing,
 * logged; undefined when that changes nothing.
 */
export function journalHealth(current: ServerHealth, failure: Error | undefined, leaseFile: string | undefined, logger: Logger): ServerHealth | undefined {
  const health: ServerHealth = failure ? { ok: false, reason: `lease file ${leaseFile}: ${failure.message}` } : { ok: true }
  if (health.ok === current.ok) return undefined
  if (failure) logger.error({ err: failure, leaseFile }, 'lease journal cannot be written: no new bindings until it can (retrying)')
  else logger.info({ leaseFile }, 'lease journal written again: new bindings resume')
  return health
}
