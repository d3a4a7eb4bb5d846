// Port forwards done by the kernel: one DNAT rule per forward in the switch's namespace, all in one
// nftables table written in one transaction. Connections arriving on any link but the bridge (the
// uplink side) to the forward's port are rewritten to the VM and routed there; replies are
// un-NATed by conntrack. Nothing in this process touches the bytes, so throughput is the kernel's
// routing throughput. Each rule counts the connections it rewrote (a nat chain sees only the
// first packet of a connection).
import { isNotFound } from '@lab/netlink-native'
import { Counter, Nft, rule, type TableRef } from '@lab/nft'
import { formatForward, type ForwardSpec } from './forward-spec.js'

export const FORWARD_TABLE: TableRef = { family: 'ip', name: 'nanoswitch-forwards' }

export interface KernelForwardCounters {
  /** Connections rewritten so far. */
  total: number
}

export class KernelForwards {
  constructor(
    readonly specs: readonly ForwardSpec[],
    readonly netns: string | undefined,
    readonly bridge: string,
  ) {}

  /** Writes the table with one DNAT rule per forward, replacing what a previous run left (one transaction). */
  async apply(): Promise<void> {
    await this.#withNft((nft) =>
      nft.apply((tx) => {
        tx.addTable(FORWARD_TABLE)
        tx.addChain({ table: FORWARD_TABLE, name: 'prerouting', type: 'nat', hook: 'prerouting', priority: 'dstnat', policy: 'accept' })
        tx.flushTable(FORWARD_TABLE)
        for (const spec of this.specs) {
          tx.addRule({
            table: FORWARD_TABLE,
            chain: 'prerouting',
            comment: formatForward(spec),
            exprs: rule().iifname(this.bridge, '!=').tcp('dport', spec.listenPort).counter().dnat(spec.targetHost, spec.targetPort),
          })
        }
      }),
    )
  }

  /** Connections per forward (by its spec text), read from the rules' counters. */
  async counters(): Promise<Map<string, KernelForwardCounters>> {
    const rules = await this.#withNft((nft) => nft.rules({ table: FORWARD_TABLE, chain: 'prerouting' }))
    const counters = new Map<string, KernelForwardCounters>()
    for (const r of rules) {
      const counter = r.exprs.find((e): e is Counter => e instanceof Counter)
      if (r.comment && counter) counters.set(r.comment, { total: Number(counter.packets) })
    }
    return counters
  }

  /** Deletes the forwards' table; no error if it is gone already (as `nft destroy table`). */
  async destroy(): Promise<void> {
    await this.#withNft((nft) => nft.apply((tx) => tx.delTable(FORWARD_TABLE))).catch((error: unknown) => {
      // Already gone (never applied, or removed by hand): what destroy promises either way.
      if (!isNotFound(error)) throw error
    })
  }

  async #withNft<T>(work: (nft: Nft) => Promise<T>): Promise<T> {
    const nft = await Nft.open({ netns: this.netns })
    try {
      return await work(nft)
    } finally {
      await nft.close()
    }
  }
}
