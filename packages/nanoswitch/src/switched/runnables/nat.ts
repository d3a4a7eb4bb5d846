// `uplink.nat`: forwarding on and the masquerade table `ip nanoswitch` out of the uplink. The table
// is rewritten whole on every start (a restart after a crash adopts it, never duplicates a rule),
// and deleted on a clean stop. With IPv6, IPv6 forwarding (on since the bridge got its address)
// and `ip6 nanoswitch` masquerading the bridge's /64 join it, in the same transaction.
import { Sysctl } from '@lab/netlink-native'
import type { Runnable } from '@lab/supervisor'
import { service } from '../../service.js'
import { applyNat, destroyNat } from '../nat.js'
import type { SwitchContext } from '../state.js'

export function natRunnable(sw: SwitchContext, uplink: string): Runnable {
  return service(
    sw.lifecycle,
    async (ctx) => {
      await new Sysctl(sw.netns).set('net.ipv4.ip_forward', 1)
      await applyNat(sw.netns, uplink, sw.plan.network, sw.plan6?.prefix)
      const v6 = sw.state.ipv6
      if (v6) v6.uplink = { name: uplink, ...v6.uplink, nat: true }
      ctx.logger.info({ uplink, from: [sw.plan.network, ...(sw.plan6 ? [sw.plan6.prefix] : [])] }, 'masquerading out of the uplink')
    },
    async (_, ctx) => {
      if (!sw.lifecycle.removing) return
      if (sw.state.ipv6?.uplink) sw.state.ipv6.uplink.nat = false
      await destroyNat(sw.netns)
      ctx.logger.info('masquerade table removed')
    },
  )
}
