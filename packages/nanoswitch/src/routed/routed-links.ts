// Routed mode's links, one object for all of them: a client link gets the router's address of its
// /31 (and a DHCP server for the client's), an uplink gets a DHCP client and joins the masquerade
// set. `close()` ends them all; on a clean stop it also takes away every address it gave.
// With IPv6 (the default) a client link also gets the /64 its MAC encodes (ipv6PrefixFromMac): the
// router's ::1 there and router advertisements (@lab/ndp) so the client configures itself by
// SLAAC; an uplink takes SLAAC from upstream (accept_ra=2) and joins the IPv6 masquerade set.
import { Sysctl, isNotFound, type Link, type Netlink } from '@lab/netlink-native'
import { RouterAdvertiser } from '@lab/ndp'
import { DhcpClient, DhcpServer, compose, manageIP, manageRoutes, type ClientLease } from '@lab/dhcp4'
import { arpAnnounce } from '@lab/arp'
import type { Nft, SetSpec, TableRef } from '@lab/nft'
import type { Logger } from 'pino'
import { publishUplink } from '../events.js'
import { SwitchError } from '../errors.js'
import { DEFAULT_CLIENT_OUI, addressesFromMac, ipv6PrefixFromMac, isClientMac } from './client-mac.js'

const ARPHRD_ETHER = 1

export const ROUTED_TABLE: TableRef = { family: 'ip', name: 'nanoswitch-routed' }
export const UPLINKS: SetSpec = { table: ROUTED_TABLE, name: 'uplinks', type: 'ifname' }
export const ROUTED6_TABLE: TableRef = { family: 'ip6', name: 'nanoswitch-routed' }
export const UPLINKS6: SetSpec = { table: ROUTED6_TABLE, name: 'uplinks', type: 'ifname' }

export interface RouterOptions {
  netns?: string
  /** The OUI that marks client links: default 0a:b3:ec. */
  oui?: string
  /** Answer DHCP on client links with the client's address (default true). */
  clientDhcp?: boolean
  /** DNS servers for clients (default the seed's 10.42.0.3). */
  dns?: string[]
  /** IPv6 on client links (the /64 the MAC encodes, RAs) and uplinks (SLAAC, NAT66). Default true. */
  ipv6?: boolean
}

export interface ClientLink {
  link: string
  mac: string
  router: string
  client: string
  server?: DhcpServer
  /** With IPv6: the link's /64 and the router's address in it, and the RA sender. */
  ipv6?: { prefix: string; router: string }
  ra?: RouterAdvertiser
}

export interface UplinkState {
  link: string
  mac: string
  client?: DhcpClient
  lease?: ClientLease
  state?: string
}

/** What the router knows about itself, for `nanoswitch status`. */
export class RouterState {
  readonly clients = new Map<number, ClientLink>()
  readonly uplinks = new Map<number, UplinkState>()
  /** Links with the client OUI whose MAC encodes no usable /31, and why. */
  readonly refused = new Map<number, { link: string; mac: string; reason: string }>()
}

const isEthernet = (l: Link) => l.type === ARPHRD_ETHER && l.name !== 'lo' && !!l.address && l.kind !== 'bridge'

/** Ignores "already gone": cleanup of a link that vanished, or of a set element never added. */
const unlessGone = (error: unknown): void => {
  if (!isNotFound(error)) throw error
}

export class RoutedLinks {
  readonly #ns: { netns?: string }
  readonly #oui: string

  constructor(
    readonly nl: Netlink,
    readonly nft: Nft,
    readonly state: RouterState,
    readonly options: RouterOptions,
    readonly logger: Logger,
  ) {
    this.#ns = options.netns ? { netns: options.netns } : {}
    this.#oui = options.oui ?? DEFAULT_CLIENT_OUI
  }

