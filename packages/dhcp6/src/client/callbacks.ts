// What a client does with a lease, as small functions composed into one:
// `compose(manageIP(), manageDNS('/etc/resolv.conf'))`. Each gets the old and the new lease on
// every change and makes the host match the new one (undefined: undo the old). Delegated prefixes
// (lease.prefixes) are the caller's to use: they belong on downstream links this client cannot know.
import { rmSync } from 'node:fs'
import { replaceFile } from '@lab/dhcp4'
import { Netlink, isNotFound } from '@lab/netlink-native'
import type { LeaseCallback } from './machine.js'

// One compose() for both clients' callbacks (whatever their arguments).
export { compose } from '@lab/dhcp4'

export interface ManageOptions {
  netns?: string
}

/**
 * Each leased address on the interface as a /128 (a DHCPv6 lease says nothing about the prefix:
 * on-link prefixes come from router advertisements), with the kernel's valid and preferred
 * lifetimes set to the lease's, so an address goes even if this process dies. Lifetimes are
 * refreshed on every renewal; addresses leave on expiry, release or when a new lease drops them.
 * Equivalent to `ip -6 addr replace ADDR/128 dev IF valid_lft V preferred_lft P`.
 */
export function manageIP(options: ManageOptions = {}): LeaseCallback {
  return async (old, next) => {
    const nl = await Netlink.open({ netns: options.netns })
    try {
      const keep = new Set(next ? next.addresses.map((a) => `${next.interface} ${a.address}`) : [])
      for (const a of old?.addresses ?? []) {
        if (keep.has(`${old!.interface} ${a.address}`)) continue
        // Gone already (its valid lifetime ended, or the link went away): nothing to undo.
        await nl.addr.del(old!.interface, `${a.address}/128`).catch((error: unknown) => {
          if (!isNotFound(error) && (error as { code?: string }).code !== 'EADDRNOTAVAIL') throw error
        })
      }
      if (!next) return
      // The lifetimes as the Reply gave them: callbacks run as the lease changes.
      for (const a of next.addresses) {
        await nl.addr.replace(next.interface, `${a.address}/128`, { validLifetime: a.validLifetime, preferredLifetime: Math.min(a.preferredLifetime, a.validLifetime) })
      }
    } finally {
      await nl.close()
    }
  }
}

/** resolv.conf at `path` from the lease's DNS servers and domain list (written whole, renamed into place); removed when the lease goes. */
export function manageDNS(path: string): LeaseCallback {
  return (_old, next) => {
    if (!next) {
      rmSync(path, { force: true })
      return
    }
    const lines = ['# written by @lab/dhcp6 from the lease of ' + next.interface]
    if (next.domains.length) lines.push(`search ${next.domains.join(' ')}`)
    for (const server of next.dns) lines.push(`nameserver ${server}`)
    replaceFile(path, lines.join('\n') + '\n')
  }
}
