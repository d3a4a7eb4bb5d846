// What a running switch shows about itself beyond `status`: its metrics registry and, when asked
// for (`http`), the status page server. Made before the supervision tree starts, so the ports
// that join at start count as link events.
import type { DhcpServer } from '@lab/dhcp4'
import { Registry } from 'prom-client'
import type { Logger } from '@lab/netlink-native'
import type { SwitchStatus } from '../status.js'
import { SwitchMetrics, processMetrics } from './metrics.js'
import { Sampler } from './sampler.js'
import { StatusServer } from './status-server.js'

export interface HttpListen {
  /** IPv4 or IPv6 address in the switch's namespace (0.0.0.0 or :: for all). */
  host: string
  port: number
}

export interface ObserverOptions {
  netns?: string
  bridge: string
  status: () => Promise<SwitchStatus>
  dhcpServers: () => DhcpServer[]
  /** The supervision tree's registry (restarts and state per runnable: @lab/supervisor's). */
  treeMetrics?: () => Registry
  /** Other registries of the running parts (the DHCPv6 server's), asked per scrape. */
  moreMetrics?: () => Registry[]
}

export class SwitchObserver {
  readonly sampler: Sampler
  readonly own: SwitchMetrics
  http: StatusServer | undefined

  constructor(readonly options: ObserverOptions) {
    this.sampler = new Sampler({ ...(options.netns ? { netns: options.netns } : {}), status: options.status, dhcpServers: options.dhcpServers })
    this.own = new SwitchMetrics(this.sampler, { ...(options.netns ? { netns: options.netns } : {}), bridge: options.bridge })
  }

  /**
   * The switch's registry merged with its supervision tree's and its DHCP server's (prom-client's
   * Registry.merge), made now:
   * a DHCP server restarted by the supervisor brings a new registry, so ask again per scrape.
   * Routed mode runs one server per client link, all with the same metric names: the registries
   * are merged only while there is exactly one.
   */
  metrics(): Registry {
    const dhcp = this.options.dhcpServers().map((server) => server.metrics())
    return Registry.merge([this.own.registry, ...(this.options.treeMetrics ? [this.options.treeMetrics()] : []), ...(dhcp.length === 1 ? dhcp : []), ...(this.options.moreMetrics?.() ?? [])])
  }

  async startHttp(listen: HttpListen, logger?: Logger): Promise<StatusServer> {
    this.http = await StatusServer.start({
      ...(this.options.netns ? { netns: this.options.netns } : {}),
      host: listen.host,
      port: listen.port,
      status: this.options.status,
      sampler: this.sampler,
      metrics: async () => {
        const registry = Registry.merge([this.metrics(), processMetrics()])
        return { text: await registry.metrics(), contentType: registry.contentType }
      },
      ...(logger ? { logger } : {}),
    })
    return this.http
  }

  async close(): Promise<void> {
    await this.http?.stop()
    this.own.close()
    await this.sampler.close()
  }
}
