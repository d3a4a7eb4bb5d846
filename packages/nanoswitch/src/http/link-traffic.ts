// Bytes and packets each link of the switch's namespace moved, read the way `ip -s link` reads
// them: one RTM_GETLINK dump, IFLA_STATS64 (struct rtnl_link_stats64, linux/if_link.h) per link.
// Sysfs would show the namespace sysfs was mounted in, not the switch's, so netlink it is.
import { Attributes, NetlinkSocket, fixedHeader, nl, rt } from '@lab/netlink-native'

/** IFLA_STATS64, linux/if_link.h. */
const IFLA_STATS64 = 23

export interface LinkTrafficCounters {
  rxBytes: number
  txBytes: number
  rxPackets: number
  txPackets: number
}

export class LinkTraffic {
  private constructor(readonly socket: NetlinkSocket) {}

  /** A netlink socket in `netns` (default: this process's), kept until close(). */
  static async open(options: { netns?: string } = {}): Promise<LinkTraffic> {
    return new LinkTraffic(await NetlinkSocket.open({ protocol: nl.NETLINK_ROUTE, ...(options.netns ? { netns: options.netns } : {}), receiveBufferBytes: 1 << 20, sendBufferBytes: 64 << 10 }))
  }

  /** Counters per link name, as the kernel reports them now. */
  async read(): Promise<Map<string, LinkTrafficCounters>> {
    const reply = await this.socket.dump({
      type: rt.RTM_GETLINK,
      op: 'link show',
      // struct ifinfomsg, all zero: every link.
      body: (w) => void w.reserve(16),
    })
    const out = new Map<string, LinkTrafficCounters>()
    for (const message of reply.messages) {
      fixedHeader(message.payload, 16, 'struct ifinfomsg')
      const attrs = new Attributes(message.payload, 16)
      const name = attrs.str(rt.IFLA_IFNAME)
      const stats = attrs.get(IFLA_STATS64)
      // struct rtnl_link_stats64: __u64 rx_packets, tx_packets, rx_bytes, tx_bytes, ...
      if (name === undefined || !stats || stats.length < 32) continue
      out.set(name, {
        rxPackets: Number(stats.readBigUInt64LE(0)),
        txPackets: Number(stats.readBigUInt64LE(8)),
        rxBytes: Number(stats.readBigUInt64LE(16)),
        txBytes: Number(stats.readBigUInt64LE(24)),
      })
    }
    return out
  }

  async close(): Promise<void> {
    await this.socket.close()
  }
}
