// Seed 000's switch as a supervision tree. The root owns the bridge (made, or adopted from a run
// that crashed, and removed on a clean stop); each other part is a runnable of its own file:
//   ports          attaches ports that appear later
//   dhcp-server    serves the bridge (leases in the journal, so a restart loses none)
//   ra             IPv6 router advertisements on the bridge (SLAAC, M and O flags)
//   dhcp6-server   DHCPv6 on the bridge (addresses and other configuration; its own journal)
//   uplink         finds or waits for the uplink, then runs nat, dhcp-client and dhcp6-client on it
//   forwards       kernel DNAT forwards, or forward-<port> for each proxy forward
//   socks          the SOCKS5 door into the bridge subnet
// A part that fails restarts alone, with backoff.
import { Netlink, Sysctl, type Link } from '@lab/netlink-native'
import type { Runnable } from '@lab/supervisor'
import { Lifecycle } from '../lifecycle.js'
import { service } from '../service.js'
import { attachPresentPorts, ensureBridge, removeBridge, type BridgeOptions } from './bridge.js'
import { bridgePlan } from './plan.js'
import { DEFAULT_SUBNET6, bridgePlan6 } from './plan6.js'
import { dhcpServerRunnable } from './runnables/dhcp-server.js'
import { dhcp6ServerRunnable } from './runnables/dhcp6-server.js'
import { routerAdvertiserRunnable } from './runnables/router-advertiser.js'
import { kernelForwardsRunnable } from './runnables/kernel-forwards.js'
import { portsRunnable } from './runnables/ports.js'
import { proxyForwardRunnable } from './runnables/proxy-forward.js'
import { socksRunnable } from './runnables/socks.js'
import { uplinkRunnable } from './runnables/uplink.js'
import { SwitchState, type SwitchContext, type SwitchOptions } from './state.js'
import { checkUnderlay } from '../fabric/dataplane.js'
import { fabricPlan } from '../fabric/fabric.js'
import { frrPaths } from '../fabric/frr.js'
import { fabricRunnable, type FabricState } from '../fabric/runnables.js'

export { SwitchState, type SwitchOptions } from './state.js'

export function nanoswitch(options: SwitchOptions, state = new SwitchState(), lifecycle?: Lifecycle): Runnable {
  const plan = bridgePlan(options.subnet ?? '10.1.0.1/24')
  const netns = options.netns
  // A fabric: this host hands out only its slice of the subnet, and the underlay stays unbridged.
  const fabric: FabricState | undefined = options.fabric ? { plan: fabricPlan(options.fabric, plan), frr: frrPaths(netns, options.frr) } : undefined
  if (fabric?.plan.range) plan.range = fabric.plan.range
  state.bridge = plan
  state.fabric = fabric
  // IPv6 on by default, but not across a fabric yet: every host would announce and serve the same /64.
  const plan6 = (options.ipv6 ?? !fabric) ? bridgePlan6(options.subnet6 ?? DEFAULT_SUBNET6) : undefined
  const v6 = plan6 ? { plan: plan6, dns: (options.dns ?? []).filter((d) => d.includes(':')), ra: undefined, server: undefined, dhcpHealth: undefined, uplink: undefined } : undefined
  state.ipv6 = v6
  const bridgeOptions: BridgeOptions = { name: options.bridge ?? 'vmbridge', address: plan.cidr, uplink: options.uplink ?? {}, ...(netns ? { netns } : {}), ...(fabric ? { underlay: fabric.plan.underlay } : {}) }
  // An explicit uplink is waited for; the default (the seed's MAC) only used if present at start.
  const explicitUplink = options.uplink?.name !== undefined || options.uplink?.mac !== undefined

  return async (ctx) => {
    const sw: SwitchContext = { options, netns, plan, plan6, bridge: bridgeOptions, state, lifecycle: lifecycle ?? new Lifecycle() }
    return service(
      sw.lifecycle,
      async () => {
        const nl = await Netlink.open({ netns })
        let bridge: Link
        let uplink: Link | undefined
        try {
          // Checked before anything is made: an unknown underlay ends the start with one line.
          if (fabric) fabric.mtu = await checkUnderlay(nl, fabric.plan, netns)
          bridge = await ensureBridge(nl, bridgeOptions)
          if (plan6) {
            // No DAD for the switch's link-local address on its own bridge either (set before the
            // first port gives the bridge carrier, when the kernel makes that address): RAs must
            // come from it, and DAD would hold them back a second after every start.
            await new Sysctl(netns).set(`net/ipv6/conf/${bridgeOptions.name}/accept_dad`, 0)
            // No DAD: the address is the switch's own, and DAD would hold it tentative for a second.
            await nl.addr.replace(bridgeOptions.name, plan6.cidr, { nodad: true })
            // A router: its Neighbor Advertisements carry the R flag (a host that sees it cleared
            // drops the switch as default router, RFC 4861 7.2.5), and the bridge joins ff02::2.
            await new Sysctl(netns).set('net.ipv6.conf.all.forwarding', 1)
          }
          const found = await attachPresentPorts(nl, bridge, bridgeOptions, ctx.logger)
          uplink = found.uplink
          for (const p of found.ports) state.ports.set(p.name, { name: p.name, ...(p.address ? { mac: p.address } : {}) })
        } finally {
          nl.close()
        }
        ctx.logger.info({ bridge: bridgeOptions.name, address: plan.cidr, ports: [...state.ports.keys()], uplink: uplink?.name ?? null }, 'bridge ready')

        if (fabric) ctx.run('fabric', fabricRunnable(sw, fabric, bridge), { strategy: 'one-for-all' })
        ctx.run('ports', portsRunnable(sw, bridge))
        ctx.run('dhcp-server', dhcpServerRunnable(sw))
        if (v6) {
          ctx.run('ra', routerAdvertiserRunnable(sw, v6))
          ctx.run('dhcp6-server', dhcp6ServerRunnable(sw, v6))
        }
        if (uplink || explicitUplink) ctx.run('uplink', uplinkRunnable(sw))
        const forwards = options.forwards ?? []
        if (forwards.length > 0 && (options.forwardMode ?? 'kernel') === 'kernel') ctx.run('forwards', kernelForwardsRunnable(sw))
        for (const spec of options.forwardMode === 'proxy' ? forwards : []) ctx.run(`forward-${spec.listenPort}`, proxyForwardRunnable(sw, spec))
        if (options.socks) ctx.run('socks', socksRunnable(sw, options.socks))
        return bridge
      },
      // The children are stopped by now (the supervisor cancels them first).
      async () => {
        state.ports.clear()
        if (!sw.lifecycle.removing) return
        const nl = await Netlink.open({ netns })
        try {
          await removeBridge(nl, bridgeOptions, ctx.logger)
        } finally {
          nl.close()
        }
        state.uplink = undefined
      },
    )(ctx)
  }
}
