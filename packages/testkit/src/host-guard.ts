// The host guard: a snapshot of the host namespace's network state before the tests, compared with
// one taken after. Volatile fields (address lifetimes, route expiry) are left out of the comparison.
// The host's resolver and name files count too: DHCP clients' scripts rewrite them.
import { readFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { run } from './run.js'

export type Section = 'link' | 'addr' | 'route' | 'rule' | 'nft' | 'sysctl' | 'file'
export type HostSnapshot = Record<Section, Record<string, string>>

const VOLATILE = new Set(['valid_life_time', 'preferred_life_time', 'expires', 'metainfo', 'stats', 'stats64'])

function canonical(value: unknown): string {
  return JSON.stringify(value, (key, v) => (VOLATILE.has(key) ? undefined : v))
}

async function json(argv: string[]): Promise<unknown[]> {
  const { stdout, code } = await run(argv, { allowFailure: true })
  if (code !== 0 || !stdout.trim()) return []
  return JSON.parse(stdout) as unknown[]
}

type Obj = Record<string, unknown>

export async function takeSnapshot(): Promise<HostSnapshot> {
  const [links, addrs, routes4, routes6, rules4, rules6, nft] = await Promise.all([
    json(['ip', '-j', 'link', 'show']),
    json(['ip', '-j', 'addr', 'show']),
    json(['ip', '-4', '-j', 'route', 'show', 'table', 'all']),
    json(['ip', '-6', '-j', 'route', 'show', 'table', 'all']),
    json(['ip', '-4', '-j', 'rule', 'show']),
    json(['ip', '-6', '-j', 'rule', 'show']),
    json(['nft', '-j', 'list', 'ruleset']).then((r) => ((r as unknown as Obj).nftables as unknown[]) ?? []),
  ])
  const snapshot: HostSnapshot = { link: {}, addr: {}, route: {}, rule: {}, nft: {}, sysctl: {}, file: {} }
  for (const l of links as Obj[]) snapshot.link[String(l.ifname)] = canonical(l)
  for (const l of addrs as Obj[]) {
    for (const a of (l.addr_info as Obj[]) ?? []) snapshot.addr[`${l.ifname} ${a.local}/${a.prefixlen}`] = canonical(a)
  }
  for (const r of [...(routes4 as Obj[]), ...(routes6 as Obj[])]) {
    const key = canonical(r)
    snapshot.route[key] = key
  }
  for (const r of [...(rules4 as Obj[]), ...(rules6 as Obj[])]) {
    const key = canonical(r)
    snapshot.rule[key] = key
  }
  for (const item of nft as Obj[]) {
    const key = canonical(item)
    if (!key.includes('"metainfo"') && key !== '{}') snapshot.nft[key] = key
  }
  for (const name of ['net/ipv4/ip_forward', 'net/ipv6/conf/all/forwarding']) {
    try {
      snapshot.sysctl[name.replaceAll('/', '.')] = readFileSync(`/proc/sys/${name}`, 'utf8').trim()
    } catch {
      // IPv6 disabled: nothing to compare.
    }
  }
  for (const path of ['/etc/resolv.conf', '/etc/hosts', '/etc/hostname']) {
    try {
      snapshot.file[path] = JSON.stringify(readFileSync(path, 'utf8'))
    } catch {
      snapshot.file[path] = 'missing'
    }
  }
  snapshot.file.hostname = hostname()
  return snapshot
}

/** Lists what differs between two snapshots, one line per difference, naming section and object. */
export function compareSnapshots(before: HostSnapshot, after: HostSnapshot): string[] {
  const differences: string[] = []
  for (const section of Object.keys(before) as Section[]) {
    const a = before[section]
    const b = after[section] ?? {}
    for (const key of Object.keys(a)) {
      if (!(key in b)) differences.push(`${section} removed: ${key}`)
      else if (a[key] !== b[key]) differences.push(`${section} changed: ${key}: ${a[key]} -> ${b[key]}`)
    }
    for (const key of Object.keys(b)) {
      if (!(key in a)) differences.push(`${section} added: ${key}`)
    }
  }
  return differences
}
