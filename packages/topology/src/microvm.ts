// microvm nodes: a QEMU microVM (@lab/launch) whose one NIC is a persistent TAP (`tap0`) on the
// node namespace's bridge `br0`, which the node's link ends join too. `lab up` builds the guest
// image (Debian's cloud kernel, cached, and a busybox initramfs that configures eth0 by DHCP or a
// static address and runs the node's `exec` lines), then starts a detached runner (vm-runner.ts)
// that boots the VM, writes its console to the node's log and answers `lab exec` on a unix socket.
import { connect } from 'node:net'
import { createRequire } from 'node:module'
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { TopologyError } from './errors.js'
import { labDir, processAlive, type NodeState } from './state.js'
import type { NodeSpec } from './topology.js'

/** The TAP in a microvm node's namespace that its VM's NIC is on. */
export const VM_TAP = 'tap0'

/** What the runner is started with (one JSON argument). */
export interface RunnerConfig {
  netns: string
  tap: string
  kernel: string
  initramfs: string
  memoryMiB: number
  socket: string
}

export function runnerPath(): string {
  // The CJS build has a module-scoped `require` and no import.meta.url; the ESM build the reverse.
  const resolver = typeof require === 'function' && typeof require.resolve === 'function' ? require : createRequire(import.meta.url)
  return join(dirname(resolver.resolve('@lab/topology/package.json')), 'dist', 'vm-runner.js')
}

export function vmSocket(lab: string, node: string): string {
  return join(labDir(lab), `${node}.vm.sock`)
}

/** The guest image for a node: cached kernel, an initramfs that sets eth0 up as the node asks. */
export async function vmImage(node: string, spec: NodeSpec): Promise<{ kernel: string; initramfs: string }> {
  const { guestImage } = await import('@lab/launch')
  const gateway = spec.routes?.find((r) => r.to === 'default')?.via
  const eth0 = spec.dhcp ? { name: 'eth0', dhcp: true as const } : spec.addresses?.[0] ? { name: 'eth0', address: spec.addresses[0], ...(gateway ? { gateway } : {}) } : undefined
  const image = await guestImage({ hostname: node, interfaces: eth0 ? [eth0] : [], commands: spec.exec ?? [], then: 'shell' })
  return { kernel: image.kernel, initramfs: image.initramfs }
}

function logOf(record: NodeState): string {
  const p = record.processes.find((x) => x.role === 'microvm')
  if (!p) throw new TopologyError(`${record.netns}: no microVM recorded`, { code: 'LAB_ERR_NO_NODE' })
  return p.log
}

function readLog(file: string): string {
  try {
    return readFileSync(file, 'utf8')
  } catch {
    return ''
  }
}

/** Resolves once the guest printed `LAB:ready` (its network is up); fails when the runner died. */
export async function waitForVm(record: NodeState, node: string, deadline: number): Promise<void> {
  const p = record.processes.find((x) => x.role === 'microvm')!
  for (;;) {
    const text = readLog(p.log)
    if (text.includes('LAB:ready')) return
    const tail = text.trim().split('\n').slice(-3).join(' | ')
    if (!processAlive(p)) throw new TopologyError(`nodes.${node}: the microVM ended before its network was up (${p.log}: ${tail})`, { code: 'LAB_ERR_MICROVM' })
    if (Date.now() > deadline) throw new TopologyError(`nodes.${node}: the microVM was not ready in time (${p.log}: ${tail})`, { code: 'LAB_ERR_MICROVM' })
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** The guest's eth0 addresses: its last DHCP lease (from the console), or the static one. */
export function guestAddresses(record: NodeState): string[] {
  if (!record.spec.dhcp) return record.spec.addresses ?? []
  const leases = [...readLog(logOf(record)).matchAll(/LAB:lease eth0 (\S+)/g)]
  return leases.length ? [leases[leases.length - 1]![1]!] : []
}

/** A POSIX shell word for `argv` joined into one console line. */
export function shellLine(argv: string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ')
}

/** Runs one shell line in a microVM's guest (through its runner); resolves to output and status. */
export function vmExec(lab: string, node: string, command: string, timeoutMs = 60_000): Promise<{ status: number; output: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(vmSocket(lab, node))
    let reply = ''
    socket.setEncoding('utf8')
    socket.once('error', (error) => reject(new TopologyError(`nodes.${node}: the microVM's runner does not answer (${error.message})`, { code: 'LAB_ERR_MICROVM', cause: error })))
    socket.on('data', (chunk: string) => {
      reply += chunk
      const nl = reply.indexOf('\n')
      if (nl < 0) return
      socket.end()
      const r = JSON.parse(reply.slice(0, nl)) as { status?: number; output?: string; error?: string }
      if (r.error !== undefined) reject(new TopologyError(`nodes.${node}: ${r.error}`, { code: 'LAB_ERR_MICROVM' }))
      else resolve({ status: r.status!, output: r.output! })
    })
    socket.write(`${JSON.stringify({ command, timeoutMs })}\n`)
  })
}
