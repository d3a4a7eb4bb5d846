// Seed 002's DHCP lease callback: announce each newly acquired address, so switches and EVPN
// fabrics learn where it lives now. Typed by shape, not by @lab/dhcp4, so any client's leases fit:
// `compose(manageIP(), arpAnnounce(), manageRoutes())`.
import type { Logger } from '@lab/netlink-native'
import { announce } from './announce.js'
import type { AnnouncementForm } from './codec.js'
import { probe, type ProbeTiming } from './probe.js'

/** What a lease callback needs of a lease: where the address lives. */
export interface LeaseLike {
  interface: string
  address: string
}

export interface ArpAnnounceOptions {
  netns?: string
  form?: AnnouncementForm
  /** Announcements per new address (default 1, as seed 002), `interval` ms apart. */
  count?: number
  interval?: number
  /**
   * Where a failed announcement goes: `onError` if given, else `logger` (as a warning). With
   * neither, the callback rejects, so the caller (a DHCP client's onLease, which reports callback
   * failures to its own logger; `compose()` still runs the other callbacks) sees it. A failure
   * is never dropped.
   */
  onError?: (error: unknown, lease: LeaseLike) => void
  /** Pino-shaped; failed announcements are logged here when no `onError` is given. */
  logger?: Logger
}

/** Global unicast or link-local (169.254/16), as seed 002: not unspecified, loopback, multicast or broadcast. */
function announceable(address: string): boolean {
  const a = Number(address.split('.')[0])
  return a !== 0 && a !== 127 && a < 224
}

export function arpAnnounce(options: ArpAnnounceOptions = {}): (old: LeaseLike | undefined, next: LeaseLike | undefined) => Promise<void> {
  return async (old, next) => {
    if (!next || (old && old.address === next.address && old.interface === next.interface) || !announceable(next.address)) return
    try {
      await announce({ interface: next.interface, address: next.address, ...(options.netns ? { netns: options.netns } : {}), ...(options.form ? { form: options.form } : {}), count: options.count ?? 1, interval: options.interval ?? 1000 })
    } catch (error) {
      // Best effort: a lost announcement only delays what switches learn, so it is reported,
      // not retried.
      if (options.onError) options.onError(error, next)
      else if (options.logger) options.logger.warn({ err: error, interface: next.interface, address: next.address }, 'ARP announcement failed')
      else throw error
    }
  }
}

export interface ArpConflictCheckOptions {
  netns?: string
  timing?: Partial<ProbeTiming>
  /** Told who holds an address found in use. */
  onConflict?: (address: string, holder: string | undefined) => void
}

/** A DHCP client's conflict hook: an RFC 5227 probe of the offered address on `link`. */
export function arpConflictCheck(link: string, options: ArpConflictCheckOptions = {}): (address: string) => Promise<boolean> {
  return async (address) => {
    const result = await probe({ interface: link, address, ...(options.netns ? { netns: options.netns } : {}), ...(options.timing ? { timing: options.timing } : {}) })
    if (result.conflict) options.onConflict?.(address, result.holder)
    return result.conflict
  }
}
