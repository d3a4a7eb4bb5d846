// `forwards`: every --forward as a DNAT rule (and two byte-counting rules) in the table
// `ip nanoswitch-forwards` (kernel mode).
// The table is rewritten whole on start and deleted on a clean stop.
import { Sysctl } from '@lab/netlink-native'
import type { Runnable } from '@lab/supervisor'
import { publishForward } from '../../events.js'
import { KernelForwards } from '../../forward/kernel-forwards.js'
import { formatForward } from '../../forward/forward-spec.js'
import { service } from '../../service.js'
import type { SwitchContext } from '../state.js'

export function kernelForwardsRunnable(sw: SwitchContext): Runnable {
  const specs = sw.options.forwards ?? []
  return service(
    sw.lifecycle,
    async (ctx) => {
      const kernel = new KernelForwards(specs, sw.netns, sw.bridge.name)
      await new Sysctl(sw.netns).set('net.ipv4.ip_forward', 1)
      if (specs.some((s) => s.targetHost.includes(':'))) await new Sysctl(sw.netns).set('net.ipv6.conf.all.forwarding', 1)
      await kernel.apply()
      for (const spec of specs) {
        const key = formatForward(spec)
        sw.state.forwards.set(key, { mode: 'kernel', counters: async () => (await kernel.counters()).get(key) ?? { total: 0, bytesIn: 0, bytesOut: 0 } })
        publishForward({ netns: sw.netns, spec: key, mode: 'kernel', state: 'up' })
      }
      ctx.logger.info({ forwards: specs.map(formatForward) }, 'forwarding (kernel DNAT)')
      return kernel
    },
    async (kernel) => {
      for (const spec of specs) {
        sw.state.forwards.delete(formatForward(spec))
        publishForward({ netns: sw.netns, spec: formatForward(spec), mode: 'kernel', state: 'down' })
      }
      // On a restart the rules stay until the next start rewrites them: connections keep flowing.
      if (sw.lifecycle.removing) await kernel.destroy()
    },
  )
}
