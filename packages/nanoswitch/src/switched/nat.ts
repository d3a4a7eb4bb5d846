// NAT for the VMs behind the switch: one nftables table in the switch's namespace, written in one
// transaction (and rewritten whole on a restart, so nothing is duplicated): masquerade what leaves
// by the uplink from the bridge subnet, and let it through the forward hook.
import { isNotFound } from '@lab/netlink-native'
import { Nft, rule, type TableRef } from '@lab/nft'

export const NAT_TABLE: TableRef = { family: 'ip', name: 'nanoswitch' }

export async function applyNat(netns: string | undefined, uplink: string, bridgeNetwork: string): Promise<void> {
  const nft = await Nft.open({ netns })
  try {
    await nft.apply((tx) => {
      tx.addTable(NAT_TABLE)
      tx.addChain({ table: NAT_TABLE, name: 'postrouting', type: 'nat', hook: 'postrouting', priority: 'srcnat', policy: 'accept' })
      tx.addChain({ table: NAT_TABLE, name: 'forward', type: 'filter', hook: 'forward', priority: 'filter', policy: 'accept' })
      tx.flushTable(NAT_TABLE)
      tx.addRule({ table: NAT_TABLE, chain: 'postrouting', exprs: rule().ip('saddr', bridgeNetwork).oifname(uplink).masquerade() })
    })
  } finally {
    await nft.close()
  }
}

/** Deletes the NAT table; no error if it is gone already. */
export async function destroyNat(netns: string | undefined): Promise<void> {
  const nft = await Nft.open({ netns })
  try {
    await nft.apply((tx) => tx.delTable(NAT_TABLE))
  } catch (error) {
    // Never written, or removed by hand: gone is what was wanted.
    if (!isNotFound(error)) throw error
  } finally {
    await nft.close()
  }
}
