// The NAT and forwarding of slots, through nftables.
// Host side: one table whose rules match sets of slot veths and slot source addresses, so adding or
// removing a slot is one transaction that adds or removes two set elements (the seed adds three
// iptables rules per slot, each a full table replace). Slot side: SNAT guest -> slot address and
// DNAT host-reachable address -> guest, one transaction in the slot's namespace.
import { isNotFound } from '@lab/netlink-native'
import { Nft, rule, type RuleBuilder, type SetSpec, type TableRef, type Transaction } from '@lab/nft'
import type { SlotAddressing, SlotRanges } from './addressing.js'
import { cidrsOf, type EgressPolicy } from './egress.js'

export const HOST_TABLE: TableRef = { family: 'ip', name: 'lab-slots' }
export const SLOT_TABLE: TableRef = { family: 'ip', name: 'lab-slot' }
/** IPv6 twins of the tables above, same names and shape (NAT66), used when slots have IPv6. */
export const HOST_TABLE6: TableRef = { family: 'ip6', name: 'lab-slots' }
export const SLOT_TABLE6: TableRef = { family: 'ip6', name: 'lab-slot' }

/** One address family's host table and sets, and how its rules match an address. */
interface FamilyTables {
  family: 4 | 6
  table: TableRef
  veths: SetSpec
  sources: SetSpec
  /** Slot source address -> jump to the slot's egress chain; slots with `allow` have no element. */
  egress: SetSpec
  /** Veths of removed slots until they are down and renamed: everything through them is dropped. */
  retired: SetSpec
  match(r: RuleBuilder, field: 'saddr' | 'daddr', value: string): RuleBuilder
}

function familyTables(table: TableRef, family: 4 | 6): FamilyTables {
  const addr = family === 4 ? 'ipv4_addr' : 'ipv6_addr'
  return {
    family,
    table,
    veths: { table, name: 'slot_veths', type: 'ifname' },
    sources: { table, name: 'slot_sources', type: addr },
    egress: { table, name: 'egress_policy', type: addr, dataType: 'verdict' },
    retired: { table, name: 'slot_retired', type: 'ifname' },
    match: (r, field, value) => (family === 4 ? r.ip(field, value) : r.ip6(field, value)),
  }
}

const V4 = familyTables(HOST_TABLE, 4)
const V6 = familyTables(HOST_TABLE6, 6)
const egressChain = (s: SlotAddressing) => `egress_${s.index}`
const egressSet = (f: FamilyTables, s: SlotAddressing): SetSpec => ({ table: f.table, name: `egress_${s.index}`, type: f.sources.type, flags: ['interval'] })

/** The slot's source address (after its SNAT) in this family; undefined: the slot has none. */
function sourceOf(f: FamilyTables, s: SlotAddressing): string | undefined {
  return f.family === 4 ? s.peerAddress : s.ipv6?.peerAddress
}

/** For removals: an object that is gone already is what removal wants. */
function unlessGone(error: unknown): void {
  if (!isNotFound(error)) throw error
}

