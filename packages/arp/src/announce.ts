// Gratuitous ARP announcements of an address on a link, over an AF_PACKET socket.
import { Netlink, PacketSocket } from '@lab/netlink-native'
import { announcement, encodeArp, type AnnouncementForm } from './codec.js'
import { realClock, sleep, type Clock } from '@lab/clock'

export interface AnnounceOptions {
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
    if (!l.address) throw new Error(`${link} has no hardware address`)
    return l.address
  } finally {
    nl.close()
  }
}

/** Sends `count` announcements of `address` out of `link` (default 1), `interval` ms apart. */
export async function announce(link: string, address: string, options: AnnounceOptions = {}): Promise<void> {
  const mac = await linkMac(link, options.netns)
  const socket = PacketSocket.open({ netns: options.netns, interface: link, protocol: 'arp' })
  try {
    const frame = encodeArp(announcement(mac, address, options.form))
    const count = options.count ?? 1
    for (let i = 0; i < count; i++) {
      if (i > 0) await sleep(options.clock ?? realClock, options.interval ?? 1000, options.signal)
      await socket.send(frame)
    }
  } finally {
    socket.close()
  }
}
