// The NAT and forwarding of slots, through nftables.
// Host side: one table whose rules match sets of slot veths and slot source addresses, so adding or
// removing a slot is one transaction that adds or removes two set elements (the seed adds three
// iptables rules per slot, each a full table replace). Slot side: SNAT guest -> slot address and
// DNAT host-reachable address -> guest, one transaction in the slot's namespace.
import { isNotFound } from '@lab/netlink-native'
import { Nft, rule, type SetSpec, type TableRef } from '@lab/nft'
import type { SlotAddressing, SlotRanges } from './addressing.js'
import type { EgressPolicy } from './egress.js'

export const HOST_TABLE: TableRef = { family: 'ip', name: 'lab-slots' }
export const SLOT_TABLE: TableRef = { family: 'ip', name: 'lab-slot' }
const VETHS: SetSpec = { table: HOST_TABLE, name: 'slot_veths', type: 'ifname' }
const SOURCES: SetSpec = { table: HOST_TABLE, name: 'slot_sources', type: 'ipv4_addr' }
/** Slot source address -> jump to the slot's egress chain; slots with `allow` have no element. */
const EGRESS: SetSpec = { table: HOST_TABLE, name: 'egress_policy', type: 'ipv4_addr', dataType: 'verdict' }
const egressChain = (s: SlotAddressing) => `egress_${s.index}`
const egressSet = (s: SlotAddressing): SetSpec => ({ table: HOST_TABLE, name: `egress_${s.index}`, type: 'ipv4_addr', flags: ['interval'] })

/** Veths of removed slots until they are down and renamed: everything through them is dropped. */
const RETIRED: SetSpec = { table: HOST_TABLE, name: 'slot_retired', type: 'ifname' }

/** For removals: an object that is gone already is what removal wants. */
function unlessGone(error: unknown): void {
  if (!isNotFound(error)) throw error
}

export class SlotNat {
  readonly #host: Nft

  private constructor(
    host: Nft,
    readonly uplink: string,
    readonly ranges: SlotRanges,
    readonly resolver: string | undefined,
  ) {
    this.#host = host
  }

  /** Ensures the host table, sets and rules exist (idempotent: rules are rewritten, sets kept). */
  static async open(hostNetns: string | undefined, uplink: string, ranges: SlotRanges, resolver?: string): Promise<SlotNat> {
    const host = await Nft.open({ netns: hostNetns })
    try {
      await host.apply((tx) => {
        tx.addTable(HOST_TABLE)
        tx.addChain({ table: HOST_TABLE, name: 'forward', type: 'filter', hook: 'forward', priority: 'filter', policy: 'accept' })
        tx.addChain({ table: HOST_TABLE, name: 'postrouting', type: 'nat', hook: 'postrouting', priority: 'srcnat', policy: 'accept' })
        tx.addChain({ table: HOST_TABLE, name: 'input', type: 'filter', hook: 'input', priority: 'filter', policy: 'accept' })
        tx.addChain({ table: HOST_TABLE, name: 'output', type: 'filter', hook: 'output', priority: 'filter', policy: 'accept' })
        tx.addSet(VETHS)
        tx.addSet(SOURCES)
        tx.addSet(RETIRED)
        tx.addSet(EGRESS)
        tx.flushChain({ table: HOST_TABLE, name: 'forward' })
        tx.flushChain({ table: HOST_TABLE, name: 'postrouting' })
        tx.flushChain({ table: HOST_TABLE, name: 'input' })
        tx.flushChain({ table: HOST_TABLE, name: 'output' })
        // A removed slot carries nothing from the moment its removal resolves (its veth is still up).
        tx.addRule({ table: HOST_TABLE, chain: 'forward', exprs: rule().iifname(`@${RETIRED.name}`).drop() })
        tx.addRule({ table: HOST_TABLE, chain: 'forward', exprs: rule().oifname(`@${RETIRED.name}`).drop() })
        tx.addRule({ table: HOST_TABLE, chain: 'input', exprs: rule().iifname(`@${RETIRED.name}`).drop() })
        tx.addRule({ table: HOST_TABLE, chain: 'output', exprs: rule().oifname(`@${RETIRED.name}`).drop() })
        // Slots are isolated from each other: a guest reaches the world and the host, not its neighbours.
        tx.addRule({ table: HOST_TABLE, chain: 'forward', exprs: rule().iifname(`@${VETHS.name}`).oifname(`@${VETHS.name}`).drop() })
        // A slot's egress policy: its chain drops what the policy forbids, or returns here.
        tx.addRule({ table: HOST_TABLE, chain: 'forward', exprs: rule().iifname(`@${VETHS.name}`).oifname(uplink).vmap('ip saddr', `@${EGRESS.name}`) })
        tx.addRule({ table: HOST_TABLE, chain: 'forward', exprs: rule().iifname(`@${VETHS.name}`).oifname(uplink).accept() })
        tx.addRule({ table: HOST_TABLE, chain: 'forward', exprs: rule().iifname(uplink).oifname(`@${VETHS.name}`).accept() })
        tx.addRule({ table: HOST_TABLE, chain: 'postrouting', exprs: rule().ip('saddr', `@${SOURCES.name}`).oifname(uplink).masquerade() })
      })
    } catch (error) {
      await host.close()
      throw error
    }
    return new SlotNat(host, uplink, ranges, resolver)
  }

