// `uplink.nat`: forwarding on and the masquerade table `ip nanoswitch` out of the uplink. The table
// is rewritten whole on every start (a restart after a crash adopts it, never duplicates a rule),
// and deleted on a clean stop.
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
      await applyNat(sw.netns, uplink, sw.plan.network)
      ctx.logger.info({ uplink, from: sw.plan.network }, 'masquerading out of the uplink')
    },
    async (_, ctx) => {
      if (!sw.lifecycle.removing) return
      await destroyNat(sw.netns)
      ctx.logger.info('masquerade table removed')
    },
  )
}
