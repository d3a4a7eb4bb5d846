// A CNI 1.0 plugin (https://www.cni.dev/docs/spec/): the runtime passes the command and the
// container's namespace in the environment and the network configuration on stdin; the plugin
// sets up one slot in that namespace and prints the result, or a CNI error, as JSON on stdout.
import { Netlink, SystemError, ipv4ToNumber, isNotFound, parseRate } from '@lab/netlink-native'
import { validateEgress, type EgressPolicy } from './egress.js'
import { SLOTS_ERROR_CODES, SlotsError } from './errors.js'
import { DEFAULT_RANGES, slotAddressing, validateRanges, type SlotAddressing, type SlotRanges } from './addressing.js'
import { IndexStore } from './index-store.js'
import { SlotNat } from './nat.js'
import { createTopology, destroyTopology, enableForwarding, readInside, restoreInside, type InsideState } from './topology.js'

export const SUPPORTED_VERSIONS = ['0.4.0', '1.0.0', '1.1.0']

// Error codes from the CNI specification; 100 and up are this plugin's own.
export const CNI_ERRORS = {
  incompatibleVersion: 1,
  unsupportedField: 2,
  unknownContainer: 3,
  invalidEnvironment: 4,
  ioFailure: 5,
  decodeFailure: 6,
  invalidConfig: 7,
  tryAgainLater: 11,
  /** CNI 1.1 STATUS: the plugin cannot serve ADDs now. */
  pluginNotAvailable: 50,
  kernelRefused: 100,
} as const

/** A CNI error object: `cniCode` is the spec's code (CNI_ERRORS), printed as the object's `code`. */
export class CniError extends SlotsError {
  constructor(
    readonly cniCode: number,
    message: string,
    readonly details?: string,
  ) {
    super(SLOTS_ERROR_CODES.cni, message)
    this.name = 'CniError'
  }
}

export interface CniConfig extends Partial<SlotRanges> {
  cniVersion: string
  name: string
  type: string
  /** Host uplink (FORWARD accept and masquerade). */
  uplink: string
  /** Where slot indexes are recorded; default /var/lib/cni/lab-slots/<name>. */
  dataDir?: string
  /** For tests: the namespace acting as the host (the plugin itself runs in the runtime's). */
  hostNetns?: string
  /** The slot's egress policy (as `Slots.add({ egress })`); default `allow`. */
  egress?: EgressPolicy
  /** A DNS resolver that `deny` and `{ allow }` policies still let through. */
  resolver?: string
  /** A rate limit each way, '100mbit' (as `Slots.add({ rate })`). */
  rate?: string | number
  /**
   * IPv6 too (as `Slots.open({ ipv6: true })`): the result lists the slot's IPv6 addresses and
   * default route beside the IPv4 ones. Default false.
   */
  ipv6?: boolean
  /** CNI 1.1 GC: the attachments the runtime still has; every other recorded one is removed. */
  'cni.dev/valid-attachments'?: Array<{ containerID: string; ifname: string }>
}

export interface CniInvocation {
  env: Record<string, string | undefined>
  stdin: string
}

export interface CniOutcome {
  stdout: string
  exitCode: number
}

function need(env: CniInvocation['env'], name: string): string {
  const value = env[name]
  if (!value) throw new CniError(CNI_ERRORS.invalidEnvironment, `${name} is not set`)
  return value
}

function parseConfig(stdin: string): CniConfig {
  let config: CniConfig
  try {
    config = JSON.parse(stdin) as CniConfig
  } catch (error) {
    throw new CniError(CNI_ERRORS.decodeFailure, 'network configuration on stdin is not JSON', (error as Error).message)
  }
  if (!config || typeof config !== 'object') throw new CniError(CNI_ERRORS.decodeFailure, 'network configuration must be a JSON object')
  if (!config.cniVersion || !SUPPORTED_VERSIONS.includes(config.cniVersion)) {
    // JSON.stringify: found by the fuzz campaign, `${}` of { "toString": false } threw a TypeError (an internal error, code 5).
    throw new CniError(CNI_ERRORS.incompatibleVersion, `unsupported cniVersion ${JSON.stringify(config.cniVersion)}`, `supported: ${SUPPORTED_VERSIONS.join(', ')}`)
  }
  if (!config.name || typeof config.name !== 'string') throw new CniError(CNI_ERRORS.invalidConfig, 'network configuration needs a name')
  if (!config.uplink || typeof config.uplink !== 'string') throw new CniError(CNI_ERRORS.invalidConfig, 'network configuration needs "uplink" (the host interface to NAT out of)')
  try {
    if (config.egress !== undefined) validateEgress(config.egress, 'egress')
    if (config.rate !== undefined) parseRate(config.rate, 'rate')
    if (config.resolver !== undefined) ipv4ToNumber(config.resolver, 'resolver')
    if (config.ipv6 !== undefined && typeof config.ipv6 !== 'boolean') throw new CniError(CNI_ERRORS.invalidConfig, '"ipv6" must be true or false')
  } catch (error) {
    throw new CniError(CNI_ERRORS.invalidConfig, (error as Error).message)
  }
  return config
}

