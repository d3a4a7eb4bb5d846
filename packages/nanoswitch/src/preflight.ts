// What is checked before anything starts, so a configuration the switch cannot run with ends the
// start at once with one clear error, instead of a supervised part failing and restarting forever.
import { closeSync, mkdirSync, openSync, constants } from 'node:fs'
import { dirname } from 'node:path'
import { ArgumentError, Netlink, isNotFound, parseIp, parseMac } from '@lab/netlink-native'
import { SwitchError } from './errors.js'
import { parseOui } from './routed/client-mac.js'
import { bridgePlan } from './switched/plan.js'
import { bridgePlan6 } from './switched/plan6.js'
import { fabricPlan } from './fabric/fabric.js'
import { checkFrr, frrPaths } from './fabric/frr.js'
import type { StartOptions } from './app.js'

/** Throws ArgumentError (an invalid option) or SwitchError LAB_ERR_SWITCH_CONFIG. */
export async function preflight(o: StartOptions): Promise<void> {
  if (o.mode !== undefined && o.mode !== 'switched' && o.mode !== 'routed') throw new ArgumentError('mode', `switched or routed, not ${JSON.stringify(o.mode)}`)
  // Switched mode announces IPv6 DNS servers in RAs and DHCPv6; routed mode serves DHCPv4 only.
  for (const dns of o.dns ?? []) if (parseIp(dns, 'dns').family !== 4 && (o.mode === 'routed' || o.ipv6 === false)) throw new ArgumentError('dns', `an IPv4 address${o.mode === 'routed' ? ' (routed mode)' : ' (IPv6 is off)'}, not ${dns}`)
  if (o.mode === 'routed') {
    if (o.oui !== undefined) parseOui(o.oui)
  } else {
    bridgePlan(o.subnet ?? '10.1.0.1/24')
    if (o.ipv6 !== undefined && typeof o.ipv6 !== 'boolean') throw new ArgumentError('ipv6', `true or false, not ${JSON.stringify(o.ipv6)}`)
    if (o.subnet6 !== undefined) bridgePlan6(o.subnet6)
    if (o.uplink?.mac !== undefined) parseMac(o.uplink.mac, 'uplink.mac')
    if (o.uplink?.name !== undefined && o.uplink.mac !== undefined) throw new ArgumentError('uplink', 'a name or a MAC, not both')
    if (o.forwardMode !== undefined && o.forwardMode !== 'kernel' && o.forwardMode !== 'proxy') throw new ArgumentError('forwardMode', `kernel or proxy, not ${JSON.stringify(o.forwardMode)}`)
    if (o.socks !== undefined && !(Number.isInteger(o.socks) && o.socks > 0 && o.socks < 65536)) throw new ArgumentError('socks', `a TCP port (1-65535), not ${o.socks}`)
    if (o.leaseFile !== undefined) checkLeaseFile(o.leaseFile)
    if (o.fabric !== undefined) {
      fabricPlan(o.fabric, bridgePlan(o.subnet ?? '10.1.0.1/24'))
      checkFrr(frrPaths(o.netns, o.frr))
    }
  }
  if (o.netns !== undefined) await checkNetns(o.netns)
}

async function checkNetns(netns: string): Promise<void> {
  let nl: Netlink
  try {
    nl = await Netlink.open({ netns })
  } catch (error) {
    const why = isNotFound(error) ? 'no such network namespace (see ip netns list)' : (error as Error).message
    throw new SwitchError('LAB_ERR_SWITCH_CONFIG', `netns ${netns}: ${why}`, { cause: error })
  }
  nl.close()
}

function checkLeaseFile(path: string): void {
  const dir = dirname(path)
  try {
    mkdirSync(dir, { recursive: true })
  } catch (error) {
    throw new SwitchError('LAB_ERR_SWITCH_CONFIG', `lease file ${path}: cannot create its directory ${dir} (${(error as { code?: string }).code ?? (error as Error).message})`, { cause: error })
  }
  try {
    // Opened as the journal will be (append, created if missing), and closed at once.
    closeSync(openSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, 0o600))
  } catch (error) {
    throw new SwitchError('LAB_ERR_SWITCH_CONFIG', `lease file ${path}: cannot open it for writing (${(error as { code?: string }).code ?? (error as Error).message})`, { cause: error })
  }
}