  /** Takes a link in: a client link, an uplink, or (not Ethernet, known already) nothing. */
  async add(link: Link): Promise<void> {
    const s = this.state
    if (!isEthernet(link) || s.clients.has(link.index) || s.uplinks.has(link.index) || s.refused.has(link.index)) return
    if (isClientMac(link.address!, this.#oui)) await this.#addClient(link)
    else await this.#addUplink(link)
  }

  async #addClient(link: Link): Promise<void> {
    let addresses
    try {
      addresses = addressesFromMac(link.address!, this.#oui)
    } catch (error) {
      if (!(error instanceof SwitchError && error.code === 'LAB_ERR_SWITCH_CLIENT_MAC')) throw error
      this.state.refused.set(link.index, { link: link.name, mac: link.address!, reason: error.message })
      this.logger.warn({ link: link.name, mac: link.address, reason: error.message }, 'client link refused: its MAC encodes no router address; link left alone')
      return
    }
    // replace: a router restarted after a crash finds its address there already.
    await this.nl.addr.replace(link.name, `${addresses.router}/31`)
    const v6 = this.options.ipv6 !== false ? ipv6PrefixFromMac(link.address!, this.#oui) : undefined
    if (v6) {
      // No DAD for the router's link-local address (made when the link comes up), which RAs come from.
      await new Sysctl(this.options.netns).set(`net/ipv6/conf/${link.name}/accept_dad`, 0)
      await this.nl.addr.replace(link.name, `${v6.router}/64`, { nodad: true })
    }
    await this.nl.link.set(link.name, { up: true })
    const entry: ClientLink = { link: link.name, mac: link.address!, router: addresses.router, client: addresses.client, ...(v6 ? { ipv6: v6 } : {}) }
    this.state.clients.set(link.index, entry)
    if (v6) entry.ra = await RouterAdvertiser.start({ ...this.#ns, interface: link.name, prefixes: [v6.prefix], logger: this.logger.child({ link: link.name }) })
    if (this.options.clientDhcp !== false) {
      entry.server = await DhcpServer.start({
        ...this.#ns,
        interface: link.name,
        subnets: [{ subnet: `${addresses.router}/31`, range: [addresses.client, addresses.client], router: addresses.router, dns: this.options.dns ?? ['10.42.0.3'], leaseTime: 43_200 }],
        logger: this.logger.child({ link: link.name }),
      })
    }
    this.logger.info({ link: link.name, router: `${addresses.router}/31`, client: addresses.client, ...(v6 ? { prefix6: v6.prefix } : {}) }, 'client link up')
  }

  async #addUplink(link: Link): Promise<void> {
    const metric = 100 + this.state.uplinks.size
    const entry: UplinkState = { link: link.name, mac: link.address! }
    this.state.uplinks.set(link.index, entry)
    const v6 = this.options.ipv6 !== false
    // SLAAC and the upstream's default route although the router forwards (set before it comes up).
    if (v6) await new Sysctl(this.options.netns).set(`net/ipv6/conf/${link.name}/accept_ra`, 2)
    await this.nl.link.set(link.name, { up: true })
    await this.nft.apply((tx) => {
      tx.addElements(UPLINKS, [{ key: link.name }])
      if (v6) tx.addElements(UPLINKS6, [{ key: link.name }])
    })
    const log = this.logger.child({ uplink: link.name })
    const client = await DhcpClient.start({
      ...this.#ns,
      interface: link.name,
      onLease: compose(manageIP(this.#ns), arpAnnounce({ ...this.#ns, logger: log }), manageRoutes({ ...this.#ns, metric })),
      logger: log,
    })
    entry.client = client
    const track = () => {
      entry.state = client.state
      if (client.lease) entry.lease = client.lease
      else delete entry.lease
      publishUplink({ netns: this.options.netns, uplink: link.name, state: client.state, ...(client.lease ? { address: `${client.lease.address}/${client.lease.prefixLength}` } : {}) })
    }
    client.on('state', track)
    client.on('lease', track)
    this.logger.info({ link: link.name, metric }, 'uplink: masquerading, asking for a lease')
  }

  /**
   * Lets a link go. `removing` (a clean stop): the router's address leaves a client link, an
   * uplink's lease is released (its address and routes go with it). Otherwise (the link is gone,
   * or the router restarts) the DHCP server and client only stop.
   */
  async remove(index: number, name: string, removing = false): Promise<void> {
    const client = this.state.clients.get(index)
    if (client) {
      this.state.clients.delete(index)
      await client.server?.stop()
      // The final RA (router lifetime 0) cannot go out on a link that is gone: said, not thrown.
      await client.ra?.stop().catch((error: unknown) => this.logger.warn({ link: name, err: error }, 'could not send the final router advertisement'))
      if (removing) await this.nl.addr.del(client.link, `${client.router}/31`).catch(unlessGone)
      if (removing && client.ipv6) await this.nl.addr.del(client.link, `${client.ipv6.router}/64`).catch(unlessGone)
      this.logger.info({ link: name }, removing ? 'client link released' : 'client link gone')
    }
    const uplink = this.state.uplinks.get(index)
    if (uplink) {
      this.state.uplinks.delete(index)
      if (removing) await uplink.client?.release()
      else await uplink.client?.stop()
      if (!removing) await this.nft.apply((tx) => tx.delElements(UPLINKS, [{ key: uplink.link }])).catch(unlessGone)
      if (!removing && this.options.ipv6 !== false) await this.nft.apply((tx) => tx.delElements(UPLINKS6, [{ key: uplink.link }])).catch(unlessGone)
      publishUplink({ netns: this.options.netns, uplink: uplink.link, state: 'gone' })
      this.logger.info({ link: name }, removing ? 'uplink released' : 'uplink gone')
    }
    this.state.refused.delete(index)
  }

  /** Ends every link; each failure is logged and the others are still ended. */
  async close(removing: boolean): Promise<void> {
    const all = [...[...this.state.clients].map(([i, c]) => [i, c.link] as const), ...[...this.state.uplinks].map(([i, u]) => [i, u.link] as const)]
    for (const [index, name] of all) {
      await this.remove(index, name, removing).catch((error: unknown) => this.logger.error({ link: name, err: error }, 'could not let the link go'))
    }
    this.state.refused.clear()
  }
}
