// nanoswitch's Prometheus metrics: a prom-client Registry of its own (nothing is registered in
// prom-client's global one). Values are read when scraped, from the same reading the status page
// shows (Sampler), except link events, which are counted as they happen on lab:nanoswitch:port.
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client'
import { CHANNELS, type PortEvent } from '../events.js'
import type { Sample, Sampler } from './sampler.js'

/** Metric names, for tests and dashboards. */
export const METRICS = {
  portsUp: 'nanoswitch_ports_up',
  linkEvents: 'nanoswitch_link_events_total',
  linkReceiveBytes: 'nanoswitch_link_receive_bytes_total',
  linkTransmitBytes: 'nanoswitch_link_transmit_bytes_total',
  forwardConnections: 'nanoswitch_forward_connections_total',
  forwardBytes: 'nanoswitch_forward_bytes_total',
  uplinkLeaseRemaining: 'nanoswitch_uplink_lease_remaining_seconds',
  fabricPeers: 'nanoswitch_fabric_peers',
  fabricPeersEstablished: 'nanoswitch_fabric_peers_established',
  fabricRemoteMacs: 'nanoswitch_fabric_remote_macs',
} as const

/**
 * The switch's own registry. `close()` stops counting link events. Scrapes read the switch
 * through `sampler` (a netlink dump, and FRR with a fabric).
 */
export class SwitchMetrics {
  readonly registry = new Registry()
  readonly #onPort: (message: unknown) => void

  constructor(
    readonly sampler: Sampler,
    readonly options: { netns?: string; bridge: string },
  ) {
    const r = this.registry
    const sample = () => sampler.sample()
    // A counter whose value is read at scrape time: reset, then set from the reading.
    const readCounter = <L extends string>(name: string, help: string, labelNames: L[], values: (s: Sample) => Array<[Record<L, string>, number]>) =>
      new Counter<L>({
        name,
        help,
        labelNames,
        registers: [r],
        async collect() {
          const s = await sample()
          this.reset()
          for (const [labels, v] of values(s)) this.inc(labels as never, v)
        },
      })
    const readGauge = <L extends string>(name: string, help: string, labelNames: L[], values: (s: Sample) => Array<[Record<L, string>, number]>) =>
      new Gauge<L>({
        name,
        help,
        labelNames,
        registers: [r],
        async collect() {
          const s = await sample()
          this.reset()
          for (const [labels, v] of values(s)) this.set(labels as never, v)
        },
      })

    readGauge(METRICS.portsUp, 'Ports of the switch with carrier: bridge ports (switched) or client links (routed).', [], (s) => [[{}, portsUp(s)]])
    const linkEvents = new Counter({ name: METRICS.linkEvents, help: 'Ports that joined (up) or left (down) the bridge.', labelNames: ['event'], registers: [r] })
    for (const event of ['up', 'down']) linkEvents.inc({ event }, 0)
    this.#onPort = (message) => {
      const e = message as PortEvent
      if (e.netns === options.netns && e.bridge === options.bridge) linkEvents.inc({ event: e.state })
    }
    subscribe(CHANNELS.port, this.#onPort)

    const links = (s: Sample, key: 'rxBytes' | 'txBytes') => Object.entries(s.traffic).filter(([name]) => name !== 'lo').map(([link, t]) => [{ link }, t[key]] as [{ link: string }, number])
    readCounter(METRICS.linkReceiveBytes, 'Bytes received per link of the switch namespace (IFLA_STATS64).', ['link'], (s) => links(s, 'rxBytes'))
    readCounter(METRICS.linkTransmitBytes, 'Bytes transmitted per link of the switch namespace (IFLA_STATS64).', ['link'], (s) => links(s, 'txBytes'))
    readCounter(METRICS.forwardConnections, 'Connections forwarded, per forward (kernel: from the DNAT rule counter).', ['forward', 'mode'], (s) =>
      s.status.forwards.map((f) => [{ forward: f.spec, mode: f.mode }, f.total]),
    )
    readCounter(
      METRICS.forwardBytes,
      'Bytes of forwarded connections per forward and direction (in: towards the VM, out: back); kernel forwards: IP packets from the nftables counters, proxy forwards: payload of finished connections.',
      ['forward', 'direction'],
      (s) =>
        s.status.forwards.flatMap((f) =>
          f.bytesIn === undefined || f.bytesOut === undefined
            ? []
            : ([
                [{ forward: f.spec, direction: 'in' }, f.bytesIn],
                [{ forward: f.spec, direction: 'out' }, f.bytesOut],
              ] as Array<[{ forward: string; direction: string }, number]>),
        ),
    )
    readGauge(METRICS.uplinkLeaseRemaining, 'Seconds until the uplink\'s DHCP lease expires (absent without a lease or with an infinite one).', ['uplink'], (s) =>
      s.status.uplink?.expiresAt ? [[{ uplink: s.status.uplink.name }, Math.max(0, (Date.parse(s.status.uplink.expiresAt) - s.at) / 1000)]] : [],
    )
    readGauge(METRICS.fabricPeers, 'Configured fabric BGP neighbors (with a fabric).', [], (s) => (s.status.fabric ? [[{}, s.status.fabric.peers.length]] : []))
    readGauge(METRICS.fabricPeersEstablished, 'Fabric BGP sessions Established (with a fabric).', [], (s) =>
      s.status.fabric ? [[{}, s.status.fabric.peers.filter((p) => p.state === 'Established').length]] : [],
    )
    readGauge(METRICS.fabricRemoteMacs, 'MACs EVPN installed on the VXLAN port (with a fabric).', [], (s) => (s.status.fabric ? [[{}, s.status.fabric.remoteMacs.length]] : []))
  }

  close(): void {
    unsubscribe(CHANNELS.port, this.#onPort)
  }
}

function portsUp(s: Sample): number {
  const running = new Set(s.status.links.filter((l) => l.up && l.running).map((l) => l.name))
  const ports = s.status.bridge ? s.status.bridge.ports : (s.status.clients ?? []).map((c) => c.link)
  return ports.filter((p) => running.has(p)).length
}

let processRegistry: Registry | undefined

/**
 * prom-client's default process metrics (CPU, memory, event loop lag, GC, handles) in a registry
 * of their own, made once per process on first use: they describe the process, not a switch.
 */
export function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry()
    collectDefaultMetrics({ register: processRegistry })
  }
  return processRegistry
}
