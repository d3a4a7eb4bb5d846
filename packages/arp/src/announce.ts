// Gratuitous ARP announcements of an address on a link, over an AF_PACKET socket.
import { Netlink, PacketSocket } from '@lab/netlink-native'
import { announcement, encodeArp, type AnnouncementForm } from './codec.js'
import { ArpError } from './errors.js'
import { realClock, sleep, type Clock } from '@lab/clock'

export interface AnnounceOptions {
  /** The link to announce on. */
  interface: string
  /** The IPv4 address to announce. */
  address: string
  /** The network namespace (a name under /run/netns or a path); default: this process's. */
  netns?: string
  count?: number
  /** Between announcements, ms. */
  interval?: number
  form?: AnnouncementForm
  clock?: Clock
  signal?: AbortSignal
}

/** The link's MAC address, read through rtnetlink. */
export async function linkMac(link: string, netns?: string): Promise<string> {
  const nl = await Netlink.open({ netns })
  try {
    const l = await nl.link.get(link)
    if (!l.address) throw new ArpError('LAB_ARP_NO_HARDWARE_ADDRESS', `${link} has no hardware address`)
    return l.address
  } finally {
    await nl.close()
  }
}

/**
 * Sends `count` gratuitous announcements of `address` out of `interface` (default 1), `interval`
 * ms apart. Equivalent to `arping -U -c COUNT -I IF ADDRESS` (form `arping`).
 */
export async function announce(options: AnnounceOptions): Promise<void> {
  const mac = await linkMac(options.interface, options.netns)
  const frame = encodeArp(announcement(mac, options.address, options.form))
  const socket = await PacketSocket.open({ netns: options.netns, interface: options.interface, protocol: 'arp' })
  try {
    const count = options.count ?? 1
    for (let i = 0; i < count; i++) {
      if (i > 0) await sleep(options.clock ?? realClock, options.interval ?? 1000, options.signal)
      await socket.send(frame)
    }
  } finally {
    await socket.close()
  }
}
