// Starting a child process inside a network namespace, without `ip netns exec` (no extra exec,
// no mount namespace, a path works as well as a name, and the child is our direct child: its pid,
// signals and exit status are its own).
//
// How: a forked child starts in the network namespace of the thread that forked it, and
// setns(CLONE_NEWNET) changes only the calling thread. child_process.spawn forks synchronously on
// the main thread, so the addon moves the main thread into the namespace, calls spawn, and moves it
// back before returning, also when spawn throws. Nothing else runs on the main thread meanwhile.
// (The stdio pipes spawn makes in between are AF_UNIX sockets of that namespace; harmless.)
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process'
import { native } from '../native.js'
import { rethrowAs } from '../errors.js'
import { resolveNetnsPath } from './path.js'

/**
 * `child_process.spawn(command, args, options)` with the child in network namespace `netns` (a
 * name under /run/netns or a path such as /proc/PID/ns/net). Equivalent to `ip netns exec NETNS
 * COMMAND ARGS...` without the extra process and mount namespace. Throws a SystemError when the
 * namespace cannot be entered (`ENOENT: netns enter sw1`), and whatever spawn throws; the calling
 * thread is back in its own namespace either way.
 */
export function spawnInNetns(netns: string, command: string, args: readonly string[] = [], options: SpawnOptions = {}): ChildProcess {
  const path = resolveNetnsPath(netns)
  let child: ChildProcess | undefined
  try {
    native.callInNetns(path, () => {
      child = spawn(command, args, options)
    })
  } catch (error) {
    // Only the addon's own failures (open or setns of the namespace) carry an errno; spawn's
    // synchronous errors (bad options) are thrown as they are.
    if (child === undefined && typeof (error as { syscall?: unknown }).syscall === 'string' && /^(open|setns) /.test((error as { syscall: string }).syscall)) {
      rethrowAs(error, 'netns enter', netns)
    }
    throw error
  }
  return child!
}
