// Routed mode (seed 001, Spectrum OS's router VM): every client has its own point-to-point link
// whose MAC carries the /31 (see client-mac.ts); the router takes the low address and, by default,
// hands the high one to the client by DHCP. Every other Ethernet link is an uplink: a DHCP client
// there and masquerade out of it. Links are handled when they appear and forgotten when they go
// (rtnetlink events), so client VMs come and go while the router runs. The table
// `ip nanoswitch-routed` is rewritten on start (adopted after a crash) and deleted on a clean stop;
// with IPv6 (default) so is `ip6 nanoswitch-routed`, in the same transaction (NAT66 out of uplinks).
import { Netlink, Sysctl, isNotFound } from '@lab/netlink-native'
import { Nft, rule } from '@lab/nft'
import type { Runnable } from '@lab/supervisor'
import { Lifecycle } from '../lifecycle.js'
import { service } from '../service.js'
import { ROUTED6_TABLE, ROUTED_TABLE, RoutedLinks, RouterState, UPLINKS, UPLINKS6, type RouterOptions } from './routed-links.js'

export { ROUTED_TABLE, ROUTED6_TABLE, RoutedLinks, RouterState, type ClientLink, type RouterOptions, type UplinkState } from './routed-links.js'

export function routedSwitch(options: RouterOptions = {}, state = new RouterState(), lifecycle?: Lifecycle): Runnable {
  const netns = options.netns
  const ns = netns ? { netns } : {}

  return async (ctx) => {
    const life = lifecycle ?? new Lifecycle()
    return service(
      life,
      async () => {
        await new Sysctl(netns).set('net.ipv4.ip_forward', 1)
        const v6 = options.ipv6 !== false
        if (v6) await new Sysctl(netns).set('net.ipv6.conf.all.forwarding', 1)
        const nft = await Nft.open(ns)
        const nl = await Netlink.open(ns)
        await nft.apply((tx) => {
          tx.addTable(ROUTED_TABLE)
          tx.addChain({ table: ROUTED_TABLE, name: 'postrouting', type: 'nat', hook: 'postrouting', priority: 'srcnat', policy: 'accept' })
          tx.addSet(UPLINKS)
          tx.flushChain({ table: ROUTED_TABLE, name: 'postrouting' })
          tx.flushSet(UPLINKS)
          tx.addRule({ table: ROUTED_TABLE, chain: 'postrouting', exprs: rule().oifname(`@${UPLINKS.name}`).masquerade() })
          if (!v6) return
          tx.addTable(ROUTED6_TABLE)
          tx.addChain({ table: ROUTED6_TABLE, name: 'postrouting', type: 'nat', hook: 'postrouting', priority: 'srcnat', policy: 'accept' })
          tx.addSet(UPLINKS6)
          tx.flushChain({ table: ROUTED6_TABLE, name: 'postrouting' })
          tx.flushSet(UPLINKS6)
          tx.addRule({ table: ROUTED6_TABLE, chain: 'postrouting', exprs: rule().oifname(`@${UPLINKS6.name}`).masquerade() })
        })
        const links = new RoutedLinks(nl, nft, state, options, ctx.logger)
        // Watch before listing, so a link that appears in between is not missed.
        const events = nl.watch(['link'], { signal: ctx.signal })
        for (const link of await nl.link.list()) await links.add(link)
        return { nl, nft, links, events }
      },
      async ({ nl, nft, links }) => {
        try {
          await links.close(life.removing)
          if (life.removing) {
            for (const table of [ROUTED_TABLE, ROUTED6_TABLE]) {
              await nft.apply((tx) => tx.delTable(table)).catch((error: unknown) => {
                // Removed by hand already (or IPv4 only): gone is what a clean stop wants.
                if (!isNotFound(error)) throw error
              })
            }
            ctx.logger.info('routed table removed')
          }
        } finally {
          nl.close()
          await nft.close()
        }
      },
      {
        run: async ({ links, events }) => {
          for await (const e of events) {
            if (e.kind !== 'link') continue
            try {
              if (e.action === 'new') await links.add(e.link)
              else await links.remove(e.link.index, e.link.name)
            } catch (error) {
              // A link that vanished while being set up: its del event cleans up what was done.
              ctx.logger.warn({ link: e.link.name, err: error }, 'could not handle link change')
            }
          }
        },
      },
    )(ctx)
  }
}
