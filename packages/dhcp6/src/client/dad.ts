// Duplicate address detection for a new lease's addresses (RFC 8415 18.2.10.1: a client SHOULD
// perform DAD on each address and Decline those in use), done by the kernel: each address goes on
// the interface as a /128 and the kernel's DAD (RFC 4862) says whether it failed. A `conflict`
// function for DhcpV6Client and ClientMachine.
import { Netlink, isNotFound } from '@lab/netlink-native'

/** IFA_F_DADFAILED (linux/if_addr.h). */
const IFA_F_DADFAILED = 0x08

export interface DadOptions {
  interface: string
  netns?: string
  /** How long to wait for the kernel's verdict; an address still tentative then counts as free. Default 5 s. */
  timeoutMs?: number
}

/**
 * Returns `conflict(addresses)`: puts each address on `interface` (/128, lifetimes of 60 s until
 * the lease callbacks set the lease's own), waits until the kernel's DAD has decided, and
 * resolves with the addresses DAD failed for, which it takes off again. On an interface with DAD
 * off (`accept_dad` 0) nothing is tentative and nothing conflicts.
 */
export function dadConflict(options: DadOptions): (addresses: string[]) => Promise<string[]> {
  const timeoutMs = options.timeoutMs ?? 5000
  return async (addresses) => {
    const nl = await Netlink.open({ netns: options.netns })
    try {
      for (const a of addresses) await nl.addr.replace(options.interface, `${a}/128`, { validLifetime: 60, preferredLifetime: 60 })
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const ours = (await nl.addr.list({ link: options.interface, family: 6 })).filter((a) => addresses.includes(a.address))
        // A failed DAD leaves the address flagged dadfailed, or (accept_dad 1, the default, seen
        // on 6.x kernels) removes it: gone counts as failed.
        const present = new Set(ours.map((a) => a.address))
        const failed = [...ours.filter((a) => a.flags & IFA_F_DADFAILED).map((a) => a.address), ...addresses.filter((a) => !present.has(a))]
        if (ours.every((a) => !a.tentative || a.flags & IFA_F_DADFAILED) || Date.now() > deadline) {
          for (const a of failed.filter((x) => present.has(x))) {
            await nl.addr.del(options.interface, `${a}/128`).catch((error: unknown) => {
              // Gone already: nothing to take off.
              if (!isNotFound(error) && (error as { code?: string }).code !== 'EADDRNOTAVAIL') throw error
            })
          }
          return failed
        }
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    } finally {
      await nl.close()
    }
  }
}
