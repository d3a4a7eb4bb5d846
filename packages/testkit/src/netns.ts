// Throwaway network namespaces with unique names (prefix + pid + counter), veth pairs between them,
// and commands run inside. Every namespace is registered for cleanup the moment it exists.
//
// Each gets its own /etc/netns/NAME/resolv.conf, which `ip netns exec` mounts over /etc/resolv.conf:
// DHCP clients' scripts (udhcpc's default script, dhclient-script, dhcpcd's hooks) rewrite
// resolv.conf from the lease, and without it they would rewrite the host's.
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { deferCleanup } from './cleanup.js'
import { ipJson, run, runSync, type RunResult } from './run.js'

/** Every namespace the harness makes starts with this, followed by the owning pid. */
export const NETNS_PREFIX = 'labt'

let counter = 0

export function uniqueName(tag = 'ns'): string {
  return `${NETNS_PREFIX}-${process.pid}-${++counter}-${tag}`
}

/** A short unique interface name (IFNAMSIZ is 16 including the NUL). */
export function uniqueIfname(tag = 'v'): string {
  return `${tag}${(++counter).toString(36)}${(process.pid % 1296).toString(36)}`.slice(0, 15)
}

export class TestNetns {
  private readonly undo: () => void

  private constructor(readonly name: string) {
    this.undo = deferCleanup(`netns ${name}`, () => deleteNetnsSync(name))
  }

  /** Creates a namespace with loopback up and a resolv.conf of its own. */
  static async create(tag?: string): Promise<TestNetns> {
    const name = uniqueName(tag)
    const ns = new TestNetns(name)
    mkdirSync(netnsEtc(name), { recursive: true })
    writeFileSync(`${netnsEtc(name)}/resolv.conf`, '')
    await run(['ip', 'netns', 'add', name])
    await ns.exec(['ip', 'link', 'set', 'lo', 'up'])
    return ns
  }

  get path(): string {
    return `/run/netns/${this.name}`
  }

  /** Runs a command inside the namespace (`ip netns exec`). */
  exec(argv: string[], options: { allowFailure?: boolean; timeout?: number; input?: string } = {}): Promise<RunResult> {
    return run(['ip', 'netns', 'exec', this.name, ...argv], options)
  }

  ip<T = unknown>(args: string[]): Promise<T> {
    return ipJson<T>(args, this.name)
  }

  /** Deletes the namespace now (idempotent). */
  async delete(): Promise<void> {
    this.undo()
  }
}

/** Where `ip netns exec` finds files to mount over /etc's for namespace `name`. */
export function netnsEtc(name: string): string {
  return `/etc/netns/${name}`
}

function deleteNetnsSync(name: string): void {
  rmSync(netnsEtc(name), { recursive: true, force: true })
  if (!existsSync(`/run/netns/${name}`)) return
  runSync(['ip', 'netns', 'del', name])
}

export interface VethEnd {
  netns: TestNetns
  ifname: string
  address?: string
}

/**
 * Creates a veth pair with one end in each namespace, sets both up and optionally assigns
 * addresses (CIDR). Deleting either namespace removes the pair.
 */
export async function vethPair(a: VethEnd, b: VethEnd): Promise<void> {
  await run(['ip', 'link', 'add', a.ifname, 'netns', a.netns.name, 'type', 'veth', 'peer', 'name', b.ifname, 'netns', b.netns.name])
  for (const end of [a, b]) {
    if (end.address) await end.netns.exec(['ip', 'addr', 'add', end.address, 'dev', end.ifname])
    await end.netns.exec(['ip', 'link', 'set', end.ifname, 'up'])
  }
}

/** Lists namespaces (under /run/netns, or their /etc/netns files) with our prefix whose owning process is gone. */
export function staleNetns(): string[] {
  const names = new Set<string>()
  for (const dir of ['/run/netns', '/etc/netns']) if (existsSync(dir)) for (const name of readdirSync(dir)) names.add(name)
  return [...names].filter((name) => {
    const match = new RegExp(`^${NETNS_PREFIX}-(\\d+)-`).exec(name)
    return match !== null && !processAlive(Number(match[1]))
  })
}

/** Removes stale namespaces left by crashed runs; returns their names. */
export function sweepStaleNetns(): string[] {
  const stale = staleNetns()
  for (const name of stale) deleteNetnsSync(name)
  return stale
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}
