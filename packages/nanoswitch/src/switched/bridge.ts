// The switch's bridge and its ports: create the bridge with the switch address (or adopt the one a
// crashed run left), enslave every port found now and every port that appears later (rtnetlink
// events, no polling); on a clean stop release the ports and delete the bridge.
import { isNotFound, type Link, type Netlink } from '@lab/netlink-native'
import type { Logger } from 'pino'
import { publishPort } from '../events.js'
import { classify, type UplinkSelector } from './ports.js'

export interface BridgeOptions {
  name: string
  /** "10.1.0.1/24" */
  address: string
  uplink: UplinkSelector
  netns?: string
  /** A fabric's underlay interface: never bridged. */
  underlay?: string
}

/**
 * The bridge with the switch's address, up. A bridge of that name left by an earlier run is
 * adopted: no second bridge, and `addr replace` gives no second address.
 */
export async function ensureBridge(nl: Netlink, o: BridgeOptions): Promise<Link> {
  const existing = await nl.link.get(o.name).catch((error: unknown) => {
    // Not there: this run creates it. Anything else is a real fault.
    if (isNotFound(error)) return undefined
    throw error
  })
  if (existing && existing.kind !== 'bridge') throw new Error(`${o.name} exists and is a ${existing.kind ?? 'device'}, not a bridge`)
  if (!existing) {
    // Forward delay 0: a VM's first DHCP packets must not be dropped while STP learns.
    await nl.link.add({ name: o.name, kind: 'bridge', bridge: { stp: false, forwardDelay: 0 } })
  }
  // Pin the bridge's MAC. Left alone, a bridge takes the lowest MAC of its ports and changes it
  // when a port with a lower one joins; hosts that cached the old one (from an RA's source
  // link-layer option, or ARP) then send to a port's MAC, which the bridge floods instead of
  // routing. An address set explicitly (NET_ADDR_SET) is never recalculated.
  const mac = (await nl.link.get(o.name)).address
  if (mac) await nl.link.set(o.name, { address: mac })
  await nl.addr.replace(o.name, o.address)
  await nl.link.set(o.name, { up: true })
  return nl.link.get(o.name)
}

/** Enslaves one port to the bridge and brings it up (idempotent): true if it was not attached yet. */
export async function attachPort(nl: Netlink, bridge: Link, link: Link, o: BridgeOptions, logger: Logger): Promise<boolean> {
  if (link.master === bridge.index && link.up) return false
  await nl.link.set(link.name, { master: bridge.index, up: true })
  logger.info({ port: link.name, mac: link.address }, 'port attached to bridge')
  publishPort({ netns: o.netns, bridge: o.name, port: link.name, mac: link.address, state: 'up' })
  return true
}

/** Finds the uplink and attaches every other port present now. */
export async function attachPresentPorts(nl: Netlink, bridge: Link, o: BridgeOptions, logger: Logger): Promise<{ uplink?: Link; ports: Link[] }> {
  let uplink: Link | undefined
  const ports: Link[] = []
  for (const link of await nl.link.list()) {
    const role = classify(link, o.name, o.uplink, o.underlay)
    if (role === 'uplink') uplink = link
    else if (role === 'port') {
      await attachPort(nl, bridge, link, o, logger)
      ports.push(link)
    }
  }
  return { uplink, ports }
}

/**
 * Attaches ports that appear after start, and reports ports that go away, until the signal
 * aborts. Runs as a supervised runnable's body; returns when aborted.
 */
export async function followHotplug(
  nl: Netlink,
  bridge: Link,
  o: BridgeOptions,
  logger: Logger,
  signal: AbortSignal,
  on: { added?: (link: Link) => void; removed?: (link: Link) => boolean } = {},
): Promise<void> {
  for await (const event of nl.watch(['link'], { signal })) {
    if (event.kind === 'overrun') {
      // Events were lost; the watch follows with every present link as a 'new' event.
      logger.warn('link events were lost; re-reading all links')
      continue
    }
    if (event.kind !== 'link') continue
    if (event.action === 'new') {
      await attachLate(nl, bridge, event.link, o, logger, on)
      continue
    }
    // The bridge also sends a DELLINK (family AF_BRIDGE) when a port leaves it, and a deleted
    // link gives one of those and its own: the link's present state tells what happened.
    const now = await nl.link.get(event.link.index).catch((error: unknown) => {
      if (isNotFound(error)) return undefined
      throw error
    })
    if (now?.master === bridge.index) continue
    if (on.removed?.(event.link)) {
      logger.info({ port: event.link.name }, now ? 'port left the bridge' : 'port gone')
      publishPort({ netns: o.netns, bridge: o.name, port: event.link.name, mac: event.link.address, state: 'down' })
    }
  }
}

async function attachLate(nl: Netlink, bridge: Link, seen: Link, o: BridgeOptions, logger: Logger, on: { added?: (link: Link) => void }): Promise<void> {
  if (classify(seen, o.name, o.uplink, o.underlay) !== 'port' || seen.master === bridge.index) return
  try {
    // The event is a snapshot: one queued before our own attach of the same link still shows it
    // loose. The link as it is now says whether there is anything to do.
    const link = await nl.link.get(seen.index)
    if (await attachPort(nl, bridge, link, o, logger)) on.added?.(link)
  } catch (error) {
    // The link may already be gone again (a VM that stopped at once): not a reason to stop.
    logger.warn({ port: seen.name, err: error }, 'could not attach port')
  }
}

/**
 * A clean stop: every port leaves the bridge (ports are the VMs' cables, not the switch's: they
 * stay), then the bridge goes, and its address with it.
 */
export async function removeBridge(nl: Netlink, o: BridgeOptions, logger: Logger): Promise<void> {
  let bridge: Link
  try {
    bridge = await nl.link.get(o.name)
  } catch (error) {
    // Removed by someone else already: nothing left to do.
    if (isNotFound(error)) return
    throw error
  }
  for (const link of await nl.link.list()) {
    if (link.master !== bridge.index) continue
    try {
      await nl.link.set(link.name, { master: null })
      publishPort({ netns: o.netns, bridge: o.name, port: link.name, mac: link.address, state: 'down' })
    } catch (error) {
      // A port that vanished meanwhile has left the bridge anyway.
      if (!isNotFound(error)) throw error
    }
  }
  await nl.link.del(o.name).catch((error: unknown) => {
    // Gone meanwhile: what we wanted.
    if (!isNotFound(error)) throw error
  })
  logger.info({ bridge: o.name }, 'bridge removed, ports released')
}
