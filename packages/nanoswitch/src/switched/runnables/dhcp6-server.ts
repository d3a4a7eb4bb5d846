// `dhcp6-server`: @lab/dhcp6's server on the bridge: addresses (IA_NA) from the plan's range in the
// bridge's /64 and other configuration (DNS, when IPv6 servers were given), bindings in a journal
// beside the DHCPv4 one (`<lease-file>6`), so a VM keeps its IPv6 address across restarts. Its
// health is mirrored into the runnable's as the DHCPv4 server's is (see dhcp-server.ts).
import { DhcpV6Server, type Dhcp6ServerHealth } from '@lab/dhcp6'
import type { Context, Runnable } from '@lab/supervisor'
import { service } from '../../service.js'
import type { Ipv6State, SwitchContext } from '../state.js'

/** The DHCPv6 journal beside the DHCPv4 one. */
export const leaseFile6 = (leaseFile: string): string => `${leaseFile}6`

export function dhcp6ServerRunnable(sw: SwitchContext, v6: Ipv6State): Runnable {
  const o = sw.options
  return service(
    sw.lifecycle,
    async (ctx) => {
      const server = await DhcpV6Server.start({
        ...(sw.netns ? { netns: sw.netns } : {}),
        interface: sw.bridge.name,
        subnets: [{ prefix: v6.plan.prefix, range: v6.plan.range, ...(v6.dns.length ? { dns: v6.dns } : {}), preferredLifetime: o.leaseTime ?? 43_200, validLifetime: 2 * (o.leaseTime ?? 43_200) }],
        ...(o.leaseFile ? { leaseFile: leaseFile6(o.leaseFile) } : {}),
        logger: ctx.logger,
      })
      v6.server = server
      v6.dhcpHealth = healthText(server.health)
      ctx.logger.info({ prefix: v6.plan.prefix, range: v6.plan.range }, 'serving DHCPv6')
      return server
    },
    async (server) => {
      v6.server = undefined
      await server.stop()
    },
    { run: (server, ctx) => followHealth(server, ctx, v6) },
  )
}

function healthText(h: Dhcp6ServerHealth): { ok: boolean; text: string } {
  return h.ok ? { ok: true, text: 'healthy' } : { ok: false, text: h.reason }
}

/** Mirrors the server's health into the runnable's until cancelled. */
function followHealth(server: DhcpV6Server, ctx: Context, v6: Ipv6State): Promise<void> {
  return new Promise<void>((resolve) => {
    const follow = (health: Dhcp6ServerHealth) => {
      v6.dhcpHealth = healthText(health)
      if (health.ok) ctx.healthy()
      else ctx.unhealthy(`DHCPv6 server unhealthy: ${health.reason}`)
    }
    server.on('health', follow)
    ctx.signal.addEventListener('abort', () => (server.off('health', follow), resolve()), { once: true })
    follow(server.health)
  })
}