function rangesOf(config: CniConfig, ifname: string): SlotRanges {
  const ranges: SlotRanges = { ...DEFAULT_RANGES, peerName: ifname }
  for (const key of Object.keys(DEFAULT_RANGES) as Array<keyof SlotRanges>) {
    if (config[key] !== undefined && key !== 'peerName') (ranges as unknown as Record<string, unknown>)[key] = config[key]
  }
  try {
    validateRanges(ranges)
  } catch (error) {
    throw new CniError(CNI_ERRORS.invalidConfig, (error as Error).message)
  }
  return ranges
}

async function withHost<T>(config: CniConfig, fn: (host: Netlink) => Promise<T>): Promise<T> {
  const host = await Netlink.open({ netns: config.hostNetns })
  try {
    return await fn(host)
  } finally {
    await host.close()
  }
}

function slotIn(config: CniConfig, ranges: SlotRanges, index: number, netnsPath: string): SlotAddressing {
  return { ...slotAddressing(ranges, index, config.ipv6 === true), netns: netnsPath }
}

/** What every command needs: the owner from the environment, the ranges and the index store. */
function invocation(config: CniConfig, env: CniInvocation['env']) {
  const containerId = need(env, 'CNI_CONTAINERID')
  const ifname = need(env, 'CNI_IFNAME')
  const ranges = rangesOf(config, ifname)
  const store = new IndexStore(config.dataDir ?? `/var/lib/cni/lab-slots/${config.name}`, ranges.maxSlots)
  return { owner: { containerId, ifname }, ifname, ranges, store }
}

/** Notes in the index store <-> what ADD found in the runtime's namespace. */
function toNotes(state: InsideState): Record<string, string> {
  return { forwarding: state.forwarding, ...(state.forwarding6 !== undefined ? { forwarding6: state.forwarding6 } : {}), loopback: state.loopbackUp ? 'up' : 'down' }
}

function fromNotes(notes: Record<string, string>): Partial<InsideState> {
  return {
    ...(notes.forwarding !== undefined ? { forwarding: notes.forwarding } : {}),
    ...(notes.forwarding6 !== undefined ? { forwarding6: notes.forwarding6 } : {}),
    ...(notes.loopback !== undefined ? { loopbackUp: notes.loopback === 'up' } : {}),
  }
}

/**
 * Removes everything ADD made, on the host (veth, route, set elements) and, when the namespace is
 * still there, inside it (TAP, slot table, ip_forward and lo as ADD found them). Each piece that
 * is gone already is skipped, so a DEL after a half-done ADD or DEL finishes the job.
 */
async function removeSlot(config: CniConfig, host: Netlink, ranges: SlotRanges, s: SlotAddressing, inside: Partial<InsideState> | undefined): Promise<void> {
  const nat = await SlotNat.open(config.hostNetns, config.uplink, ranges, undefined, config.ipv6 === true)
  try {
    await nat.del(s)
  } finally {
    await nat.close()
  }
  await destroyTopology(host, s, { deleteNetns: false })
  if (inside === undefined) return
  await SlotNat.delInside(s)
  await restoreInside(s, inside)
}

