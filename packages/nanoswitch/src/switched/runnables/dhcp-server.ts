// `dhcp-server`: @lab/dhcp4's server on the bridge, leases in the journal (--lease-file) so a VM
// keeps its address across restarts. The server's own health (its lease journal can be written)
// is this runnable's: when it turns bad the runnable fails with the server's reason, so status
// shows it and the supervisor restarts the server with backoff (and escalates if that keeps failing).
import { DhcpServer, type DhcpServerHealth } from '@lab/dhcp4'
import type { Context, Runnable } from '@lab/supervisor'
import { service } from '../../service.js'
import type { SwitchContext } from '../state.js'

export function dhcpServerRunnable(sw: SwitchContext): Runnable {
  const o = sw.options
  return service(
    sw.lifecycle,
    async (ctx) => {
      const server = await DhcpServer.start({
        ...(sw.netns ? { netns: sw.netns } : {}),
        interface: sw.bridge.name,
        subnets: [{ subnet: sw.plan.network, range: sw.plan.range, router: sw.plan.address, dns: o.dns ?? ['10.42.0.3'], leaseTime: o.leaseTime ?? 43_200 }],
        ...(o.leaseFile ? { leaseFile: o.leaseFile } : {}),
        logger: ctx.logger,
      })
      sw.state.server = server
      sw.state.dhcpHealth = healthText(server.health)
      return server
    },
    async (server) => {
      sw.state.server = undefined
      await server.stop()
    },
    { monitor: (server, ctx) => untilUnhealthy(server, ctx, sw) },
  )
}

function healthText(h: DhcpServerHealth): { ok: boolean; text: string } {
  return h.ok ? { ok: true, text: 'healthy' } : { ok: false, text: h.reason }
}

/** Rejects with the server's reason when its health turns bad; never settles otherwise. */
function untilUnhealthy(server: DhcpServer, ctx: Context, sw: SwitchContext): Promise<void> {
  return new Promise<void>((_, reject) => {
    const check = (health: DhcpServerHealth) => {
      sw.state.dhcpHealth = healthText(health)
      if (health.ok) return
      server.off('health', check)
      reject(new Error(`DHCP server unhealthy: ${health.reason}`))
    }
    server.on('health', check)
    ctx.signal.addEventListener('abort', () => server.off('health', check), { once: true })
    check(server.health)
  })
}
