// FRR (Debian's `frr`: zebra and bgpd) for one switch: its configuration written from the fabric
// plan, its daemons started in the switch's namespace, and what their vty sockets say about it.
//
// Each switch's FRR is private: one directory (default /var/run/frr/<pathspace>, which is where
// `vtysh -N <pathspace>` looks) holds its configuration, pid files, vty sockets and the zserv
// socket; the daemons get every path on their command line (-f, -i, -z, --vty_socket) so nothing
// is read from or written to /etc/frr, and several switches on one machine never share a file.
// FRR's own netns-as-VRF mode is not used (it mishandles pre-existing VXLAN devices in 8.4): one
// zebra and one bgpd per namespace.
import { existsSync, readFileSync } from 'node:fs'
import { createConnection } from 'node:net'
import { basename, join } from 'node:path'
import { SwitchError } from '../errors.js'
import type { FabricPlan } from './fabric.js'

export interface FrrOptions {
  /** Where zebra, bgpd and vtysh are: default /usr/lib/frr (the daemons) and vtysh on PATH. */
  bin?: string
  /** The switch's FRR directory. Default /var/run/frr/<pathspace>. */
  dir?: string
}

export const FRR_BIN = '/usr/lib/frr'

/** FRR's pathspace for a switch: its namespace's name (a path's last part), or `nanoswitch`. */
export function pathspaceOf(netns: string | undefined): string {
  return (netns ? basename(netns) : 'nanoswitch').replace(/[^A-Za-z0-9_.-]/g, '_')
}

export interface FrrPaths {
  bin: string
  dir: string
  pathspace: string
}

export function frrPaths(netns: string | undefined, o: FrrOptions = {}): FrrPaths {
  const pathspace = pathspaceOf(netns)
  return { bin: o.bin ?? FRR_BIN, dir: o.dir ?? `/var/run/frr/${pathspace}`, pathspace }
}

/** A missing FRR ends the start with one line saying what to install. */
export function checkFrr(p: FrrPaths): void {
  for (const daemon of ['zebra', 'bgpd']) {
    const path = join(p.bin, daemon)
    if (!existsSync(path)) throw new SwitchError('LAB_ERR_SWITCH_CONFIG', `fabric: FRR's ${daemon} is not at ${path} (install Debian's frr package: apt-get install frr)`)
  }
}

/** The uid and gid FRR's daemons drop to (user and group `frr`), so its directory is theirs. */
export function frrOwner(): { uid: number; gid: number } | undefined {
  const user = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .map((l) => l.split(':'))
    .find((f) => f[0] === 'frr')
  return user ? { uid: Number(user[2]), gid: Number(user[3]) } : undefined
}

export function zebraConfig(plan: FabricPlan, p: FrrPaths): string {
  return [`hostname ${p.pathspace}`, 'log stdout warnings', ''].join('\n')
}

/**
 * bgpd's configuration: a session to every neighbor (iBGP, or eBGP with `peerAsn`), only the
 * l2vpn evpn family, and every local VNI advertised. Timers for a fabric that forms in about a
 * second and notices a lost host in seconds:
 * - `timers 3 9` (keepalive, hold): a host that goes away is withdrawn within 9 s;
 * - `timers connect 1`: a neighbor not listening yet (hosts start together) is tried again after
 *   1 s, not 120 s;
 * - `coalesce-time 0`: a new session's first UPDATE (the type-3 routes that put this host in
 *   its neighbors' flood lists) goes at once instead of after the 1 s FRR waits by default for
 *   more peers to join its update group; measured: the flood list 1.2 s sooner (bench/fabric);
 * - `advertisement-interval 0`: no MRAI delay between UPDATEs, also for eBGP (FRR's traditional
 *   defaults wait up to 30 s there), so a VM's MAC moves at once.
 *
 * The neighbors get their settings from a peer-group (`fabric`) written before them, and the
 * order of the lines matters (FRR 8.4): a neighbor starts connecting at once only because
 * `timers connect` on a neighbor that is not Established queues a start event for it; otherwise
 * it waits in Idle for its start timer (1 s). `update-source` set on the neighbor itself resets
 * it, and that reset (processed after the whole file is read) drops every event queued for the
 * neighbor, that start too: each bgpd sat 1 s in Idle (bench/fabric, bgpd's debug log). Given by
 * the peer-group, copied when the neighbor joins it, the source address causes no reset.
 */
export function bgpdConfig(plan: FabricPlan, p: FrrPaths): string {
  const lines = [`hostname ${p.pathspace}`, 'log stdout warnings', `router bgp ${plan.asn}`, ` bgp router-id ${plan.local}`, ' no bgp default ipv4-unicast', ' no bgp ebgp-requires-policy', ' coalesce-time 0']
  lines.push(` neighbor ${PEER_GROUP} peer-group`, ` neighbor ${PEER_GROUP} remote-as ${plan.peerAsn}`, ` neighbor ${PEER_GROUP} update-source ${plan.local}`, ` neighbor ${PEER_GROUP} timers 3 9`, ` neighbor ${PEER_GROUP} advertisement-interval 0`)
  // Per neighbor, after it joined the group: the start event (see above).
  for (const n of plan.neighbors) lines.push(` neighbor ${n} peer-group ${PEER_GROUP}`, ` neighbor ${n} timers connect 1`)
  lines.push(' address-family l2vpn evpn', `  neighbor ${PEER_GROUP} activate`, '  advertise-all-vni', ' exit-address-family', '')
  return lines.join('\n')
}

