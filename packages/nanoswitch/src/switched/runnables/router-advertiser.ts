// `ra`: @lab/ndp's router advertiser on the bridge: the bridge's /64 on-link and autonomous (hosts
// form addresses by SLAAC), M and O set (hosts also ask the DHCPv6 server for an address and for
// other configuration), RDNSS only when IPv6 DNS servers were given (the switch serves no DNS of
// its own), and the switch as default router. A clean stop sends the final RA with router
// lifetime 0, so hosts drop their default route through the switch at once. A prefix delegated on
// the uplink is announced beside the /64 (see delegation.ts, which changes the prefixes while running).
import { RouterAdvertiser } from '@lab/ndp'
import type { Runnable } from '@lab/supervisor'
import { service } from '../../service.js'
import { advertisedPrefixes } from '../delegation.js'
import type { Ipv6State, SwitchContext } from '../state.js'

export function routerAdvertiserRunnable(sw: SwitchContext, v6: Ipv6State): Runnable {
  return service(
    sw.lifecycle,
    async (ctx) => {
      const ra = await RouterAdvertiser.start({
        ...(sw.netns ? { netns: sw.netns } : {}),
        interface: sw.bridge.name,
        // The delegated /64 too when there is one (this runnable restarted while it was held).
        prefixes: advertisedPrefixes(v6),
        ...(v6.dns.length ? { rdnss: v6.dns } : {}),
        managed: true,
        other: true,
        logger: ctx.logger,
      })
      v6.ra = ra
      ctx.logger.info({ prefix: v6.plan.prefix, rdnss: v6.dns }, 'advertising the bridge prefix')
      return ra
    },
    async (ra) => {
      v6.ra = undefined
      await ra.stop()
    },
  )
}