  /** Adds the slot's rules: its own namespace's SNAT/DNAT, and the host's set elements. */
  async add(s: SlotAddressing): Promise<void> {
    await this.addInside(s)
    await this.addOnHost(s)
  }

  /** The slot namespace's SNAT/DNAT (one transaction); needs only the namespace, not its links. */
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

  async #flushQueued(): Promise<void> {
    const batch = this.#queued
    this.#queued = []
    try {
      await this.#host.apply((tx) => {
        tx.addElements(VETHS, batch.map(({ s }) => ({ key: s.vethName })))
        tx.addElements(SOURCES, batch.map(({ s }) => ({ key: s.peerAddress })))
      })
      for (const b of batch) b.resolve()
    } catch (error) {
      for (const b of batch) b.reject(error)
    }
  }

  /**
   * Removes the host's elements for the slot (missing ones are fine). The slot's own table goes
   * with its namespace, or with `delInside` where the namespace stays (CNI).
   */
  async del(s: SlotAddressing): Promise<void> {
    await this.#host.apply((tx) => {
      tx.destroyElements(VETHS, [{ key: s.vethName }])
      tx.destroyElements(SOURCES, [{ key: s.peerAddress }])
      this.#dropEgress(tx, s)
    })
  }

  /**
   * One transaction, no rtnl: the slot leaves the host sets (missing elements are fine) and its veth
   * joins the retired set, so nothing passes through it any more.
   */
  async retire(s: SlotAddressing): Promise<void> {
    await this.#host.apply((tx) => {
      tx.destroyElements(VETHS, [{ key: s.vethName }])
      tx.destroyElements(SOURCES, [{ key: s.peerAddress }])
      tx.addElements(RETIRED, [{ key: s.vethName }])
      this.#dropEgress(tx, s)
    })
  }

  /**
   * Sets the slot's egress policy in one transaction: its verdict-map element, its chain and its
   * set are replaced together, so no packet sees half a policy.
   */
  async setEgress(s: SlotAddressing, policy: EgressPolicy): Promise<void> {
    await this.#host.apply((tx) => {
      this.#dropEgress(tx, s)
      if (policy === 'allow') return
      const chain = { table: HOST_TABLE, name: egressChain(s) }
      tx.addChain(chain)
      if (typeof policy === 'object' && 'deny' in policy) {
        if (policy.deny.length > 0) {
          tx.addSet(egressSet(s))
          tx.addElements(egressSet(s), policy.deny.map((key) => ({ key })))
          tx.addRule({ ...chain, chain: chain.name, exprs: rule().ip('daddr', `@${egressSet(s).name}`).drop() })
        }
      } else {
        // Name resolution stays possible through the configured resolver.
        if (this.resolver) {
          tx.addRule({ ...chain, chain: chain.name, exprs: rule().ip('daddr', this.resolver).udp('dport', 53).accept() })
          tx.addRule({ ...chain, chain: chain.name, exprs: rule().ip('daddr', this.resolver).tcp('dport', 53).accept() })
        }
        if (typeof policy === 'object' && policy.allow.length > 0) {
          tx.addSet(egressSet(s))
          tx.addElements(egressSet(s), policy.allow.map((key) => ({ key })))
          tx.addRule({ ...chain, chain: chain.name, exprs: rule().ip('daddr', `@${egressSet(s).name}`).return() })
        }
        tx.addRule({ ...chain, chain: chain.name, exprs: rule().drop() })
      }
      tx.addElements(EGRESS, [{ key: s.peerAddress, value: { verdict: 'jump', chain: chain.name } }])
    })
  }

  /** Queues the removal of the slot's egress element, chain and set (absent ones are fine). */
  #dropEgress(tx: Parameters<Parameters<Nft['apply']>[0]>[0], s: SlotAddressing): void {
    // The kernel deletes by key; the value is there only because a map element is written with one.
    tx.destroyElements(EGRESS, [{ key: s.peerAddress, value: { verdict: 'accept' } }])
    // A chain must be empty, and a set unreferenced, before they go.
    tx.destroyChain({ table: HOST_TABLE, name: egressChain(s) })
    tx.destroySet(egressSet(s))
  }

  /** The retired veth is down and renamed (or gone): its name may serve a new slot. */
  async unretire(s: SlotAddressing): Promise<void> {
    await this.#host.apply((tx) => tx.destroyElements(RETIRED, [{ key: s.vethName }]))
  }

  /** Removes the slot table from the slot's namespace; a missing table or namespace is fine. */
  static async delInside(s: SlotAddressing): Promise<void> {
    let inner: Nft
    try {
      inner = await Nft.open({ netns: s.netns })
    } catch (error) {
      unlessGone(error)
      return
    }
    try {
      await inner.apply((tx) => tx.delTable(SLOT_TABLE)).catch(unlessGone)
    } finally {
      await inner.close()
    }
  }

  /** Makes the host sets hold exactly these slots (after a restart re-adopted them). */
  async syncTo(slots: SlotAddressing[]): Promise<void> {
    await this.#host.apply((tx) => {
      tx.flushSet(VETHS)
      tx.flushSet(SOURCES)
      tx.flushSet(RETIRED)
      tx.addElements(VETHS, slots.map((s) => ({ key: s.vethName })))
      tx.addElements(SOURCES, slots.map((s) => ({ key: s.peerAddress })))
    })
  }

  async close(): Promise<void> {
    await this.#host.close()
  }
}
