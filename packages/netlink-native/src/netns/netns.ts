// Named network namespaces, kept like iproute2 keeps them (a bind mount in /run/netns), so `ip netns`
// and this API see each other's namespaces.
import { existsSync } from 'node:fs'
import { readdir } from 'node:fs/promises'
import { native } from '../native.js'
import { isNotFound, sysAsync } from '../errors.js'
import { NETNS_RUN_DIR, resolveNetnsPath } from './path.js'

export const Netns = {
  /**
   * Adds a named namespace (like `ip netns add NAME`); EEXIST if it exists. Work that enters a
   * namespace (`Netlink.open`, `Nft.open`, `Tap.open`, sysctls, `socketAtAsync`/`openAtAsync`)
   * runs on one worker thread in the order it was started, so such work started right after
   * `add()` was called, without awaiting it, runs once the namespace exists (and fails with the
   * creation, or finds the namespace that had the name, if the creation fails).
   */
  async add(name: string): Promise<void> {
    resolveNetnsPath(name)
    // The worker thread does the whole job; this thread only waits for the promise.
    await sysAsync('netns add', name, () => native.createNetns(NETNS_RUN_DIR, name))
  },

  /** Deletes a namespace, a name or a path (like `ip netns del NAME`); ENOENT if there is none. */
  async del(netns: string): Promise<void> {
    const path = resolveNetnsPath(netns)
    await sysAsync('netns del', netns, () => native.deleteNetns(path))
  },

  /** Deletes a namespace if it exists: as `del`, but one that is already gone is not an error. */
  async destroy(netns: string): Promise<void> {
    try {
      await Netns.del(netns)
    } catch (error) {
      // Already gone is what destroy asks for; anything else (EBUSY, EPERM) still fails.
      if (!isNotFound(error)) throw error
    }
  },

  /** Names under /run/netns, sorted (like `ip netns list`); none when the directory does not exist. */
  async list(): Promise<string[]> {
    try {
      return (await readdir(NETNS_RUN_DIR)).sort()
    } catch (error) {
      // No directory yet: nobody has added a namespace since boot.
      if (isNotFound(error)) return []
      throw error
    }
  },

  exists(name: string): boolean {
    return existsSync(resolveNetnsPath(name))
  },

  path(name: string): string {
    return resolveNetnsPath(name)
  },
}
