// Routed mode (seed 001, Spectrum OS's router VM): every client has its own point-to-point link
// whose MAC carries the /31 (see client-mac.ts); the router takes the low address and, by default,
// hands the high one to the client by DHCP. Every other Ethernet link is an uplink: a DHCP client
// there and masquerade out of it. Links are handled when they appear and forgotten when they go
// (rtnetlink events), so client VMs come and go while the router runs.
import { Netlink, Sysctl, type Link } from '@lab/netlink-native'
import { DhcpClient, DhcpServer, compose, manageIP, manageRoutes, type ClientLease } from '@lab/dhcp4'
import { arpAnnounce } from '@lab/arp'
import { Nft, TransactionError, rule, type SetSpec, type TableRef } from '@lab/nft'
import type { Context, Runnable } from '@lab/supervisor'
import type { Logger } from 'pino'
import { ClientMacError, DEFAULT_CLIENT_OUI, addressesFromMac, isClientMac } from './client-mac.js'

const ARPHRD_ETHER = 1

export const ROUTED_TABLE: TableRef = { family: 'ip', name: 'nanoswitch-routed' }
const UPLINKS: SetSpec = { table: ROUTED_TABLE, name: 'uplinks', type: 'ifname' }

export interface RouterOptions {
  netns?: string
  /** The OUI that marks client links: default 0a:b3:ec. */
  oui?: string
  /** Answer DHCP on client links with the client's address (default true). */
  clientDhcp?: boolean
  /** DNS servers for clients (default the seed's 10.42.0.3). */
  dns?: string[]
}

export interface ClientLink {
  link: string
  mac: string
  router: string
  client: string
  server?: DhcpServer
}

export interface UplinkState {
  link: string
  mac: string
  client?: DhcpClient
  lease?: ClientLease
  state?: string
}

export class RouterState {
  readonly clients = new Map<number, ClientLink>()
  readonly uplinks = new Map<number, UplinkState>()
  /** Links with the client OUI whose MAC encodes no usable /31, and why. */
  readonly refused = new Map<number, { link: string; mac: string; reason: string }>()
}

const aborted = (signal: AbortSignal) => new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })))
const isEthernet = (l: Link) => l.type === ARPHRD_ETHER && l.name !== 'lo' && !!l.address && l.kind !== 'bridge'
const missingIsFine = (error: unknown) => {
  if (error instanceof TransactionError && error.failed.every((f) => f.error.code === 'ENOENT')) return
  throw error
}

export function routedSwitch(options: RouterOptions = {}, state = new RouterState()): Runnable {
  const netns = options.netns
  const ns = netns ? { netns } : {}
  const oui = options.oui ?? DEFAULT_CLIENT_OUI

  return async (ctx: Context) => {
    await new Sysctl(netns).set('net.ipv4.ip_forward', 1)
    const nft = await Nft.open(ns)
    const nl = await Netlink.open(ns)
    const log: Logger = ctx.logger

    await nft.apply((tx) => {
      tx.addTable(ROUTED_TABLE)
      tx.addChain({ table: ROUTED_TABLE, name: 'postrouting', type: 'nat', hook: 'postrouting', priority: 'srcnat', policy: 'accept' })
      tx.addSet(UPLINKS)
      tx.flushChain({ table: ROUTED_TABLE, name: 'postrouting' })
      tx.flushSet(UPLINKS)
      tx.addRule({ table: ROUTED_TABLE, chain: 'postrouting', exprs: rule().oifname(`@${UPLINKS.name}`).masquerade() })
    })

    const addClient = async (link: Link) => {
      let addresses
      try {
        addresses = addressesFromMac(link.address!, oui)
      } catch (error) {
        if (!(error instanceof ClientMacError)) throw error
        state.refused.set(link.index, { link: link.name, mac: link.address!, reason: error.message })
        log.warn({ link: link.name, mac: link.address, reason: error.message }, 'client link refused: its MAC encodes no router address; link left alone')
        return
      }
      await nl.addr.replace(link.name, `${addresses.router}/31`)
      await nl.link.set(link.name, { up: true })
      const entry: ClientLink = { link: link.name, mac: link.address!, router: addresses.router, client: addresses.client }
      state.clients.set(link.index, entry)
      if (options.clientDhcp !== false) {
        entry.server = await DhcpServer.open({
          ...ns,
          interface: link.name,
          subnet: { subnet: `${addresses.router}/31`, range: [addresses.client, addresses.client], router: addresses.router, dns: options.dns ?? ['10.42.0.3'], leaseTime: 43_200 },
          logger: log.child({ link: link.name }),
        })
      }
      log.info({ link: link.name, router: `${addresses.router}/31`, client: addresses.client }, 'client link up')
    }

    const addUplink = async (link: Link) => {
      const metric = 100 + state.uplinks.size
      const entry: UplinkState = { link: link.name, mac: link.address! }
      state.uplinks.set(link.index, entry)
      await nl.link.set(link.name, { up: true })
      await nft.apply((tx) => tx.addElements(UPLINKS, [{ key: link.name }]))
      const client = await DhcpClient.start({
        ...ns,
        interface: link.name,
        onLease: compose(manageIP(ns), arpAnnounce(ns), manageRoutes({ ...ns, metric })),
        logger: log.child({ uplink: link.name }),
      })
      entry.client = client
      const track = () => {
        entry.state = client.state
        if (client.lease) entry.lease = client.lease
        else delete entry.lease
      }
      client.on('state', track)
      client.on('lease', track)
      log.info({ link: link.name, metric }, 'uplink: masquerading, asking for a lease')
    }

    const add = async (link: Link) => {
      if (!isEthernet(link) || state.clients.has(link.index) || state.uplinks.has(link.index) || state.refused.has(link.index)) return
      if (isClientMac(link.address!, oui)) await addClient(link)
      else await addUplink(link)
    }

    const remove = async (index: number, name: string) => {
      const client = state.clients.get(index)
      if (client) {
        state.clients.delete(index)
        await client.server?.close()
        log.info({ link: name }, 'client link gone')
      }
      const uplink = state.uplinks.get(index)
      if (uplink) {
        state.uplinks.delete(index)
        uplink.client?.close()
        await nft.apply((tx) => tx.deleteElements(UPLINKS, [{ key: uplink.link }])).catch(missingIsFine)
        log.info({ link: name }, 'uplink gone')
      }
      state.refused.delete(index)
    }

    const events = nl.watch(['link'], { signal: ctx.signal })
    try {
      for (const link of await nl.link.list()) await add(link)
      ctx.healthy()
      for await (const e of events) {
        if (e.kind !== 'link') continue
        try {
          if (e.action === 'new') await add(e.link)
          else await remove(e.link.index, e.link.name)
        } catch (error) {
          // A link that vanished while being set up: its del event cleans up what was done.
          log.warn({ link: e.link.name, err: error }, 'could not handle link change')
        }
      }
      await aborted(ctx.signal)
    } finally {
      for (const [index, c] of state.clients) await remove(index, c.link).catch(() => undefined)
      for (const [index, u] of state.uplinks) await remove(index, u.link).catch(() => undefined)
      nl.close()
      nft.close()
    }
  }
}
