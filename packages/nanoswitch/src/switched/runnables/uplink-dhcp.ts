// `uplink.dhcp-client`: a DHCP client on the uplink that configures the address and default route
// it is leased and announces the address by ARP. On a clean stop it releases the lease, which also
// takes the address and route away again; on a restart (or --keep) they stay for the next client.
import { DhcpClient, compose, manageIP, manageRoutes } from '@lab/dhcp4'
import { arpAnnounce } from '@lab/arp'
import type { Link } from '@lab/netlink-native'
import type { Runnable } from '@lab/supervisor'
import { publishUplink } from '../../events.js'
import { service } from '../../service.js'
import type { SwitchContext } from '../state.js'

export function uplinkDhcpRunnable(sw: SwitchContext, uplink: Link): Runnable {
  const ns = sw.netns ? { netns: sw.netns } : {}
  return service(
    sw.lifecycle,
    async (ctx) => {
      const client = await DhcpClient.start({
        interface: uplink.name,
        ...ns,
        // The announcement is best effort, but a failure is logged, never dropped.
        onLease: compose(manageIP(ns), arpAnnounce({ ...ns, logger: ctx.logger }), manageRoutes(ns)),
        logger: ctx.logger,
      })
      const track = () => {
        const lease = client.lease
        sw.state.uplink = { name: uplink.name, ...(uplink.address ? { mac: uplink.address } : {}), state: client.state, ...(lease ? { lease } : {}) }
        publishUplink({ netns: sw.netns, uplink: uplink.name, state: client.state, ...(lease ? { address: `${lease.address}/${lease.prefixLength}` } : {}) })
      }
      client.on('state', track)
      client.on('lease', track)
      // Healthy while it asks: a switch without upstream DHCP still serves its bridge.
      return client
    },
    async (client, ctx) => {
      if (!sw.lifecycle.removing) return client.stop()
      await client.release()
      ctx.logger.info({ uplink: uplink.name }, 'uplink lease released, its address and routes removed')
    },
  )
}
