// Named network namespaces, kept like iproute2 keeps them (a bind mount in /run/netns), so `ip netns`
// and this API see each other's namespaces.
import { existsSync, readdirSync } from 'node:fs'
import { native } from '../native.js'
import { sys } from '../errors.js'
import { NETNS_RUN_DIR, resolveNetnsPath } from './path.js'

export const Netns = {
  /** Creates a named namespace (like `ip netns add NAME`); EEXIST if it exists. */
  async create(name: string): Promise<void> {
    resolveNetnsPath(name)
    sys('netns add', name, () => native.createNetns(NETNS_RUN_DIR, name))
  },

  /** Deletes a named namespace (like `ip netns del NAME`); ENOENT if there is none. */
  async delete(name: string): Promise<void> {
    const path = resolveNetnsPath(name)
    sys('netns del', name, () => native.deleteNetns(path))
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
