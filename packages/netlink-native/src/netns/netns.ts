// Named network namespaces, kept like iproute2 keeps them (a bind mount in /run/netns), so `ip netns`
// and this API see each other's namespaces.
import { existsSync, readdirSync } from 'node:fs'
import { native } from '../native.js'
import { isNotFound, sys } from '../errors.js'
import { NETNS_RUN_DIR, resolveNetnsPath } from './path.js'

export const Netns = {
  /** Adds a named namespace (like `ip netns add NAME`); EEXIST if it exists. */
  async add(name: string): Promise<void> {
    resolveNetnsPath(name)
    sys('netns add', name, () => native.createNetns(NETNS_RUN_DIR, name))
  },

  /** Deletes a namespace, a name or a path (like `ip netns del NAME`); ENOENT if there is none. */
  async del(netns: string): Promise<void> {
    const path = resolveNetnsPath(netns)
    sys('netns del', netns, () => native.deleteNetns(path))
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

  async list(): Promise<string[]> {
    if (!existsSync(NETNS_RUN_DIR)) return []
    return readdirSync(NETNS_RUN_DIR).sort()
  },

  exists(name: string): boolean {
    return existsSync(resolveNetnsPath(name))
  },

  path(name: string): string {
    return resolveNetnsPath(name)
  },
}
