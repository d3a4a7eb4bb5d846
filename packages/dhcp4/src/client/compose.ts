// Lease callbacks composed into one (`compose(manageIP(), manageDNS(path))`), for DHCPv4's and
// @lab/dhcp6's clients alike: whatever the callbacks' arguments are, each runs in order.

/** Runs every callback in order, even when one fails; then throws the first failure. */
export function compose<A extends unknown[]>(...callbacks: Array<(...args: A) => unknown>): (...args: A) => Promise<void> {
  return async (...args) => {
    let first: unknown
    for (const callback of callbacks) {
      try {
        await callback(...args)
      } catch (error) {
        first ??= error
      }
    }
    if (first !== undefined) throw first
  }
}