/** The host table's chains and rules of one family (its sets are kept, its chains rewritten). */
function writeHostTable(tx: Transaction, f: FamilyTables, uplink: string): void {
  const t = f.table
  tx.addTable(t)
  tx.addChain({ table: t, name: 'forward', type: 'filter', hook: 'forward', priority: 'filter', policy: 'accept' })
  tx.addChain({ table: t, name: 'postrouting', type: 'nat', hook: 'postrouting', priority: 'srcnat', policy: 'accept' })
  tx.addChain({ table: t, name: 'input', type: 'filter', hook: 'input', priority: 'filter', policy: 'accept' })
  tx.addChain({ table: t, name: 'output', type: 'filter', hook: 'output', priority: 'filter', policy: 'accept' })
  tx.addSet(f.veths)
  tx.addSet(f.sources)
  tx.addSet(f.retired)
  tx.addSet(f.egress)
  tx.flushChain({ table: t, name: 'forward' })
  tx.flushChain({ table: t, name: 'postrouting' })
  tx.flushChain({ table: t, name: 'input' })
  tx.flushChain({ table: t, name: 'output' })
  // A removed slot carries nothing from the moment its removal resolves (its veth is still up).
  tx.addRule({ table: t, chain: 'forward', exprs: rule().iifname(`@${f.retired.name}`).drop() })
  tx.addRule({ table: t, chain: 'forward', exprs: rule().oifname(`@${f.retired.name}`).drop() })
  tx.addRule({ table: t, chain: 'input', exprs: rule().iifname(`@${f.retired.name}`).drop() })
  tx.addRule({ table: t, chain: 'output', exprs: rule().oifname(`@${f.retired.name}`).drop() })
  // Slots are isolated from each other: a guest reaches the world and the host, not its neighbours.
  tx.addRule({ table: t, chain: 'forward', exprs: rule().iifname(`@${f.veths.name}`).oifname(`@${f.veths.name}`).drop() })
  // A slot's egress policy: its chain drops what the policy forbids, or returns here.
  tx.addRule({ table: t, chain: 'forward', exprs: rule().iifname(`@${f.veths.name}`).oifname(uplink).vmap(f.family === 4 ? 'ip saddr' : 'ip6 saddr', `@${f.egress.name}`) })
  tx.addRule({ table: t, chain: 'forward', exprs: rule().iifname(`@${f.veths.name}`).oifname(uplink).accept() })
  tx.addRule({ table: t, chain: 'forward', exprs: rule().iifname(uplink).oifname(`@${f.veths.name}`).accept() })
  tx.addRule({ table: t, chain: 'postrouting', exprs: f.match(rule(), 'saddr', `@${f.sources.name}`).oifname(uplink).masquerade() })
}

export class SlotNat {
  readonly #host: Nft
  /** The families whose host tables this instance keeps: IPv4, and IPv6 when opened with it. */
  readonly #families: FamilyTables[]

  private constructor(
    host: Nft,
    readonly uplink: string,
    readonly ranges: SlotRanges,
    readonly resolver: string | undefined,
    /** Whether the host's `ip6 lab-slots` table is kept (slots with IPv6 need it). */
    readonly ipv6: boolean,
  ) {
    this.#host = host
    this.#families = ipv6 ? [V4, V6] : [V4]
  }

  /**
   * Ensures the host tables, sets and rules exist (idempotent: rules are rewritten, sets kept),
   * IPv4's and, with `ipv6`, IPv6's, in one transaction.
   */
  static async open(hostNetns: string | undefined, uplink: string, ranges: SlotRanges, resolver?: string, ipv6 = false): Promise<SlotNat> {
    const host = await Nft.open({ netns: hostNetns })
    try {
      await host.apply((tx) => {
        writeHostTable(tx, V4, uplink)
        if (ipv6) writeHostTable(tx, V6, uplink)
      })
    } catch (error) {
      await host.close()
      throw error
    }
    return new SlotNat(host, uplink, ranges, resolver, ipv6)
  }

  /** Whether the host namespace has an IPv6 slots table (a slot owner with IPv6 made it). */
  static async hasIpv6(hostNetns: string | undefined): Promise<boolean> {
    const host = await Nft.open({ netns: hostNetns })
    try {
      return (await host.tables('ip6')).some((t) => t.name === HOST_TABLE6.name)
    } finally {
      await host.close()
    }
  }

  /** Adds the slot's rules: its own namespace's SNAT/DNAT, and the host's set elements. */
  async add(s: SlotAddressing): Promise<void> {
    await this.addInside(s)
    await this.addOnHost(s)
  }

