// struct ifreq, the argument of the interface ioctls (SIOCGIFINDEX, TUNSETIFF), built in one place
// from the layout the addon reads from this system's <net/if.h> (native.IFREQ):
//   [0] ifr_name (IFNAMSIZ bytes, NUL-terminated)  [16] a union: ifr_ifindex (int) or ifr_flags (short)
// The whole struct is 40 bytes on Linux; the addon refuses shorter buffers for ioctl.
import { native } from '../native.js'
import { ENODEV } from './errno.js'

const LAYOUT = native.IFREQ

/** <linux/sockios.h>: interface index by name, answered for the socket's namespace. */
export const SIOCGIFINDEX = 0x8933

/** A zeroed struct ifreq carrying `name` (at most IFNAMSIZ - 1 bytes, as the kernel reads it) and, if given, `flags`. */
export function ifreq(name: string, flags?: number): Buffer {
  const req = Buffer.alloc(LAYOUT.size)
  req.write(name, 0, LAYOUT.nameSize - 1, 'utf8')
  if (flags !== undefined) req.writeUInt16LE(flags, LAYOUT.flags)
  return req
}

/** The name in a struct ifreq, e.g. the one the kernel chose for a new TAP. */
export function ifreqName(req: Buffer): string {
  const end = req.indexOf(0)
  return req.toString('utf8', 0, end < 0 || end > LAYOUT.nameSize ? LAYOUT.nameSize : end)
}

/**
 * The index of interface `name` in the namespace of socket `fd` (SIOCGIFINDEX, as
 * if_nametoindex(3) does). Throws the addon's errno error: ENODEV when there is no such link.
 */
export function ifindexByName(fd: number, name: string): number {
  const req = ifreq(name)
  native.ioctl(fd, SIOCGIFINDEX, req)
  return req.readInt32LE(LAYOUT.ifindex)
}

/** <linux/sockios.h>: interface name by index. */
export const SIOCGIFNAME = 0x8910

/**
 * Whether an interface with index `index` exists in the namespace of socket `fd` (SIOCGIFNAME, as
 * if_indextoname(3) does). Throws the addon's errno error for anything but ENODEV.
 */
export function ifindexInUse(fd: number, index: number): boolean {
  const req = ifreq('')
  req.writeInt32LE(index, LAYOUT.ifindex)
  try {
    native.ioctl(fd, SIOCGIFNAME, req)
    return true
  } catch (error) {
    if ((error as { errno?: number }).errno === ENODEV) return false
    throw error
  }
}
