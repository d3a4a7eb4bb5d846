// For a Node process that is PID 1 of a small VM: mount(2) with typed errors, and reaping orphans
// the kernel re-parents to it (children libuv spawned are left to libuv).
import { native } from './native.js'
import { rethrowAs } from './errors.js'

export const MS_NOSUID = 0x2
export const MS_NODEV = 0x4
export const MS_NOEXEC = 0x8
export const MS_RELATIME = 0x200000

export function mount(source: string, target: string, fstype: string, flags = 0, data?: string): void {
  try {
    native.mount(source, target, fstype, flags, data)
  } catch (error) {
    rethrowAs(error, 'mount', `${fstype} on ${target}`)
  }
}

/** Collects exited children that nobody waits for; returns how many. */
export function reapOrphans(keepPids: number[] = []): number {
  return native.reapOrphans(keepPids)
}
