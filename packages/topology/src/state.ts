// A lab's state file, /run/lab/NAME/state.json: every object `lab up` made, written *before* the
// object is made (write-ahead), so `lab down` removes everything even after `lab up` was killed
// with -9 in the middle. /run is a tmpfs: after a reboot the namespaces are gone too.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { isNotFound } from '@lab/netlink-native'
import { TopologyError } from './errors.js'
import type { Impairment, LinkSpec, NodeSpec } from './topology.js'

/** Where labs keep their state; LAB_RUN_DIR overrides it (tests, or a user without /run). */
export const runDir = (): string => process.env.LAB_RUN_DIR ?? '/run/lab'

export interface ProcessRecord {
  /** What it is: `nanoswitch`, `dhcp4 eth1`. */
  role: string
  pid: number
  /** /proc/PID/stat's start time, so a recycled pid is never signalled. */
  start: string
  log: string
}

export interface NodeState {
  netns: string
  spec: NodeSpec
  processes: ProcessRecord[]
  /** A slot node's slot (@lab/slots): its namespace is `NETNS-s<index>`. */
  slot?: SlotRecord
}

export interface SlotRecord {
  index: number
  /** The slot's namespace, where `lab exec` runs and a sandbox's VM would run on `tapName`. */
  netns: string
  tapName: string
  guestIP: string
  /** Where the node's own namespace (the slot's host) reaches the guest. */
  hostReachableIP: string
}

export interface LinkState {
  spec: LinkSpec
  /** What the interfaces' qdiscs hold now (the file's, or what `lab impair` set since). */
  impairment?: Impairment
}

export interface LabState {
  name: string
  file?: string
  format: 'lab' | 'containerlab'
  nodes: Record<string, NodeState>
  links: Record<string, LinkState>
}

export function labDir(name: string): string {
  return join(runDir(), name)
}

export function stateFile(name: string): string {
  return join(labDir(name), 'state.json')
}

export function readState(name: string): LabState | undefined {
  try {
    return JSON.parse(readFileSync(stateFile(name), 'utf8')) as LabState
  } catch (error) {
    if (isNotFound(error)) return undefined
    throw new TopologyError(`${stateFile(name)}: ${(error as Error).message}`, { code: 'LAB_ERR_STATE', cause: error })
  }
}

export function requireState(name: string): LabState {
  const state = readState(name)
  if (!state) throw new TopologyError(`no lab named ${name} (see lab list)`, { code: 'LAB_ERR_NO_LAB' })
  return state
}

/** Writes atomically (a rename), so a kill never leaves half a file. */
export function writeState(state: LabState): void {
  mkdirSync(labDir(state.name), { recursive: true })
  const tmp = `${stateFile(state.name)}.tmp`
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`)
  renameSync(tmp, stateFile(state.name))
}

export function removeState(name: string): void {
  rmSync(labDir(name), { recursive: true, force: true })
}

export function listLabs(): string[] {
  if (!existsSync(runDir())) return []
  return readdirSync(runDir())
    .filter((n) => existsSync(stateFile(n)))
    .sort()
}

export function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Field 22 (starttime); fields after the command name, which may hold spaces, in parentheses.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]
  } catch {
    return undefined
  }
}

export function processAlive(p: ProcessRecord): boolean {
  return processStart(p.pid) === p.start
}
