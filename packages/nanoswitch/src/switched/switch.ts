// Seed 000's switch as a supervision tree: a bridge over every Ethernet port with a DHCP server on
// it; with an uplink, a DHCP client there, NAT out of it and forwarding on; TCP forwards and a
// SOCKS5 door to the VMs. Each part is a named runnable: one that fails restarts alone, and leases
// live in the journal, so a restart of the DHCP server loses none.
import { Netlink, Sysctl, type Link } from '@lab/netlink-native'
import { DhcpClient, DhcpServer, compose, manageIP, manageRoutes, type ClientLease } from '@lab/dhcp4'
import { arpAnnounce } from '@lab/arp'
import type { Context, Runnable } from '@lab/supervisor'
import { TcpForward } from '../forward/tcp-forward.js'
import { KernelForwards } from '../forward/kernel-forwards.js'
import { formatForward, type ForwardSpec } from '../forward/forward-spec.js'
import { SocksServer } from '../socks/socks5-server.js'
import { attachPresentPorts, ensureBridge, followHotplug, type BridgeOptions } from './bridge.js'
import { applyNat } from './nat.js'
import type { UplinkSelector } from './ports.js'
import { bridgePlan, type BridgePlan } from './plan.js'

export interface SwitchOptions {
  netns?: string
  /** Default vmbridge. */
  bridge?: string
  /** The switch's address on the bridge, with the prefix: default 10.1.0.1/24. */
  subnet?: string
  /** DNS servers handed to VMs: default the seed's 10.42.0.3. */
  dns?: string[]
  /** Lease time, seconds: default 12 h. */
  leaseTime?: number
  uplink?: UplinkSelector
  forwards?: ForwardSpec[]
  /**
   * How forwards work: 'kernel' (default) DNATs connections that arrive from outside the bridge
   * (the uplink side); 'proxy' accepts them in this process on every address of the switch and
   * dials the VM (also from the bridge side; bytes moved by splice in the kernel).
   */
  forwardMode?: 'kernel' | 'proxy'
  /** Port of a SOCKS5 proxy into the bridge subnet. */
  socks?: number
  /** Where leases are kept (a journal); without one they live in memory only. */
  leaseFile?: string
}

/** What the running switch knows about itself, for `nanoswitch status`. */
export class SwitchState {
  bridge: BridgePlan | undefined
  uplink: { name: string; mac?: string; lease?: ClientLease; state?: string } | undefined
  ports = new Map<string, { name: string; mac?: string }>()
  server: DhcpServer | undefined
  /** Per forward (by its spec text): how it is done and its connection counts. */
  forwards = new Map<string, { mode: 'kernel' | 'proxy'; stats: () => Promise<{ total: number; active?: number; failed?: number }> }>()
  socks: SocksServer | undefined
}

const aborted = (signal: AbortSignal) => new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })))

