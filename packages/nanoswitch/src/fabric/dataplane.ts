// The fabric's data plane on one host: the VXLAN device for the VNI on the switch's bridge, the
// anycast gateway MAC, the MTU, and the nftables bridge table that keeps DHCP on its own host.
import { Netlink, isNotFound, type Link } from '@lab/netlink-native'
import { Nft, rule, type TableRef } from '@lab/nft'
import { SwitchError } from '../errors.js'
import { VXLAN_OVERHEAD, type FabricPlan } from './fabric.js'

/** `bridge nanoswitch-fabric`: DHCP (UDP 67/68) never crosses the VXLAN port, either way. */
export const FABRIC_TABLE: TableRef = { family: 'bridge', name: 'nanoswitch-fabric' }

/**
 * Checks what the fabric needs from the host: the underlay exists, carries `local`, and is not
 * the bridge's. Returns the MTU the VMs get (underlay MTU minus the VXLAN overhead).
 */
export async function checkUnderlay(nl: Netlink, plan: FabricPlan, netns: string | undefined): Promise<number> {
  const where = netns ? ` in netns ${netns}` : ''
  const link = await nl.link.get(plan.underlay).catch((error: unknown) => {
    if (isNotFound(error)) throw new SwitchError('LAB_ERR_SWITCH_CONFIG', `fabric.underlay: no interface ${plan.underlay}${where}`)
    throw error
  })
  const addresses = await nl.addr.list({ link: link.index, family: 4 })
  if (!addresses.some((a) => a.address === plan.local)) {
    throw new SwitchError('LAB_ERR_SWITCH_CONFIG', `fabric.local: ${plan.local} is not an address of ${plan.underlay}${where} (it has ${addresses.map((a) => a.address).join(', ') || 'none'})`)
  }
  return (link.mtu ?? 1500) - VXLAN_OVERHEAD
}

/**
 * The VXLAN device on the bridge, made or adopted: local VTEP, the fabric's UDP port, no
 * learning (EVPN installs remote MACs), MTU for the underlay; on the bridge, learning off and
 * neigh_suppress on (ARP for remote VMs is answered from EVPN's MAC+IP routes). The bridge takes
 * the anycast gateway MAC and the same MTU.
 */
export async function ensureVxlan(nl: Netlink, plan: FabricPlan, bridge: Link, mtu: number): Promise<void> {
  const existing = await nl.link.get(plan.vxlan).catch((error: unknown) => {
    if (isNotFound(error)) return undefined
    throw error
  })
  if (existing && (existing.kind !== 'vxlan' || existing.info?.id !== plan.vni || existing.info?.local !== plan.local || existing.info?.port !== plan.port)) {
    // A device of our name that is not ours as configured (another VNI, an old local address): replace it.
    await nl.link.del(plan.vxlan)
  }
  if (!existing || existing.kind !== 'vxlan' || existing.info?.id !== plan.vni || existing.info?.local !== plan.local || existing.info?.port !== plan.port) {
    await nl.link.add({ name: plan.vxlan, kind: 'vxlan', vxlan: { id: plan.vni, local: plan.local, port: plan.port, learning: false } })
  }
  await nl.link.set(plan.vxlan, { mtu, master: bridge.index })
  await nl.link.setBridgePort(plan.vxlan, { learning: false, neighSuppress: true })
  await nl.link.set(plan.vxlan, { up: true })
  await nl.link.set(bridge.index, { address: plan.gatewayMac, mtu })
}

export async function removeVxlan(nl: Netlink, plan: FabricPlan): Promise<void> {
  await nl.link.del(plan.vxlan).catch((error: unknown) => {
    // Gone already (removed by hand, or with its namespace): what we wanted.
    if (!isNotFound(error)) throw error
  })
}

/** Rewritten whole on every start: a restart adopts the table, never duplicates a rule. */
export async function applyFabricFilter(netns: string | undefined, vxlan: string): Promise<void> {
  const nft = await Nft.open({ netns })
  try {
    await nft.apply((tx) => {
      tx.addTable(FABRIC_TABLE)
      for (const hook of ['forward', 'input', 'output'] as const) {
        tx.addChain({ table: FABRIC_TABLE, name: `dhcp-${hook}`, type: 'filter', hook, priority: 'filter', policy: 'accept' })
      }
      tx.flushTable(FABRIC_TABLE)
      // From this host's clients or its server out to the fabric, and from the fabric in.
      tx.addRule({ table: FABRIC_TABLE, chain: 'dhcp-forward', exprs: rule().oifname(vxlan).udp('dport', [67, 68]).drop() })
      tx.addRule({ table: FABRIC_TABLE, chain: 'dhcp-forward', exprs: rule().iifname(vxlan).udp('dport', [67, 68]).drop() })
      tx.addRule({ table: FABRIC_TABLE, chain: 'dhcp-output', exprs: rule().oifname(vxlan).udp('dport', [67, 68]).drop() })
      tx.addRule({ table: FABRIC_TABLE, chain: 'dhcp-input', exprs: rule().iifname(vxlan).udp('dport', [67, 68]).drop() })
    })
  } finally {
    await nft.close()
  }
}

export async function destroyFabricFilter(netns: string | undefined): Promise<void> {
  const nft = await Nft.open({ netns })
  try {
    await nft.apply((tx) => tx.delTable(FABRIC_TABLE))
  } catch (error) {
    // Never written, or removed by hand: gone is what was wanted.
    if (!isNotFound(error)) throw error
  } finally {
    await nft.close()
  }
}

/** The kernel's fdb on the VXLAN port: MACs EVPN installed (`extern_learn`), flood entries left out. */
export async function remoteFdb(nl: Netlink, vxlan: string): Promise<string[]> {
  const NTF_EXT_LEARNED = 0x10
  const entries = await nl.neigh.list({ family: 'bridge', link: vxlan })
  // The bridge's entry and the VXLAN device's own (with the remote VTEP) both name the MAC: once each.
  return [...new Set(entries.filter((e) => (e.flags & NTF_EXT_LEARNED) !== 0 && e.lladdr && e.lladdr !== '00:00:00:00:00:00').map((e) => e.lladdr!))]
}

/**
 * The head-end replication flood list zebra installed on the VXLAN port: the remote VTEPs with an
 * all-zero MAC entry (one per neighbor whose type-3 route arrived). Until a neighbor is in it,
 * broadcast such as ARP requests does not reach that host.
 */
export async function floodList(nl: Netlink, vxlan: string): Promise<string[]> {
  const entries = await nl.neigh.list({ family: 'bridge', link: vxlan })
  return [...new Set(entries.filter((e) => e.lladdr === '00:00:00:00:00:00' && e.address).map((e) => e.address!))]
}