/** The peer-group in bgpd.conf that every neighbor is in. */
export const PEER_GROUP = 'fabric'

/** A daemon's command line: every path inside the switch's FRR directory. */
export function daemonArgs(daemon: 'zebra' | 'bgpd', p: FrrPaths): string[] {
  const args = ['-N', p.pathspace, '-f', join(p.dir, `${daemon}.conf`), '-i', join(p.dir, `${daemon}.pid`), '-z', join(p.dir, 'zserv.api'), '--vty_socket', p.dir, '-A', '127.0.0.1']
  // bgpd listens on port 179 in the switch's namespace only; no vty TCP port (vtysh uses the socket).
  return [...args, '-P', '0']
}

/**
 * Whether one daemon's vty socket accepts a connection: one connect(), no process. FRR makes it
 * as the last step of its start, just before its event loop runs; zebra's zserv socket listens
 * by then (made earlier in its start), so a bgpd started now connects to zebra at its first try.
 */
export function vtyListening(p: FrrPaths, daemon: 'zebra' | 'bgpd'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection(join(p.dir, `${daemon}.vty`))
    // No socket yet, or one left by a daemon that is gone (ECONNREFUSED): not yet.
    socket.once('error', () => resolve(false))
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
  })
}

/**
 * Runs one show command on one daemon's vty socket, in-process (what vtysh does, without a process
 * per question): the command and a NUL go out; the daemon's output comes back, then four bytes,
 * three NULs and the command's return code (0: success). Its JSON answer, parsed.
 */
export function vtyJson<T>(p: FrrPaths, daemon: 'zebra' | 'bgpd', command: string, timeoutMs = 3_000): Promise<T> {
  const what = `${daemon} vty '${command}'`
  return new Promise((resolve, reject) => {
    const socket = createConnection(join(p.dir, `${daemon}.vty`))
    const chunks: Buffer[] = []
    let settled = false
    const end = (error: Error | undefined, value?: T) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.destroy()
      if (error) reject(error)
      else resolve(value as T)
    }
    const timer = setTimeout(() => end(new Error(`${what}: no answer within ${timeoutMs} ms`)), timeoutMs)
    socket.once('error', (error) => end(new Error(`${what}: ${error.message}`, { cause: error })))
    socket.once('close', () => end(new Error(`${what}: closed before the end of the answer`)))
    socket.once('connect', () => socket.write(`${command}\0`))
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk)
      const all = Buffer.concat(chunks)
      // The output holds no NUL: the first one starts the trailer.
      const nul = all.indexOf(0)
      if (nul < 0 || all.length < nul + 4) return
      const text = all.subarray(0, nul).toString('utf8')
      if (all[nul + 3] !== 0) return end(new Error(`${what}: failed (code ${all[nul + 3]}): ${text.trim().slice(0, 120)}`))
      try {
        end(undefined, JSON.parse(text) as T)
      } catch (e) {
        end(new Error(`${what}: not JSON: ${text.slice(0, 120)}`, { cause: e }))
      }
    })
  })
}

export interface BgpPeer {
  address: string
  state: string
  uptimeMs: number
  prefixesReceived: number
}

interface EvpnSummary {
  peers?: Record<string, { state?: string; peerUptimeMsec?: number; pfxRcd?: number }>
}

/** The sessions as `show bgp l2vpn evpn summary json` gives them; a neighbor not listed is Idle. */
export async function bgpPeers(p: FrrPaths, neighbors: string[]): Promise<BgpPeer[]> {
  const s = await vtyJson<EvpnSummary>(p, 'bgpd', 'show bgp l2vpn evpn summary json')
  return neighbors.map((address) => {
    const peer = s.peers?.[address]
    return { address, state: peer?.state ?? 'Idle', uptimeMs: peer?.state === 'Established' ? (peer.peerUptimeMsec ?? 0) : 0, prefixesReceived: peer?.pfxRcd ?? 0 }
  })
}

/** The MACs FRR knows on the VNI: `local` ones it advertises, `remote` ones learned by type-2 routes. */
export async function evpnMacs(p: FrrPaths, vni: number): Promise<Array<{ mac: string; type: string; remoteVtep?: string }>> {
  const r = await vtyJson<{ macs?: Record<string, { type?: string; remoteVtep?: string }> }>(p, 'zebra', `show evpn mac vni ${vni} json`)
  return Object.entries(r.macs ?? {}).map(([mac, m]) => ({ mac, type: m.type ?? 'unknown', ...(m.remoteVtep ? { remoteVtep: m.remoteVtep } : {}) }))
}