async function add(config: CniConfig, env: CniInvocation['env']): Promise<unknown> {
  const netnsPath = need(env, 'CNI_NETNS')
  const { owner, ifname, ranges, store } = invocation(config, env)
  const index = store.claim(owner)
  const s = slotIn(config, ranges, index, netnsPath)
  const v6 = s.ipv6
  return withHost(config, async (host) => {
    try {
      // What ADD changes in the runtime's namespace is noted first, so DEL can put it back. A
      // repeated ADD keeps the first notes: by then the namespace holds our own changes.
      if (Object.keys(store.notes(index)).length === 0) store.setNotes(index, toNotes(await readInside(netnsPath, v6 !== undefined)))
      await enableForwarding(host, config.uplink, v6 !== undefined)
      const nat = await SlotNat.open(config.hostNetns, config.uplink, ranges, config.resolver, v6 !== undefined)
      try {
        await createTopology(host, s, { createNetns: false, rate: config.rate })
        await nat.add(s)
        if (config.egress !== undefined && config.egress !== 'allow') await nat.setEgress(s, config.egress)
      } finally {
        await nat.close()
      }
    } catch (error) {
      try {
        await removeSlot(config, host, ranges, s, fromNotes(store.notes(index)))
        store.release(index)
      } catch {
        // The ADD's own error is what the runtime needs to see. The index stays recorded, so the
        // DEL that runtimes send after a failed ADD (CNI spec, "ADD" failure) finishes the cleanup.
      }
      throw error
    }
    const inner = await Netlink.open({ netns: netnsPath })
    try {
      const hostSide = await host.link.get(s.vethName)
      const peer = await inner.link.get(ifname)
      const tap = await inner.link.get(s.tapName)
      return {
        cniVersion: config.cniVersion,
        interfaces: [
          { name: s.vethName, mac: hostSide.address },
          { name: ifname, mac: peer.address, sandbox: netnsPath },
          { name: s.tapName, mac: tap.address, sandbox: netnsPath },
        ],
        ips: [
          { address: `${s.peerAddress}/31`, gateway: s.vethAddress, interface: 1 },
          { address: `${s.tapAddress}/${s.tapPrefixLength}`, interface: 2 },
          ...(v6
            ? [
                { address: `${v6.peerAddress}/127`, gateway: v6.vethAddress, interface: 1 },
                { address: `${v6.tapAddress}/${v6.tapPrefixLength}`, interface: 2 },
              ]
            : []),
        ],
        routes: [{ dst: '0.0.0.0/0', gw: s.vethAddress }, ...(v6 ? [{ dst: '::/0', gw: v6.vethAddress }] : [])],
        dns: {},
      }
    } finally {
      await inner.close()
    }
  })
}

async function del(config: CniConfig, env: CniInvocation['env']): Promise<void> {
  const { owner, ranges, store } = invocation(config, env)
  const index = store.find(owner)
  // The spec asks DEL to succeed when there is nothing (left) to delete.
  if (index === undefined) return
  // CNI_NETNS may be absent on DEL (the runtime lost or removed the namespace): then only the
  // host's side is left to remove.
  const netnsPath = env.CNI_NETNS || undefined
  const s = slotIn(config, ranges, index, netnsPath ?? '')
  await withHost(config, (host) => removeSlot(config, host, ranges, s, netnsPath === undefined ? undefined : fromNotes(store.notes(index))))
  store.release(index)
}

async function check(config: CniConfig, env: CniInvocation['env']): Promise<void> {
  const netnsPath = need(env, 'CNI_NETNS')
  const { owner, ifname, ranges, store } = invocation(config, env)
  const index = store.find(owner)
  if (index === undefined) throw new CniError(CNI_ERRORS.unknownContainer, `no slot recorded for container ${owner.containerId} ${ifname}`)
  const s = slotIn(config, ranges, index, netnsPath)
  await withHost(config, async (host) => {
    const inner = await Netlink.open({ netns: netnsPath })
    try {
      const problems: string[] = []
      // A missing link is one of the problems CHECK reports, not a failure of CHECK itself.
      const orGone = <T>(fallback: T) => (error: unknown): T => {
        if (isNotFound(error)) return fallback
        throw error
      }
      const hostAddrs = await host.addr.list({ link: s.vethName }).catch(orGone([]))
      if (!hostAddrs.some((a) => a.cidr === `${s.vethAddress}/31`)) problems.push(`${s.vethName} lacks ${s.vethAddress}/31`)
      const innerAddrs = await inner.addr.list({ link: ifname }).catch(orGone([]))
      if (!innerAddrs.some((a) => a.cidr === `${s.peerAddress}/31`)) problems.push(`${ifname} lacks ${s.peerAddress}/31`)
      const tap = await inner.link.get(s.tapName).catch(orGone(undefined))
      if (!tap?.up) problems.push(`${s.tapName} is missing or down`)
      const routes = await inner.route.list()
      if (!routes.some((r) => r.dst === 'default' && r.gateway === s.vethAddress)) problems.push('default route via the host veth is missing')
      const v6 = s.ipv6
      if (v6) {
        if (!hostAddrs.some((a) => a.cidr === `${v6.vethAddress}/127`)) problems.push(`${s.vethName} lacks ${v6.vethAddress}/127`)
        if (!innerAddrs.some((a) => a.cidr === `${v6.peerAddress}/127`)) problems.push(`${ifname} lacks ${v6.peerAddress}/127`)
        const routes6 = await inner.route.list({ family: 6 })
        if (!routes6.some((r) => r.dst === 'default' && r.gateway === v6.vethAddress)) problems.push('IPv6 default route via the host veth is missing')
      }
      if (problems.length > 0) throw new CniError(CNI_ERRORS.kernelRefused, 'slot is not as ADD left it', problems.join('; '))
    } finally {
      await inner.close()
    }
  })
}

