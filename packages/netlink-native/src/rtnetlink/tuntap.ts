// Persistent TUN/TAP devices: the kernel creates them through /dev/net/tun ioctls, not rtnetlink
// (rtnetlink refuses kind "tun"), the way `ip tuntap add` does.
import { constants } from 'node:fs'
import { native } from '../native.js'
import { sys, sysAsync } from '../errors.js'
import { ifreq } from '../sys/ifreq.js'

// <linux/if_tun.h>
export const TUNSETIFF = 0x400454ca
export const TUNSETPERSIST = 0x400454cb
const TUNSETOWNER = 0x400454cc
const TUNSETGROUP = 0x400454ce
export const IFF_TUN = 0x0001
export const IFF_TAP = 0x0002
export const IFF_NO_PI = 0x1000
export const IFF_MULTI_QUEUE = 0x0100
export const IFF_VNET_HDR = 0x4000

export interface TuntapOptions {
  name: string
  mode: 'tun' | 'tap'
  owner?: number
  group?: number
  multiQueue?: boolean
  vnetHdr?: boolean
}

/** Equivalent to `ip tuntap add NAME mode tap` in the namespace at netnsPath (null: our own). */
export async function createPersistentTuntap(netnsPath: string | null, o: TuntapOptions): Promise<void> {
  const fd = await sysAsync('tuntap open', '/dev/net/tun', () => native.openAtAsync(netnsPath, '/dev/net/tun', constants.O_RDWR))
  try {
    const flags = (o.mode === 'tap' ? IFF_TAP : IFF_TUN) | IFF_NO_PI | (o.multiQueue ? IFF_MULTI_QUEUE : 0) | (o.vnetHdr ? IFF_VNET_HDR : 0)
    sys('link add', o.name, () => native.ioctl(fd, TUNSETIFF, ifreq(o.name, flags)))
    if (o.owner !== undefined) sys('tuntap set owner', o.name, () => native.ioctl(fd, TUNSETOWNER, o.owner!))
    if (o.group !== undefined) sys('tuntap set group', o.name, () => native.ioctl(fd, TUNSETGROUP, o.group!))
    sys('tuntap set persist', o.name, () => native.ioctl(fd, TUNSETPERSIST, 1))
  } finally {
    native.close(fd)
  }
}
