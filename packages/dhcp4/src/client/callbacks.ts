// What a client does with a lease, as small functions composed into one:
// `compose(manageIP(), manageRoutes(), manageDNS('/etc/resolv.conf'))`. Each gets the old and the
// new lease on every change and makes the host match the new one (undefined: undo the old).
import { rmSync } from 'node:fs'
import { Netlink, isNotFound } from '@lab/netlink-native'
import type { ClasslessRoute } from '../codec/options.js'
import { INFINITE, type ClientLease } from './lease.js'
import type { LeaseCallback } from './machine.js'
import { replaceFile } from './replace-file.js'

export { compose } from './compose.js'

export interface ManageOptions {
  netns?: string
}

async function withNetlink<T>(netns: string | undefined, fn: (nl: Netlink) => Promise<T>): Promise<T> {
  const nl = await Netlink.open({ netns })
  try {
    return await fn(nl)
  } finally {
    await nl.close()
  }
}

const cidr = (l: ClientLease) => `${l.address}/${l.prefixLength}`

/**
 * The leased address on the interface, with the kernel's lifetimes set to the lease's, so the
 * address goes even if this process dies; replaced on renewal, removed on expiry or release.
 */
export function manageIP(options: ManageOptions = {}): LeaseCallback {
  return (old, next) =>
    withNetlink(options.netns, async (nl) => {
      if (old && (!next || cidr(old) !== cidr(next) || old.interface !== next.interface)) {
        await nl.addr.del(old.interface, cidr(old)).catch((error: unknown) => {
          if (!isNotFound(error)) throw error
        })
      }
      if (next) {
        const lifetime = next.leaseTime === INFINITE ? INFINITE : next.leaseTime
        await nl.addr.replace(next.interface, cidr(next), { ...(next.broadcast ? { broadcast: next.broadcast } : {}), validLifetime: lifetime, preferredLifetime: lifetime })
      }
    })
}

const routeKey = (r: ClasslessRoute) => `${r.destination}/${r.prefixLength} via ${r.router}`

/** The lease's routes (classless static routes, else the default route via the router). */
export function manageRoutes(options: ManageOptions & { metric?: number } = {}): LeaseCallback {
  const spec = (lease: ClientLease, r: ClasslessRoute) => ({
    dst: r.prefixLength === 0 ? 'default' : `${r.destination}/${r.prefixLength}`,
    dev: lease.interface,
    ...(r.router !== '0.0.0.0' ? { gateway: r.router } : { scope: 'link' as const }),
    protocol: 'dhcp' as const,
    src: lease.address,
    ...(options.metric !== undefined ? { metric: options.metric } : {}),
  })
  return (old, next) =>
    withNetlink(options.netns, async (nl) => {
      const keep = new Set(next ? next.routes.map(routeKey) : [])
      if (old) {
        for (const r of old.routes) {
          if (keep.has(routeKey(r)) && next && next.address === old.address) continue
          await nl.route.del(spec(old, r)).catch((error: unknown) => {
            if (!isNotFound(error)) throw error
          })
        }
      }
      if (next) {
        // On-link routes first: a gateway must be reachable before a route through it is added.
        const ordered = [...next.routes].sort((a, b) => Number(a.router !== '0.0.0.0') - Number(b.router !== '0.0.0.0'))
        for (const r of ordered) await nl.route.replace(spec(next, r))
      }
    })
}

/** resolv.conf at `path` (written whole and renamed into place); on release or expiry, emptied. */
export function manageDNS(path: string): LeaseCallback {
  return (_old, next) => {
    if (!next) {
      rmSync(path, { force: true })
      return
    }
    const lines = ['# written by @lab/dhcp4 from the lease of ' + next.interface]
    const search = next.search.length ? next.search : next.domain ? [next.domain] : []
    if (search.length) lines.push(`search ${search.join(' ')}`)
    for (const server of next.dns) lines.push(`nameserver ${server}`)
    replaceFile(path, lines.join('\n') + '\n')
  }
}