/**
 * CNI 1.1 GC: removes every recorded attachment the runtime no longer lists as valid. Their
 * namespaces are the runtime's and may be gone: the host side is removed, and what is left
 * inside goes with the namespace.
 */
async function gc(config: CniConfig): Promise<void> {
  const valid = config['cni.dev/valid-attachments']
  if (!Array.isArray(valid)) throw new CniError(CNI_ERRORS.invalidConfig, 'GC needs "cni.dev/valid-attachments"')
  const keep = new Set(valid.map((a) => `${a.containerID}\n${a.ifname}`))
  const store = new IndexStore(config.dataDir ?? `/var/lib/cni/lab-slots/${config.name}`, rangesOf(config, 'eth0').maxSlots)
  const stale = store.entries().filter((e) => !keep.has(`${e.containerId}\n${e.ifname}`))
  if (stale.length === 0) return
  await withHost(config, async (host) => {
    for (const e of stale) {
      const ranges = rangesOf(config, e.ifname)
      await removeSlot(config, host, ranges, slotIn(config, ranges, e.index, ''), undefined)
      store.release(e.index)
    }
  })
}

/** CNI 1.1 STATUS: ready when the host and its uplink are there. */
async function status(config: CniConfig): Promise<void> {
  await withHost(config, async (host) => {
    await host.link.get(config.uplink).catch((error: unknown) => {
      if (isNotFound(error)) throw new CniError(CNI_ERRORS.pluginNotAvailable, `uplink ${config.uplink} is not there`)
      throw error
    })
  })
}

/** Runs one CNI invocation and returns what the executable prints and its exit code. */
export async function runCni(invocation: CniInvocation): Promise<CniOutcome> {
  const command = invocation.env.CNI_COMMAND
  let cniVersion = '1.0.0'
  try {
    if (command === 'VERSION') {
      return { stdout: JSON.stringify({ cniVersion, supportedVersions: SUPPORTED_VERSIONS }), exitCode: 0 }
    }
    const config = parseConfig(invocation.stdin)
    cniVersion = config.cniVersion
    switch (command) {
      case 'ADD':
        return { stdout: JSON.stringify(await add(config, invocation.env)), exitCode: 0 }
      case 'DEL':
        await del(config, invocation.env)
        return { stdout: '', exitCode: 0 }
      case 'CHECK':
        await check(config, invocation.env)
        return { stdout: '', exitCode: 0 }
      case 'GC':
        await gc(config)
        return { stdout: '', exitCode: 0 }
      case 'STATUS':
        await status(config)
        return { stdout: '', exitCode: 0 }
      default:
        throw new CniError(CNI_ERRORS.invalidEnvironment, `unknown CNI_COMMAND ${JSON.stringify(command)}`, 'expected ADD, DEL, CHECK, GC, STATUS or VERSION')
    }
  } catch (error) {
    const cni =
      error instanceof CniError
        ? error
        : error instanceof SystemError
          ? new CniError(CNI_ERRORS.kernelRefused, error.message, `${error.code} during ${error.op}`)
          : error instanceof SlotsError && error.code === SLOTS_ERROR_CODES.full
            ? new CniError(CNI_ERRORS.tryAgainLater, error.message)
            : new CniError(CNI_ERRORS.ioFailure, (error as Error).message ?? String(error))
    return {
      stdout: JSON.stringify({ cniVersion, code: cni.cniCode, msg: cni.message, ...(cni.details ? { details: cni.details } : {}) }),
      exitCode: 1,
    }
  }
}