export function nanoswitch(options: SwitchOptions, state = new SwitchState()): Runnable {
  const plan = bridgePlan(options.subnet ?? '10.1.0.1/24')
  state.bridge = plan
  const bridgeOptions: BridgeOptions = { name: options.bridge ?? 'vmbridge', address: plan.cidr, uplink: options.uplink ?? {} }
  const netns = options.netns

  return async (ctx: Context) => {
    const nl = await Netlink.open({ netns })
    let uplink: Link | undefined
    let bridge: Link
    try {
      bridge = await ensureBridge(nl, bridgeOptions)
      const found = await attachPresentPorts(nl, bridge, bridgeOptions, ctx.logger)
      uplink = found.uplink
      for (const p of found.ports) state.ports.set(p.name, { name: p.name, ...(p.address ? { mac: p.address } : {}) })
    } finally {
      nl.close()
    }
    ctx.logger.info({ bridge: bridgeOptions.name, address: plan.cidr, ports: [...state.ports.keys()], uplink: uplink?.name ?? null }, 'bridge ready')

    ctx.run('ports', async (c) => {
      const watcher = await Netlink.open({ netns })
      try {
        c.healthy()
        await followHotplug(watcher, bridge, bridgeOptions, c.logger, c.signal, (link) => state.ports.set(link.name, { name: link.name, ...(link.address ? { mac: link.address } : {}) }))
      } finally {
        watcher.close()
      }
    })

    ctx.run('dhcp-server', async (c) => {
      const server = await DhcpServer.open({
        ...(netns ? { netns } : {}),
        interface: bridgeOptions.name,
        subnet: { subnet: plan.network, range: plan.range, router: plan.address, dns: options.dns ?? ['10.42.0.3'], leaseTime: options.leaseTime ?? 43_200 },
        ...(options.leaseFile ? { leaseFile: options.leaseFile } : {}),
        logger: c.logger,
      })
      state.server = server
      try {
        c.healthy()
        await aborted(c.signal)
      } finally {
        state.server = undefined
        await server.close()
      }
    })

    if (uplink) {
      const up = uplink
      state.uplink = { name: up.name, ...(up.address ? { mac: up.address } : {}) }
      ctx.run('nat', async (c) => {
        await new Sysctl(netns).set('net.ipv4.ip_forward', 1)
        await applyNat(netns, up.name, plan.network)
        c.logger.info({ uplink: up.name, from: plan.network }, 'masquerading out of the uplink')
        c.healthy()
        await aborted(c.signal)
      })
      ctx.run('uplink-dhcp', async (c) => {
        const client = await DhcpClient.start({
          interface: up.name,
          ...(netns ? { netns } : {}),
          onLease: compose(manageIP({ ...(netns ? { netns } : {}) }), arpAnnounce({ ...(netns ? { netns } : {}) }), manageRoutes({ ...(netns ? { netns } : {}) })),
          logger: c.logger,
        })
        const track = () => {
          state.uplink = { name: up.name, ...(up.address ? { mac: up.address } : {}), state: client.state, ...(client.lease ? { lease: client.lease } : {}) }
        }
        client.on('state', track)
        client.on('lease', track)
        try {
          // Healthy while it asks: a switch without upstream DHCP still serves its bridge.
          c.healthy()
          await aborted(c.signal)
        } finally {
          client.close()
        }
      })
    }

    const forwards = options.forwards ?? []
    if (forwards.length > 0 && (options.forwardMode ?? 'kernel') === 'kernel') {
      ctx.run('forwards', async (c) => {
        const kernel = new KernelForwards(forwards, netns, bridge.name)
        await new Sysctl(netns).set('net.ipv4.ip_forward', 1)
        await kernel.apply()
        for (const spec of forwards) {
          const key = formatForward(spec)
          state.forwards.set(key, { mode: 'kernel', stats: async () => (await kernel.stats()).get(key) ?? { total: 0 } })
        }
        c.logger.info({ forwards: forwards.map(formatForward) }, 'forwarding (kernel DNAT)')
        try {
          c.healthy()
          await aborted(c.signal)
        } finally {
          for (const spec of forwards) state.forwards.delete(formatForward(spec))
          await kernel.remove()
        }
      })
    }
    for (const spec of options.forwardMode === 'proxy' ? forwards : []) {
      const name = `forward-${spec.listenPort}`
      ctx.run(name, async (c) => {
        const forward = new TcpForward(spec, netns, c.logger)
        await forward.start()
        state.forwards.set(formatForward(spec), { mode: 'proxy', stats: async () => ({ ...forward.stats }) })
        c.logger.info({ forward: formatForward(spec) }, 'forwarding (proxy)')
        try {
          c.healthy()
          await aborted(c.signal)
        } finally {
          state.forwards.delete(formatForward(spec))
          await forward.stop()
        }
      })
    }

    if (options.socks) {
      const port = options.socks
      ctx.run('socks', async (c) => {
        const socks = new SocksServer({ ...(netns ? { netns } : {}), port, allow: [plan.network] }, c.logger)
        await socks.start()
        state.socks = socks
        try {
          c.healthy()
          await aborted(c.signal)
        } finally {
          state.socks = undefined
          await socks.stop()
        }
      })
    }

    ctx.healthy()
    await aborted(ctx.signal)
  }
}
