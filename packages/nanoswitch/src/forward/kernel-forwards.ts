// Port forwards done by the kernel: one DNAT rule per forward in the switch's namespace, all in one
// nftables table written in one transaction. Connections arriving on any link but the bridge (the
// uplink side) to the forward's port are rewritten to the VM and routed there; replies are
// un-NATed by conntrack. Nothing in this process touches the bytes, so throughput is the kernel's
// routing throughput. Each rule counts the connections it rewrote (a nat chain sees only the
// first packet of a connection). Forwards to IPv6 addresses are the same rules in the table
// `ip6 nanoswitch-forwards`, written in the same transaction.
import { isNotFound } from '@lab/netlink-native'
import { Counter, Nft, rule, type TableRef } from '@lab/nft'
import { formatForward, type ForwardSpec } from './forward-spec.js'

export const FORWARD_TABLE: TableRef = { family: 'ip', name: 'nanoswitch-forwards' }
export const FORWARD6_TABLE: TableRef = { family: 'ip6', name: 'nanoswitch-forwards' }

const isV6 = (spec: ForwardSpec) => spec.targetHost.includes(':')

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

  /**
   * Writes the table with one DNAT rule per forward, replacing what a previous run left, and the
   * IPv6 table when a forward goes to an IPv6 address (one transaction).
   */
  async apply(): Promise<void> {
    const v6 = this.specs.filter(isV6)
    await this.#withNft((nft) =>
      nft.apply((tx) => {
        for (const table of v6.length ? [FORWARD_TABLE, FORWARD6_TABLE] : [FORWARD_TABLE]) {
          tx.addTable(table)
          tx.addChain({ table, name: 'prerouting', type: 'nat', hook: 'prerouting', priority: 'dstnat', policy: 'accept' })
          tx.flushTable(table)
        }
        for (const spec of this.specs) {
          tx.addRule({
            table: isV6(spec) ? FORWARD6_TABLE : FORWARD_TABLE,
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
    const tables = this.specs.some(isV6) ? [FORWARD_TABLE, FORWARD6_TABLE] : [FORWARD_TABLE]
    const rules = (await this.#withNft((nft) => Promise.all(tables.map((table) => nft.rules({ table, chain: 'prerouting' }))))).flat()
    const counters = new Map<string, KernelForwardCounters>()
    for (const r of rules) {
      const counter = r.exprs.find((e): e is Counter => e instanceof Counter)
      if (r.comment && counter) counters.set(r.comment, { total: Number(counter.packets) })
    }
    return counters
  }

  /** Deletes the forwards' tables (IPv4 and IPv6); no error for one that is gone already (as `nft destroy table`). */
  async destroy(): Promise<void> {
    for (const table of [FORWARD_TABLE, FORWARD6_TABLE]) {
      await this.#withNft((nft) => nft.apply((tx) => tx.delTable(table))).catch((error: unknown) => {
        // Already gone (never applied, or IPv4 only, or removed by hand): what destroy promises either way.
        if (!isNotFound(error)) throw error
      })
    }
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
