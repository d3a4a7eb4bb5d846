// `socks`: the SOCKS5 door into the bridge subnet (--socks PORT).
import type { Runnable } from '@lab/supervisor'
import { service } from '../../service.js'
import { SocksServer } from '../../socks/socks5-server.js'
import type { SwitchContext } from '../state.js'

export function socksRunnable(sw: SwitchContext, port: number): Runnable {
  return service(
    sw.lifecycle,
    async (ctx) => {
      const socks = await SocksServer.start({ ...(sw.netns ? { netns: sw.netns } : {}), port, allow: [sw.plan.network], logger: ctx.logger })
      sw.state.socks = socks
      return socks
    },
    async (socks) => {
      sw.state.socks = undefined
      await socks.stop()
    },
  )
}
