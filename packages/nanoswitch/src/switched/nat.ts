// NAT for the VMs behind the switch: one nftables table in the switch's namespace, written in one
// transaction (and rewritten whole on a restart, so nothing is duplicated): masquerade what leaves
// by the uplink from the bridge subnet, and let it through the forward hook. With IPv6 the same
// transaction writes `ip6 nanoswitch`: NAT66, the bridge's ULA /64 masqueraded to the uplink's
// address (RFC 6296's prefix translation would keep ports; masquerade is what dnsmasq/Docker users
// know and needs no prefix of the same length upstream).
import { isNotFound } from '@lab/netlink-native'
import { Nft, rule, type TableRef } from '@lab/nft'

export const NAT_TABLE: TableRef = { family: 'ip', name: 'nanoswitch' }
export const NAT6_TABLE: TableRef = { family: 'ip6', name: 'nanoswitch' }

/** `bridgeNetwork6`: the bridge's IPv6 /64, masqueraded too (table `ip6 nanoswitch`); omitted: IPv4 only. */
export async function applyNat(netns: string | undefined, uplink: string, bridgeNetwork: string, bridgeNetwork6?: string): Promise<void> {
  const nft = await Nft.open({ netns })
  try {
    await nft.apply((tx) => {
      tx.addTable(NAT_TABLE)
      tx.addChain({ table: NAT_TABLE, name: 'postrouting', type: 'nat', hook: 'postrouting', priority: 'srcnat', policy: 'accept' })
      tx.addChain({ table: NAT_TABLE, name: 'forward', type: 'filter', hook: 'forward', priority: 'filter', policy: 'accept' })
      tx.flushTable(NAT_TABLE)
      tx.addRule({ table: NAT_TABLE, chain: 'postrouting', exprs: rule().ip('saddr', bridgeNetwork).oifname(uplink).masquerade() })
      if (bridgeNetwork6 === undefined) return
      tx.addTable(NAT6_TABLE)
      tx.addChain({ table: NAT6_TABLE, name: 'postrouting', type: 'nat', hook: 'postrouting', priority: 'srcnat', policy: 'accept' })
      tx.flushTable(NAT6_TABLE)
      tx.addRule({ table: NAT6_TABLE, chain: 'postrouting', exprs: rule().ip6('saddr', bridgeNetwork6).oifname(uplink).masquerade() })
    })
  } finally {
    await nft.close()
  }
}

/** Deletes the NAT tables (IPv4 and IPv6); no error for one that is gone already. */
export async function destroyNat(netns: string | undefined): Promise<void> {
  const nft = await Nft.open({ netns })
  try {
    // One transaction each: a missing table (IPv4 only, or removed by hand) fails only its own.
    for (const table of [NAT_TABLE, NAT6_TABLE]) {
      await nft.apply((tx) => tx.delTable(table)).catch((error: unknown) => {
        // Never written, or removed by hand: gone is what was wanted.
        if (!isNotFound(error)) throw error
      })
    }
  } finally {
    await nft.close()
  }
}