  /**
   * The slot namespace's SNAT/DNAT, IPv4's and (for a slot with IPv6) NAT66's, in one transaction;
   * needs only the namespace, not its links.
   */
  async addInside(s: SlotAddressing): Promise<void> {
    const inner = await Nft.open({ netns: s.netns })
    try {
      await inner.apply((tx) => {
        tx.addTable(SLOT_TABLE)
        tx.addChain({ table: SLOT_TABLE, name: 'postrouting', type: 'nat', hook: 'postrouting', priority: 'srcnat' })
        tx.addChain({ table: SLOT_TABLE, name: 'prerouting', type: 'nat', hook: 'prerouting', priority: 'dstnat' })
        tx.flushTable(SLOT_TABLE)
        tx.addRule({ table: SLOT_TABLE, chain: 'postrouting', exprs: rule().oifname(s.peerName).ip('saddr', s.guestIP).snat(s.peerAddress) })
        tx.addRule({ table: SLOT_TABLE, chain: 'prerouting', exprs: rule().iifname(s.peerName).ip('daddr', s.hostReachableIP).dnat(s.guestIP) })
        const v6 = s.ipv6
        if (v6) {
          tx.addTable(SLOT_TABLE6)
          tx.addChain({ table: SLOT_TABLE6, name: 'postrouting', type: 'nat', hook: 'postrouting', priority: 'srcnat' })
          tx.addChain({ table: SLOT_TABLE6, name: 'prerouting', type: 'nat', hook: 'prerouting', priority: 'dstnat' })
          tx.flushTable(SLOT_TABLE6)
          tx.addRule({ table: SLOT_TABLE6, chain: 'postrouting', exprs: rule().oifname(s.peerName).ip6('saddr', v6.guestIP).snat(v6.peerAddress) })
          tx.addRule({ table: SLOT_TABLE6, chain: 'prerouting', exprs: rule().iifname(s.peerName).ip6('daddr', v6.hostReachableIP).dnat(v6.guestIP) })
        }
      })
    } finally {
      await inner.close()
    }
  }

  #queued: Array<{ s: SlotAddressing; resolve: () => void; reject: (e: unknown) => void }> = []

