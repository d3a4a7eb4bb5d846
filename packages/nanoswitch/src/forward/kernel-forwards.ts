// Port forwards done by the kernel: one DNAT rule per forward in the switch's namespace, all in one
// nftables table written in one transaction. Connections arriving on any link but the bridge (the
// uplink side) to the forward's port are rewritten to the VM and routed there; replies are
// un-NATed by conntrack. Nothing in this process touches the bytes, so throughput is the kernel's
// routing throughput. Each rule counts the connections it rewrote (a nat chain sees only the
// first packet of a connection). Bytes are counted in a filter chain at the forward hook of the
// same table: per forward, one rule for the packets routed to the VM (out the bridge, to the
// target address and port) and one for the replies (in from the bridge, from the target address
// and port), both only for connections conntrack has DNATed to it from this forward's own port
// (`ct original proto-dst`: two forwards to the same VM address and port count apart); they count
// and change no verdict.
// Forwards to IPv6 addresses are the same rules in the table `ip6 nanoswitch-forwards`, written in
// the same transaction.
import { isNotFound } from '@lab/netlink-native'
import { Bitwise, Cmp, Counter, Ct, Meta, NFT_REG_1, Nft, rule, type RuleBuilder, type TableRef } from '@lab/nft'
import { formatForward, type ForwardSpec } from './forward-spec.js'

export const FORWARD_TABLE: TableRef = { family: 'ip', name: 'nanoswitch-forwards' }
export const FORWARD6_TABLE: TableRef = { family: 'ip6', name: 'nanoswitch-forwards' }

const isV6 = (spec: ForwardSpec) => spec.targetHost.includes(':')

export interface KernelForwardCounters {
  /** Connections rewritten so far. */
  total: number
  /** Bytes (IP packets, headers included) routed towards the VM on forwarded connections. */
  bytesIn: number
  /** Bytes (IP packets, headers included) of the VM's replies on forwarded connections. */
  bytesOut: number
}

/** The chain that counts the forwarded connections' bytes (a filter chain at the forward hook). */
export const FORWARD_COUNT_CHAIN = 'forward'

// ct status & dnat != 0 (IPS_DST_NAT, bit 5 of the host-endian status word): the connection was DNATed.
const IPS_DST_NAT = Buffer.from(new Uint32Array([1 << 5]).buffer)
const ctStatusDnat = () => [new Ct('status'), new Bitwise(IPS_DST_NAT, Buffer.alloc(4)), new Cmp('!=', Buffer.alloc(4))]

/** The byte-counting rule of one direction: 'in' towards the VM, 'out' its replies. */
function bytesRule(spec: ForwardSpec, bridge: string, direction: 'in' | 'out'): RuleBuilder {
  const r = direction === 'in' ? rule().oifname(bridge) : rule().iifname(bridge)
  const address = direction === 'in' ? 'daddr' : 'saddr'
  if (isV6(spec)) r.ip6(address, spec.targetHost)
  else r.ip(address, spec.targetHost)
  // The connection's original destination port is the forward's own: another forward to the same
  // target is a different connection's (ct original proto-dst, network order).
  const listenPort = Buffer.from([spec.listenPort >> 8, spec.listenPort & 0xff])
  return r
    .tcp(direction === 'in' ? 'dport' : 'sport', spec.targetPort)
    .expr(...ctStatusDnat(), new Ct('proto-dst', NFT_REG_1, 'original'), new Cmp('==', listenPort))
    .counter()
}

export class KernelForwards {
  constructor(
    readonly specs: readonly ForwardSpec[],
    readonly netns: string | undefined,
    readonly bridge: string,
  ) {}

  /**
   * Writes the table with one DNAT rule and two byte-counting rules per forward, replacing what a
   * previous run left, and the IPv6 table when a forward goes to an IPv6 address (one transaction).
   */
  async apply(): Promise<void> {
    const v6 = this.specs.filter(isV6)
    await this.#withNft((nft) =>
      nft.apply((tx) => {
        for (const table of v6.length ? [FORWARD_TABLE, FORWARD6_TABLE] : [FORWARD_TABLE]) {
          tx.addTable(table)
          tx.addChain({ table, name: 'prerouting', type: 'nat', hook: 'prerouting', priority: 'dstnat', policy: 'accept' })
          tx.addChain({ table, name: FORWARD_COUNT_CHAIN, type: 'filter', hook: 'forward', priority: 'filter', policy: 'accept' })
          tx.flushTable(table)
        }
        for (const spec of this.specs) {
          const table = isV6(spec) ? FORWARD6_TABLE : FORWARD_TABLE
          const comment = formatForward(spec)
          tx.addRule({
            table,
            chain: 'prerouting',
            comment,
            exprs: rule().iifname(this.bridge, '!=').tcp('dport', spec.listenPort).counter().dnat(spec.targetHost, spec.targetPort),
          })
          for (const direction of ['in', 'out'] as const) tx.addRule({ table, chain: FORWARD_COUNT_CHAIN, comment, exprs: bytesRule(spec, this.bridge, direction) })
        }
      }),
    )
  }

  /** Connections and bytes each way per forward (by its spec text), read from the rules' counters. */
  async counters(): Promise<Map<string, KernelForwardCounters>> {
    const tables = this.specs.some(isV6) ? [FORWARD_TABLE, FORWARD6_TABLE] : [FORWARD_TABLE]
    const [nat, bytes] = await this.#withNft((nft) =>
      Promise.all(['prerouting', FORWARD_COUNT_CHAIN].map(async (chain) => (await Promise.all(tables.map((table) => nft.rules({ table, chain })))).flat())),
    )
    const counters = new Map<string, KernelForwardCounters>()
    const of = (spec: string) => counters.get(spec) ?? counters.set(spec, { total: 0, bytesIn: 0, bytesOut: 0 }).get(spec)!
    for (const r of nat!) {
      const counter = r.exprs.find((e): e is Counter => e instanceof Counter)
      if (r.comment && counter) of(r.comment).total = Number(counter.packets)
    }
    for (const r of bytes!) {
      const counter = r.exprs.find((e): e is Counter => e instanceof Counter)
      // The rule's interface match tells its direction: out the bridge (to the VM) or in from it.
      const ifname = r.exprs.find((e): e is Meta => e instanceof Meta && (e.key === 'oifname' || e.key === 'iifname'))
      if (!r.comment || !counter || !ifname) continue
      of(r.comment)[ifname.key === 'oifname' ? 'bytesIn' : 'bytesOut'] = Number(counter.bytes)
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
