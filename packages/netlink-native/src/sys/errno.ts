// errno names and numbers, and the addon's negative-errno convention, in one place.
//
// The convention: the addon's non-blocking calls (read, write, recvfrom, sendto, recvmmsg,
// sendmmsg, splice) return a count, or -errno for the few errnos that are part of normal flow
// (EAGAIN ends a drain loop, EINTR asks for a retry, ENOBUFS means a full queue or, on netlink, lost
// messages). Those come back as return values because a drain loop ends on them every time; every
// other failure is thrown as an Error carrying `errno`.
import { constants } from 'node:os'

const table = constants.errno as Record<string, number>

function errno(name: string): number {
  const value = table[name]
  if (value === undefined) throw new Error(`${name} is not an errno on this system`)
  return value
}

export const ENOENT = errno('ENOENT')
export const EINTR = errno('EINTR')
export const EIO = errno('EIO')
export const EBADF = errno('EBADF')
export const EAGAIN = errno('EAGAIN')
export const EEXIST = errno('EEXIST')
export const ENODEV = errno('ENODEV')
export const EINVAL = errno('EINVAL')
export const ENOBUFS = errno('ENOBUFS')
export const ENOTCONN = errno('ENOTCONN')

const names = new Map<number, string>()
for (const [name, value] of Object.entries(table)) {
  if (!names.has(value)) names.set(value, name)
}
// Where Linux has two names for one number, use the one its own tools print.
for (const name of ['EOPNOTSUPP', 'EAGAIN', 'EDEADLK']) {
  const value = table[name]
  if (value !== undefined) names.set(value, name)
}

/** `17` (or `-17`) → `'EEXIST'`; an unknown number → `'E<number>'`. */
export function errnoName(errno: number): string {
  return names.get(Math.abs(errno)) ?? `E${Math.abs(errno)}`
}

/** `'EEXIST'` → `17`; throws TypeError for a name this system does not have. */
export function errnoNumber(name: string): number {
  const value = table[name]
  if (value === undefined) throw new TypeError(`unknown errno name ${name}`)
  return value
}

/**
 * The errno of an addon return value under the negative-errno convention: `-EAGAIN` → EAGAIN, a
 * count (0 or more) → 0.
 */
export function errnoOf(result: number): number {
  return result < 0 ? -result : 0
}
