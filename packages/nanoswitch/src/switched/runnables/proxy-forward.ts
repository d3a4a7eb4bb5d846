// `forward-<port>`: one --forward relayed in this process (--forward-mode proxy).
import type { Runnable } from '@lab/supervisor'
import { publishForward } from '../../events.js'
import { formatForward, type ForwardSpec } from '../../forward/forward-spec.js'
import { TcpForward } from '../../forward/tcp-forward.js'
import { service } from '../../service.js'
import type { SwitchContext } from '../state.js'

export function proxyForwardRunnable(sw: SwitchContext, spec: ForwardSpec): Runnable {
  const key = formatForward(spec)
  return service(
    sw.lifecycle,
    async (ctx) => {
      const forward = await TcpForward.start({ ...spec, ...(sw.netns ? { netns: sw.netns } : {}), logger: ctx.logger })
      sw.state.forwards.set(key, { mode: 'proxy', counters: async () => forward.counters() })
      publishForward({ netns: sw.netns, spec: key, mode: 'proxy', state: 'up' })
      ctx.logger.info({ forward: key }, 'forwarding (proxy)')
      return forward
    },
    async (forward) => {
      sw.state.forwards.delete(key)
      publishForward({ netns: sw.netns, spec: key, mode: 'proxy', state: 'down' })
      await forward.stop()
    },
  )
}
