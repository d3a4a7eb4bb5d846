// The switch's bridge and its ports: create the bridge with the switch address, enslave every port
// found now, and every port that appears later (rtnetlink events, no polling).
import type { Link, Netlink } from '@lab/netlink-native'
import type { Logger } from 'pino'
import { classify, type UplinkSelector } from './ports.js'

export interface BridgeOptions {
  name: string
  /** "10.1.0.1/24" */
  address: string
  uplink: UplinkSelector
}

export async function ensureBridge(nl: Netlink, o: BridgeOptions): Promise<Link> {
  const existing = await nl.link.get(o.name).catch(() => undefined)
  if (!existing) {
    // Forward delay 0: a VM's first DHCP packets must not be dropped while STP learns.
    await nl.link.add({ name: o.name, kind: 'bridge', bridge: { stp: false, forwardDelay: 0 } })
  }
  await nl.addr.replace(o.name, o.address)
  await nl.link.set(o.name, { up: true })
  return nl.link.get(o.name)
}

/** Enslaves one port to the bridge and brings it up (idempotent). */
export async function attachPort(nl: Netlink, bridge: Link, link: Link, logger: Logger): Promise<boolean> {
  if (link.master === bridge.index && link.up) return false
  await nl.link.set(link.name, { master: bridge.index, up: true })
  logger.info({ port: link.name, mac: link.address }, 'port attached to bridge')
  return true
}

/** Finds the uplink and attaches every other port present now. */
export async function attachPresentPorts(nl: Netlink, bridge: Link, o: BridgeOptions, logger: Logger): Promise<{ uplink?: Link; ports: Link[] }> {
  let uplink: Link | undefined
  const ports: Link[] = []
  for (const link of await nl.link.list()) {
    const role = classify(link, o.name, o.uplink)
    if (role === 'uplink') {
      uplink = link
      if (!link.up) await nl.link.set(link.name, { up: true })
    } else if (role === 'port') {
      await attachPort(nl, bridge, link, logger)
      ports.push(link)
    }
  }
  return { uplink, ports }
}

/**
 * Attaches ports that appear after start until the signal aborts. Runs as a supervised runnable's
 * body; returns when aborted.
 */
export async function followHotplug(nl: Netlink, bridge: Link, o: BridgeOptions, logger: Logger, signal: AbortSignal, onPort?: (link: Link) => void): Promise<void> {
  for await (const event of nl.watch(['link'], { signal })) {
    if (event.kind === 'overrun') {
      logger.warn('link events were lost; re-reading all links')
      continue
    }
    if (event.kind !== 'link' || event.action !== 'new') continue
    const link = event.link
    if (classify(link, o.name, o.uplink) !== 'port' || link.master === bridge.index) continue
    try {
      if (await attachPort(nl, bridge, link, logger)) onPort?.(link)
    } catch (error) {
      // The link may already be gone again (a VM that stopped at once): not a reason to stop.
      logger.warn({ port: link.name, err: error }, 'could not attach port')
    }
  }
}