  /** The host's set elements for the slot; slots added in the same tick share one transaction. */
  addOnHost(s: SlotAddressing): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#queued.push({ s, resolve, reject })
      if (this.#queued.length === 1) setImmediate(() => void this.#flushQueued())
    })
  }

  /** The families of a slot: IPv4, and IPv6 when it has IPv6 (and this instance keeps its table). */
  #of(s: SlotAddressing): FamilyTables[] {
    return s.ipv6 && this.ipv6 ? this.#families : [V4]
  }

  async #flushQueued(): Promise<void> {
    const batch = this.#queued
    this.#queued = []
    try {
      await this.#host.apply((tx) => {
        for (const f of this.#families) {
          const mine = batch.filter(({ s }) => this.#of(s).includes(f))
          if (mine.length === 0) continue
          tx.addElements(f.veths, mine.map(({ s }) => ({ key: s.vethName })))
          tx.addElements(f.sources, mine.map(({ s }) => ({ key: sourceOf(f, s)! })))
        }
      })
      for (const b of batch) b.resolve()
    } catch (error) {
      for (const b of batch) b.reject(error)
    }
  }

  /**
   * Removes the host's elements for the slot (missing ones are fine). The slot's own tables go
   * with its namespace, or with `delInside` where the namespace stays (CNI).
   */
  async del(s: SlotAddressing): Promise<void> {
    await this.#host.apply((tx) => {
      for (const f of this.#of(s)) {
        tx.destroyElements(f.veths, [{ key: s.vethName }])
        tx.destroyElements(f.sources, [{ key: sourceOf(f, s)! }])
        this.#dropEgress(tx, f, s)
      }
    })
  }

  /**
   * One transaction, no rtnl: the slot leaves the host sets (missing elements are fine) and its veth
   * joins the retired sets, so nothing passes through it any more, IPv4 or IPv6.
   */
  async retire(s: SlotAddressing): Promise<void> {
    await this.#host.apply((tx) => {
      for (const f of this.#of(s)) {
        tx.destroyElements(f.veths, [{ key: s.vethName }])
        tx.destroyElements(f.sources, [{ key: sourceOf(f, s)! }])
        this.#dropEgress(tx, f, s)
      }
      // Every family this instance keeps: the veth may carry the other one's packets still.
      for (const f of this.#families) tx.addElements(f.retired, [{ key: s.vethName }])
    })
  }

  /**
   * Sets the slot's egress policy in one transaction: its verdict-map elements, chains and sets
   * (one of each per address family) are replaced together, so no packet sees half a policy.
   */
  async setEgress(s: SlotAddressing, policy: EgressPolicy): Promise<void> {
    await this.#host.apply((tx) => {
      for (const f of this.#of(s)) {
        this.#dropEgress(tx, f, s)
        if (policy !== 'allow') this.#writeEgress(tx, f, s, policy)
      }
    })
  }

  #writeEgress(tx: Transaction, f: FamilyTables, s: SlotAddressing, policy: Exclude<EgressPolicy, 'allow'>): void {
    const chain = { table: f.table, chain: egressChain(s) }
    const set = egressSet(f, s)
    tx.addChain({ table: f.table, name: chain.chain })
    if (typeof policy === 'object' && 'deny' in policy) {
      const deny = cidrsOf(policy.deny, f.family)
      if (deny.length > 0) {
        tx.addSet(set)
        tx.addElements(set, deny.map((key) => ({ key })))
        tx.addRule({ ...chain, exprs: f.match(rule(), 'daddr', `@${set.name}`).drop() })
      }
    } else {
      // Name resolution stays possible through the configured resolver (of this family).
      if (this.resolver && this.resolver.includes(':') === (f.family === 6)) {
        tx.addRule({ ...chain, exprs: f.match(rule(), 'daddr', this.resolver).udp('dport', 53).accept() })
        tx.addRule({ ...chain, exprs: f.match(rule(), 'daddr', this.resolver).tcp('dport', 53).accept() })
      }
      const allow = typeof policy === 'object' ? cidrsOf(policy.allow, f.family) : []
      if (allow.length > 0) {
        tx.addSet(set)
        tx.addElements(set, allow.map((key) => ({ key })))
        tx.addRule({ ...chain, exprs: f.match(rule(), 'daddr', `@${set.name}`).return() })
      }
      tx.addRule({ ...chain, exprs: rule().drop() })
    }
    tx.addElements(f.egress, [{ key: sourceOf(f, s)!, value: { verdict: 'jump', chain: chain.chain } }])
  }

  /** Queues the removal of the slot's egress element, chain and set of one family (absent ones are fine). */
  #dropEgress(tx: Transaction, f: FamilyTables, s: SlotAddressing): void {
    // The kernel deletes by key; the value is there only because a map element is written with one.
    tx.destroyElements(f.egress, [{ key: sourceOf(f, s)!, value: { verdict: 'accept' } }])
    // A chain must be empty, and a set unreferenced, before they go.
    tx.destroyChain({ table: f.table, name: egressChain(s) })
    tx.destroySet(egressSet(f, s))
  }

  /** The retired veth is down and renamed (or gone): its name may serve a new slot. */
  async unretire(s: SlotAddressing): Promise<void> {
    await this.#host.apply((tx) => {
      for (const f of this.#families) tx.destroyElements(f.retired, [{ key: s.vethName }])
    })
  }

  /** Removes the slot tables from the slot's namespace; missing tables or namespace are fine. */
  static async delInside(s: SlotAddressing): Promise<void> {
    let inner: Nft
    try {
      inner = await Nft.open({ netns: s.netns })
    } catch (error) {
      unlessGone(error)
      return
    }
    try {
      await inner.apply((tx) => {
        tx.destroyTable(SLOT_TABLE)
        tx.destroyTable(SLOT_TABLE6)
      })
    } finally {
      await inner.close()
    }
  }

  /** Makes the host sets hold exactly these slots (after a restart re-adopted them). */
  async syncTo(slots: SlotAddressing[]): Promise<void> {
    await this.#host.apply((tx) => {
      for (const f of this.#families) {
        const mine = slots.filter((s) => this.#of(s).includes(f))
        tx.flushSet(f.veths)
        tx.flushSet(f.sources)
        tx.flushSet(f.retired)
        tx.addElements(f.veths, mine.map((s) => ({ key: s.vethName })))
        tx.addElements(f.sources, mine.map((s) => ({ key: sourceOf(f, s)! })))
      }
    })
  }

  async close(): Promise<void> {
    await this.#host.close()
  }
}
