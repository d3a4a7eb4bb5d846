// NAT for the VMs behind the switch: one nftables table in the switch's namespace, written in one
// transaction (and rewritten whole on a restart): masquerade what leaves by the uplink from the
// bridge subnet, and let it through the forward hook.
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
    nft.close()
  }
}
