// `ports`: follows rtnetlink link events, attaching each new port to the bridge and noting ports
// that go. The ports present at start were attached by the root before this runs.
import { Netlink, type Link } from '@lab/netlink-native'
import type { Runnable } from '@lab/supervisor'
import { service } from '../../service.js'
import { followHotplug } from '../bridge.js'
import type { SwitchContext } from '../state.js'

export function portsRunnable(sw: SwitchContext, bridge: Link): Runnable {
  return service(
    sw.lifecycle,
    () => Netlink.open({ netns: sw.netns }),
    async (watcher) => watcher.close(),
    {
      run: (watcher, ctx) =>
        followHotplug(watcher, bridge, sw.bridge, ctx.logger, ctx.signal, {
          added: (link) => void sw.state.ports.set(link.name, { name: link.name, ...(link.address ? { mac: link.address } : {}) }),
          removed: (link) => sw.state.ports.delete(link.name),
        }),
    },
  )
}
