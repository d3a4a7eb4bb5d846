// One reading of everything the status page and /metrics show: the status document (the same as
// `nanoswitch status --json`), each link's traffic and the DHCP servers' message counts. Readings
// closer together than `maxAgeMs` share one (a scrape and a page update in the same instant ask
// the kernel once).
import type { DhcpServer } from '@lab/dhcp4'
import { Netlink } from '@lab/netlink-native'
import type { SwitchStatus } from '../status.js'
import { LinkTraffic, type LinkTrafficCounters } from './link-traffic.js'

/** DHCP message counts, summed over the switch's servers (routed mode runs one per client link). */
export interface DhcpRates {
  received: number
  offers: number
  acks: number
  naks: number
}

/**
 * A machine behind a bridge port: a MAC the bridge learned there (its fdb, as `bridge fdb show`)
 * with the IPv4 and IPv6 addresses the switch's neighbour tables hold for it (`ip neigh`).
 */
export interface Host {
  mac: string
  port: string
  addresses: string[]
}

export interface Sample {
  /** Unix ms when the reading was taken. */
  at: number
  status: SwitchStatus
  /** Per link name. */
  traffic: Record<string, LinkTrafficCounters>
  dhcp: DhcpRates
  hosts: Host[]
}

export interface SampleSource {
  netns?: string
  status(): Promise<SwitchStatus>
  /** The DHCP servers running now. */
  dhcpServers(): DhcpServer[]
}

export class Sampler {
  #last: { at: number; sample: Promise<Sample> } | undefined
  #traffic: Promise<LinkTraffic> | undefined
  #netlink: Promise<Netlink> | undefined

  constructor(
    readonly source: SampleSource,
    readonly maxAgeMs = 200,
  ) {}

  sample(): Promise<Sample> {
    const now = Date.now()
    if (this.#last && now - this.#last.at < this.maxAgeMs) return this.#last.sample
    const sample = this.#read(now)
    this.#last = { at: now, sample }
    // A failed reading is not handed to the next caller.
    sample.catch(() => {
      if (this.#last?.sample === sample) this.#last = undefined
    })
    return sample
  }

  async #read(at: number): Promise<Sample> {
    if (!this.#traffic) {
      const opening = LinkTraffic.open(this.source.netns ? { netns: this.source.netns } : {})
      this.#traffic = opening
      // The error reaches this reading's caller; the next reading tries again.
      opening.catch(() => {
        if (this.#traffic === opening) this.#traffic = undefined
      })
    }
    if (!this.#netlink) {
      const opening = Netlink.open(this.source.netns ? { netns: this.source.netns } : {})
      this.#netlink = opening
      opening.catch(() => {
        if (this.#netlink === opening) this.#netlink = undefined
      })
    }
    const traffic = await this.#traffic
    const [status, links, hosts] = await Promise.all([this.source.status(), traffic.read(), this.#hosts(await this.#netlink)])
    const dhcp: DhcpRates = { received: 0, offers: 0, acks: 0, naks: 0 }
    for (const server of this.source.dhcpServers()) {
      const c = server.counters()
      dhcp.received += c.received
      dhcp.offers += c.offers
      dhcp.acks += c.acks
      dhcp.naks += c.naks
    }
    return { at, status, traffic: Object.fromEntries(links), dhcp, hosts }
  }

  async #hosts(nl: Netlink): Promise<Host[]> {
    const [links, fdb, v4, v6] = await Promise.all([nl.link.list(), nl.neigh.list({ family: 'bridge' }), nl.neigh.list({ family: 4 }), nl.neigh.list({ family: 6 })])
    const ports = new Map(links.filter((l) => l.master !== undefined).map((l) => [l.index, l.name]))
    const addresses = new Map<string, string[]>()
    for (const n of [...v4, ...v6]) {
      if (!n.lladdr || !n.address || n.state.includes('failed') || n.state.includes('incomplete')) continue
      addresses.set(n.lladdr, [...(addresses.get(n.lladdr) ?? []), n.address])
    }
    const hosts = new Map<string, Host>()
    for (const e of fdb) {
      const port = ports.get(e.index)
      // Permanent entries are the ports' own MACs; all-zero ones are VXLAN flood entries.
      if (!port || !e.lladdr || e.lladdr === '00:00:00:00:00:00' || e.state.includes('permanent') || e.state.includes('noarp')) continue
      hosts.set(`${port} ${e.lladdr}`, { mac: e.lladdr, port, addresses: addresses.get(e.lladdr) ?? [] })
    }
    return [...hosts.values()]
  }

  async close(): Promise<void> {
    const traffic = this.#traffic
    const netlink = this.#netlink
    this.#traffic = undefined
    this.#netlink = undefined
    // One that failed to open has nothing to close.
    if (traffic) await (await traffic.catch(() => undefined))?.close()
    if (netlink) await (await netlink.catch(() => undefined))?.close()
  }
}
