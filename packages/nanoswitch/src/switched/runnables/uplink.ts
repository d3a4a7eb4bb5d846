// `uplink`: finds the uplink, or waits for it to appear (saying so in the log and the status),
// then runs the masquerade (`nat`), the DHCP client (`dhcp-client`) and, with IPv6, the DHCPv6
// client (`dhcp6-client`; SLAAC is the kernel's, accept_ra=2 set before the link comes up) on it. If the link goes
// away, this runnable fails and its restart waits for the link again.
import { Netlink, isNotFound, type Link, type NetlinkEvent } from '@lab/netlink-native'
import type { Context, Runnable } from '@lab/supervisor'
import { publishUplink } from '../../events.js'
import { classify } from '../ports.js'
import type { SwitchContext } from '../state.js'
import { natRunnable } from './nat.js'
import { uplinkDhcpRunnable } from './uplink-dhcp.js'
import { acceptRouterAdvertisements, uplinkDhcp6Runnable } from './uplink-ipv6.js'

export const WAITING_FOR_LINK = 'waiting for link'

/** How the uplink is named in logs and status while it is not there: its name, or its MAC. */
export function uplinkLabel(sw: SwitchContext): string {
  return sw.bridge.uplink.name ?? sw.bridge.uplink.mac ?? ''
}

export function uplinkRunnable(sw: SwitchContext): Runnable {
  return async (ctx: Context) => {
    const nl = await Netlink.open({ netns: sw.netns })
    try {
      // Watch before looking, so a link that appears in between is not missed.
      const events = nl.watch(['link'], { signal: ctx.signal })[Symbol.asyncIterator]()
      let link = (await nl.link.list()).find((l) => classify(l, sw.bridge.name, sw.bridge.uplink) === 'uplink')
      if (!link) {
        const label = uplinkLabel(sw)
        sw.state.uplink = { name: label, state: WAITING_FOR_LINK }
        publishUplink({ netns: sw.netns, uplink: label, state: 'waiting' })
        ctx.logger.warn({ uplink: label }, `uplink ${label} is not there: waiting for it to appear`)
        // The bridge is served meanwhile: waiting for an uplink is not a fault.
        ctx.healthy()
        link = await nextUplink(events, sw)
        if (!link) return // cancelled while waiting
      }
      const up = link
      const v6 = sw.state.ipv6
      if (v6) await acceptRouterAdvertisements(sw.netns, up.name)
      await nl.link.set(up.name, { up: true })
      sw.state.uplink = { name: up.name, ...(up.address ? { mac: up.address } : {}) }
      publishUplink({ netns: sw.netns, uplink: up.name, state: 'found' })
      ctx.logger.info({ uplink: up.name, mac: up.address }, 'uplink found')
      ctx.run('nat', natRunnable(sw, up.name))
      ctx.run('dhcp-client', uplinkDhcpRunnable(sw, up))
      if (v6) ctx.run('dhcp6-client', uplinkDhcp6Runnable(sw, v6, up))
      ctx.healthy()
      // Until cancelled (the watch ends), or the uplink is deleted: then a restart waits for it again.
      if (await untilGone(events, nl, up)) throw new Error(`uplink ${up.name} went away`)
    } finally {
      if (sw.lifecycle.removing && sw.state.uplink) publishUplink({ netns: sw.netns, uplink: sw.state.uplink.name, state: 'gone' })
      nl.close()
    }
  }
}

type Events = AsyncIterator<NetlinkEvent>

async function nextUplink(events: Events, sw: SwitchContext): Promise<Link | undefined> {
  for (;;) {
    const next = await events.next()
    if (next.done) return undefined
    const e = next.value
    if (e.kind === 'link' && e.action === 'new' && classify(e.link, sw.bridge.name, sw.bridge.uplink) === 'uplink') return e.link
  }
}

/** True when the uplink was deleted; false when the watch ended (cancelled). */
async function untilGone(events: Events, nl: Netlink, up: Link): Promise<boolean> {
  for (;;) {
    const next = await events.next()
    if (next.done) return false
    const e = next.value
    if (e.kind !== 'link' || e.action !== 'del' || e.link.index !== up.index) continue
    const still = await nl.link.get(up.index).catch((error: unknown) => {
      if (isNotFound(error)) return undefined
      throw error
    })
    if (!still) return true
  }
}
