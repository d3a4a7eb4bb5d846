// `uplink.dhcp6-client`: IPv6 on the uplink. The kernel does SLAAC from the upstream's RAs (the
// switch forwards, so the uplink needs accept_ra=2, set by `uplink` before the link comes up; one
// Router Solicitation is sent here too, for an uplink that was up already and would otherwise wait
// for the next periodic RA), and our DHCPv6 client asks for an address (IA_NA), put on the uplink
// as a /128 with the lease's lifetimes. On a clean stop the client releases its lease, which
// takes that address away; SLAAC addresses stay until their lifetimes end, as the kernel keeps them.
// The client also asks for a prefix (IA_PD, unless prefixDelegation is false): a delegated prefix's
// first /64 goes on the bridge and is announced and routed without NAT (delegation.ts); it is
// withdrawn when the lease ends and whenever this runnable stops (released, or the uplink gone).
import { DhcpV6Client, compose, manageIP } from '@lab/dhcp6'
import { NdSocket, type NdMessage } from '@lab/ndp'
import { Sysctl, type Link } from '@lab/netlink-native'
import type { Runnable } from '@lab/supervisor'
import type { Logger } from 'pino'
import { aborted, service } from '../../service.js'
import { applyDelegation, manageDelegation } from '../delegation.js'
import type { Ipv6State, SwitchContext } from '../state.js'

/** SLAAC on the uplink although the switch forwards (RFC 4861 6.3.4 leaves routers' RA handling to them). */
export async function acceptRouterAdvertisements(netns: string | undefined, uplink: string): Promise<void> {
  const sysctl = new Sysctl(netns)
  await sysctl.set(`net/ipv6/conf/${uplink}/accept_ra`, 2)
  await sysctl.set(`net/ipv6/conf/${uplink}/autoconf`, 1)
}

/** One Router Solicitation to ff02::2, from the link-local address when there is one (RFC 4861 6.3.7). */
async function solicit(netns: string | undefined, uplink: string, logger: Logger): Promise<void> {
  try {
    await using socket = await NdSocket.open({ interface: uplink, ...(netns ? { netns } : {}), receive: ['router-advertisement'] })
    const source = await socket.linkLocal()
    // RFC 4861 4.1: the source link-layer address option goes only with a source address.
    const rs: NdMessage = { type: 'router-solicitation', options: source ? [{ type: 'source-link-layer-address', address: socket.mac }] : [] }
    await socket.send(rs, { destination: 'ff02::2', source: source ?? '::' })
  } catch (error) {
    // The kernel solicits by itself when the link comes up, and RAs come periodically anyway.
    logger.warn({ err: error, uplink }, 'could not send a router solicitation on the uplink')
  }
}

export function uplinkDhcp6Runnable(sw: SwitchContext, v6: Ipv6State, uplink: Link): Runnable {
  const ns = sw.netns ? { netns: sw.netns } : {}
  const held: { client?: DhcpV6Client } = {}
  return service(
    sw.lifecycle,
    async (ctx) => {
      await solicit(sw.netns, uplink.name, ctx.logger)
      // Healthy before the client runs: it waits for the uplink's link-local address to pass DAD
      // (a second or two after the link comes up), and a switch without upstream DHCPv6 (SLAAC
      // only, or no IPv6 at all) still serves its bridge.
      return held
    },
    async (_, ctx) => {
      const client = held.client
      held.client = undefined
      // The bridge keeps no prefix the switch may no longer hold (a release below withdraws it too).
      const withdraw = () => applyDelegation(sw, v6, undefined, ctx.logger)
      if (!client) return withdraw()
      if (!sw.lifecycle.removing) return client.stop().finally(withdraw)
      await client.release().finally(withdraw)
      ctx.logger.info({ uplink: uplink.name }, 'uplink DHCPv6 lease released')
    },
    {
      run: async (_, ctx) => {
        const pd = sw.options.prefixDelegation ?? true
        const client = await DhcpV6Client.start({
          interface: uplink.name,
          ...ns,
          ...(pd ? { prefixDelegation: true } : {}),
          onLease: pd ? compose(manageIP(ns), manageDelegation(sw, v6, ctx.logger)) : manageIP(ns),
          logger: ctx.logger,
        })
        held.client = client
        const track = () => {
          const lease = client.lease
          v6.uplink = { name: uplink.name, nat: v6.uplink?.nat ?? false, state: client.state, ...(lease ? { lease } : {}) }
        }
        client.on('state', track)
        client.on('lease', track)
        track()
        await aborted(ctx.signal)
      },
    },
  )
}
