// `dhcp-server`: @lab/dhcp4's server on the bridge, leases in the journal (--lease-file) so a VM
// keeps its address across restarts. The server's own health (its lease journal can be written)
// is this runnable's: when it turns bad the runnable reports itself unhealthy with the server's
// reason (status shows it, the switch is not healthy), but it is not restarted: the server keeps
// renewing durable leases meanwhile and recovers by itself once its writes succeed again.
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
        subnets: [{ subnet: sw.plan.network, range: sw.plan.range, router: sw.plan.address, dns: dns4(o.dns), leaseTime: o.leaseTime ?? 43_200, ...(sw.state.fabric?.mtu ? { mtu: sw.state.fabric.mtu } : {}) }],
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
    { run: (server, ctx) => followHealth(server, ctx, sw) },
  )
}

/** The IPv4 servers of --dns; the seed's 10.42.0.3 when there is none (IPv6 ones go in RAs and DHCPv6). */
function dns4(dns: string[] | undefined): string[] {
  const v4 = (dns ?? []).filter((d) => !d.includes(':'))
  return v4.length ? v4 : ['10.42.0.3']
}

function healthText(h: DhcpServerHealth): { ok: boolean; text: string } {
  return h.ok ? { ok: true, text: 'healthy' } : { ok: false, text: h.reason }
}

/** Mirrors the server's health into the runnable's until cancelled. */
function followHealth(server: DhcpServer, ctx: Context, sw: SwitchContext): Promise<void> {
  return new Promise<void>((resolve) => {
    const follow = (health: DhcpServerHealth) => {
      sw.state.dhcpHealth = healthText(health)
      if (health.ok) ctx.healthy()
      else ctx.unhealthy(`DHCP server unhealthy: ${health.reason}`)
    }
    server.on('health', follow)
    ctx.signal.addEventListener('abort', () => (server.off('health', follow), resolve()), { once: true })
    follow(server.health)
  })
}
