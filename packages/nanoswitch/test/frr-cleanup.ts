// What a fabric test must take away even when it fails half-way: FRR's daemons of a switch (by the
// pid files in its private directory, and by the `-N <pathspace>` their command line carries, for
// a daemon that died before writing one) and that directory. Synchronous, for deferCleanup.
import { readFileSync, rmSync } from 'node:fs'
import { run, runSync } from '@lab/testkit'

/** The pids of the FRR daemons running for `pathspace` (a switch's namespace name). */
export function frrPids(pathspace: string): number[] {
  // `--`: the pattern starts with a dash, which pgrep would take for an option (exit 2, no output).
  return runSync(['pgrep', '-f', '--', `-N ${pathspace} `], true).split('\n').filter(Boolean).map(Number)
}

/** The same, asynchronously, as one string ('' when there are none): for assertions. */
export async function frrProcesses(pathspace: string): Promise<string> {
  const r = await run(['pgrep', '-f', '--', `-N ${pathspace} `], { allowFailure: true })
  // 0: found, 1: none; anything else is pgrep failing, which must not read as "none".
  if (r.code > 1) throw new Error(`pgrep: ${r.stderr.trim()}`)
  return r.stdout.trim()
}

export function killFrr(pathspace: string): void {
  const dir = `/var/run/frr/${pathspace}`
  const pids = new Set(frrPids(pathspace))
  for (const daemon of ['bgpd', 'zebra']) {
    try {
      pids.add(Number(readFileSync(`${dir}/${daemon}.pid`, 'utf8')))
    } catch {
      // No pid file: that daemon never wrote one, or its switch removed it on a clean stop.
    }
  }
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // Gone already: what we wanted.
    }
  }
  rmSync(dir, { recursive: true, force: true })
}

/** Kills a process started by the test (a `nanoswitch run`), if it still runs. */
export function killPid(pid: number | undefined): void {
  if (!pid) return
  try {
    process.kill(pid, 'SIGKILL')
  } catch {
    // Ended already.
  }
}
