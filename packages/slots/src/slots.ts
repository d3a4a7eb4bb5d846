// Per-sandbox network slots: allocate an index, build the slot's namespace, veth, TAP, routes and
// NAT, and tear it all down again. A new Slots re-adopts slots that exist on the system.
import { readdirSync, existsSync } from 'node:fs'
import { ArgumentError, ipv4ToNumber, parseRate, Netlink, Netns, NETNS_RUN_DIR, isNotFound, resolveNetnsPath, silentLogger, type BatchResult, type Logger } from '@lab/netlink-native'
import { realClock, sleep } from '@lab/clock'
import { DEFAULT_RANGES, slotAddressing, validateRanges, type SlotAddressing, type SlotRanges } from './addressing.js'
import { SlotAllocator } from './allocator.js'
import { SLOTS_ERROR_CODES, SlotsError } from './errors.js'
import { publishSlot } from './events.js'
import { SlotNat } from './nat.js'
import { buildSlot, enableForwarding, tapWithoutDad, upWithForwarding } from './topology.js'
import { deleteConntrackOf, flushConntrack } from './conntrack.js'
import { validateEgress, type EgressPolicy } from './egress.js'
import { BUILDING_ALIAS, IDLE_ALIAS, type PoolOptions, type SlotsStatus } from './pool.js'
import { slotsMetrics, type SlotsMetrics } from './metrics.js'
import type { Registry } from 'prom-client'

export interface SlotsOptions extends Partial<SlotRanges> {
  /**
   * The namespace playing "host" (a name under /run/netns or a path). Omitted: this process's own
   * namespace, which then gets the slot veths and routes, the `ip lab-slots` nftables table and
   * net.ipv4.ip_forward=1.
   */
  hostNetns?: string
  /** The host's uplink interface; omitted: the interface of the host's IPv4 default route. */
  uplink?: string
  /** pino-shaped; omitted: nothing is logged. */
  logger?: Logger
  /**
   * A warm pool: slots made in the background up to `size`, handed out by `acquire()` without
   * kernel work and scrubbed by `release()`. Omitted: no pool (`acquire()` adds a slot).
   */
  pool?: PoolOptions
  /**
   * A DNS resolver slots may still reach on port 53 (UDP and TCP) under `deny` and `{ allow }`
   * egress policies; omitted: none.
   */
  resolver?: string
  /**
   * IPv6 for new slots too (default false): each gets the IPv6 addresses of `slotAddressing`
   * (`slot.ipv6`, ULA ranges `hostBase6`, `vethBase6`, `tapAddress6`, `guestAddress6`), NAT66 in
   * its namespace and on the host (the `ip6 lab-slots` table), and the host namespace gets
   * net.ipv6.conf.all.forwarding=1 (an uplink that took its routes from router advertisements,
   * accept_ra=1, is set to accept_ra=2 first, so it keeps them). Slots with IPv6 that exist
   * are adopted with it either way.
   */
  ipv6?: boolean
}

export interface SlotAddOptions {
  /** What the guest may reach through the uplink; default `allow`. */
  egress?: EgressPolicy
  /**
   * A rate limit each way ('100mbit', or bits per second): a tbf qdisc on the host veth (into the
   * slot) and on the slot's side of it (out of the slot). Omitted: unlimited.
   */
  rate?: string | number
}

export interface Slot extends SlotAddressing {
  uplink: string
}

export class Slots {
  readonly #metrics: SlotsMetrics
  readonly ranges: SlotRanges
  readonly uplink: string
  readonly hostNetns: string | undefined
  /** Whether new slots get IPv6. */
  readonly ipv6: boolean
  readonly #host: Netlink
  /** The host namespace as a path the slot's veth is made into from inside the slot. */
  readonly #hostNetnsPath: string
  readonly #nat: SlotNat
  readonly #allocator: SlotAllocator
  readonly #logger: Logger
  readonly #pending = new Map<number, Promise<void>>()
  readonly #pool: Required<PoolOptions> | undefined
  /** Ready pooled slots, handed out last-in first-out (the most recently scrubbed is warmest). */
  readonly #idle: Slot[] = []
  readonly #acquired = new Set<number>()
  /** Background work (refills, idle markers) that close() waits for. */
  readonly #background = new Set<Promise<unknown>>()
  #filling = 0
  /** Slots made with a rate limit (release removes it). */
  readonly #limited = new Set<number>()
  /** Slots whose egress policy is not `allow`. */
  readonly #egress = new Map<number, EgressPolicy>()
  /** Idle pool slots found at open() by an instance without a pool. */
  readonly #idleElsewhere = new Set<number>()
  #poolFull = false
  #refillError = false
  /** After flush(), until the next acquire(). */
  #suspended = false
  /** Host veths renamed out of the way by a removal, until the kernel has deleted them. */
  readonly #tombstones = new Set<string>()
  /** Indexes whose slot has IPv6 (made with it, or adopted with it). */
  readonly #v6 = new Set<number>()
  #tombstoneSeq = 0
  #closed = false

  private constructor(options: SlotsOptions, host: Netlink, uplink: string, nat: SlotNat, logger: Logger) {
    this.ranges = { ...DEFAULT_RANGES, ...stripUndefined(options) }
    this.hostNetns = options.hostNetns
    this.ipv6 = options.ipv6 === true
    this.uplink = uplink
    this.#host = host
    // The main thread's namespace (this process's, where the host handle's socket was made).
    this.#hostNetnsPath = options.hostNetns === undefined ? '/proc/self/ns/net' : resolveNetnsPath(options.hostNetns)
    this.#nat = nat
    this.#logger = logger
    this.#allocator = new SlotAllocator(this.ranges.maxSlots)
    this.#pool = options.pool && { reuse: true, ...options.pool }
    this.#metrics = slotsMetrics(() => this.status())
  }

  /**
   * Opens the slots of a host: ensures the host's nftables table and ip_forward, re-adopts the
   * slots that exist (namespaces with the prefix whose host veth exists) and finishes tearing down
   * half-made ones. Throws ArgumentError for bad ranges, SlotsError `LAB_ERR_SLOTS_NO_UPLINK`, or
   * the kernel's SystemError (`ENODEV: link get eth9` for a missing uplink).
   */
  static async open(options: SlotsOptions = {}): Promise<Slots> {
    const ranges = { ...DEFAULT_RANGES, ...stripUndefined(options) }
    validateRanges(ranges)
    if (options.resolver !== undefined) ipv4ToNumber(options.resolver, 'resolver')
    if (options.ipv6 !== undefined && typeof options.ipv6 !== 'boolean') throw new ArgumentError('ipv6', 'expected true or false')
    if (options.pool !== undefined) {
      const size = options.pool?.size
      // Larger than maxSlots is allowed: the pool then holds every free index.
      if (!Number.isInteger(size) || size < 0 || size > 65535) throw new ArgumentError('pool.size', 'an integer 0..65535')
    }
    const logger = options.logger ?? silentLogger
    const host = await Netlink.open({ netns: options.hostNetns })
    let nat: SlotNat | undefined
    try {
      const uplink = options.uplink ?? (await defaultUplink(host))
      await host.link.get(uplink)
      await enableForwarding(host, uplink, options.ipv6 === true)
      // Slots with IPv6 made by an earlier owner keep their IPv6 under an owner without it.
      const ipv6 = options.ipv6 === true || (await SlotNat.hasIpv6(options.hostNetns))
      nat = await SlotNat.open(options.hostNetns, uplink, ranges, options.resolver, ipv6)
      const slots = new Slots(options, host, uplink, nat, logger)
      await slots.#adopt()
      slots.#refill()
      return slots
    } catch (error) {
      await nat?.close()
      await host.close()
      throw error
    }
  }

  /** Indexes of existing slots: namespaces named with our prefix whose host veth exists. */
  async #adopt(): Promise<void> {
    const links = await this.#host.link.list()
    const idle = new Set(links.filter((l) => l.alias === IDLE_ALIAS).map((l) => l.name))
    // A veth that is not up, or still marked as being built, belongs to a slot whose owner died
    // while adding it: its other pieces may be missing.
    const complete = new Set(links.filter((l) => l.up && l.alias !== BUILDING_ALIAS).map((l) => l.name))
    // Which veths carry their slot's IPv6 address: those slots have IPv6 (one dump for all).
    const indexOf = new Map(links.map((l) => [l.name, l.index]))
    const v6Addresses = this.#nat.ipv6 ? new Set((await this.#host.addr.list({ family: 6 })).map((a) => `${a.index} ${a.address}`)) : new Set<string>()
    const doomed: SlotAddressing[] = []
    const prefix = this.ranges.netnsPrefix
    const names = existsSync(NETNS_RUN_DIR) ? readdirSync(NETNS_RUN_DIR) : []
    for (const name of names) {
      if (!name.startsWith(prefix)) continue
      const rest = name.slice(prefix.length)
      if (!/^\d+$/.test(rest)) continue
      const index = Number(rest)
      if (index < 1 || index > this.ranges.maxSlots) continue
      const plain = slotAddressing(this.ranges, index, true)
      const hasV6 = v6Addresses.has(`${indexOf.get(plain.vethName)} ${plain.ipv6!.vethAddress}`)
      // A half-made slot may have some IPv6 pieces: its teardown removes them too (absent ones are fine).
      const s = slotAddressing(this.ranges, index, hasV6 || (this.#nat.ipv6 && !complete.has(plain.vethName)))
      if (idle.has(s.vethName)) {
        // A pooled slot nobody had acquired (its owner died): back into our pool, or removed
        // when there is no room, so none is leaked.
        if (!this.#pool) {
          // Another process's pool, or one whose owner died: left as it is (a CLI listing slots
          // must not empty a running pool); a Slots opened with a pool takes it back.
          this.#allocator.adopt(index)
          if (hasV6) this.#v6.add(index)
          this.#idleElsewhere.add(index)
        } else if (this.#idle.length < this.#pool.size && hasV6 === this.ipv6) {
          // (A pooled slot of the other kind would hand out the wrong addresses: removed.)
          this.#allocator.adopt(index)
          if (hasV6) this.#v6.add(index)
          this.#idle.push({ ...s, uplink: this.uplink })
          this.#logger.info({ slot: index }, 'adopted an idle pooled slot')
        } else doomed.push(s)
      } else if (complete.has(s.vethName)) {
        this.#allocator.adopt(index)
        if (hasV6) this.#v6.add(index)
        this.#logger.info({ slot: index }, 'adopted existing slot')
      } else {
        // Half-made (the process died while adding it): finish the teardown instead of leaking.
        await this.#teardown(s)
        this.#logger.warn({ slot: index }, 'removed a half-made slot')
      }
    }
    await this.#nat.syncTo(this.#allocator.inUse.map((i) => this.#addressing(i)))
    for (const s of doomed) {
      await this.#teardown(s)
      this.#logger.info({ slot: s.index }, 'removed an idle pooled slot (no room in the pool)')
    }
  }

  /**
   * Adds a slot (the lowest free index) and returns its addressing. Adds may overlap (each slot
   * has its own namespace; the host's share is pipelined on one netlink socket and one nft
   * transaction per tick), so `Promise.all` of many adds finishes sooner than one by one.
   * Throws SlotsError `LAB_ERR_SLOTS_FULL` when every index is in use.
   */
  add(options: SlotAddOptions = {}): Promise<Slot> {
    let index: number
    let egress: EgressPolicy
    try {
      this.#checkOpen()
      egress = validateEgress(options.egress ?? 'allow')
      if (options.rate !== undefined) parseRate(options.rate, 'rate')
      index = this.#allocator.allocate()
    } catch (error) {
      // Failures reach the caller as a rejection, like every other failure of add().
      return Promise.reject(error)
    }
    return this.#create(index, false, egress, options.rate)
  }

  /** `idle`: made for the pool, marked idle in the same netlink batch that brings it up. */
  #create(index: number, idle: boolean, egress: EgressPolicy = 'allow', rate?: string | number): Promise<Slot> {
    return this.#serialize(index, async () => {
      const started = performance.now()
      if (this.ipv6) this.#v6.add(index)
      else this.#v6.delete(index)
      const s = this.#addressing(index)
      // The host's set elements and egress policy name the slot's veth and addresses, not kernel
      // objects: they are written while the namespace is being made (rules on the host for names
      // that do not exist yet match nothing). `rules` settles before any teardown below.
      const rules = (async () => {
        await this.#nat.addOnHost(s)
        if (egress !== 'allow') await this.#nat.setEgress(s, egress)
      })()
      rules.catch(() => undefined)
      try {
        if (rate !== undefined) this.#limited.add(index)
        // The namespace, then the slot's links and its own NAT rules (which need only the
        // namespace) together; ends with the host veth up (and, for the pool, marked idle): the
        // slot is complete, so every rule must be in place before.
        await buildSlot(this.#host, s, {
          hostNetnsPath: this.#hostNetnsPath,
          alias: idle ? IDLE_ALIAS : undefined,
          rate,
          alongside: () => this.#nat.addInside(s),
          before: rules,
        })
        if (egress !== 'allow') this.#egress.set(index, egress)
      } catch (error) {
        await rules.catch(() => undefined)
        await this.#teardown(s).catch((e: unknown) => this.#logger.error({ err: e, slot: index }, 'cleanup after a failed add failed'))
        this.#allocator.release(index)
        throw error
      }
      const slot = { ...s, uplink: this.uplink }
      this.#metrics.created(idle, (performance.now() - started) / 1000)
      this.#logger.info({ slot: index, netns: s.netns }, 'slot added')
      publishSlot({ action: 'added', hostNetns: this.hostNetns, slot })
      return slot
    })
  }

  /** Adds `count` slots, `concurrency` at a time (default 4). */
  async addMany(count: number, concurrency = 4): Promise<Slot[]> {
    const out: Slot[] = []
    let next = 0
    const worker = async () => {
      while (next < count) {
        next++
        out.push(await this.add())
      }
    }
    await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, count)) }, worker))
    return out.sort((a, b) => a.index - b.index)
  }

  /** The slot with this index, if this instance has it. */
  get(index: number): Slot | undefined {
    return this.#allocator.has(index) ? { ...this.#addressing(index), uplink: this.uplink } : undefined
  }

  list(): Slot[] {
    return this.#allocator.inUse.map((i) => ({ ...this.#addressing(i), uplink: this.uplink }))
  }

  /**
   * Removes a slot and everything it added on the host. Fails with SlotsError `ENOENT`
   * (`isNotFound(err)` is true) when there is no such slot; `destroy` does not.
   */
  del(index: number): Promise<void> {
    return this.#remove(index, true)
  }

  /** Removes a slot and whatever is left of it; nothing to remove is fine. */
  destroy(index: number): Promise<void> {
    return this.#remove(index, false)
  }

  #remove(index: number, mustExist: boolean): Promise<void> {
    try {
      this.#checkOpen()
      slotAddressing(this.ranges, index) // checks the index
    } catch (error) {
      return Promise.reject(error)
    }
    // In order with an add of the same index still under way, so the check sees its outcome.
    return this.#serialize(index, async () => {
      const existed = this.#allocator.has(index)
      // A slot we do not know of may still have IPv6 pieces when the host keeps IPv6 tables.
      const s = existed ? this.#addressing(index) : slotAddressing(this.ranges, index, this.#nat.ipv6)
      if (mustExist && !existed) throw new SlotsError(SLOTS_ERROR_CODES.notFound, `ENOENT: slot del ${index} (no such slot)`)
      const pooled = this.#idle.findIndex((p) => p.index === index)
      if (pooled >= 0) this.#idle.splice(pooled, 1)
      this.#acquired.delete(index)
      const started = performance.now()
      await this.#teardown(s)
      if (existed) this.#metrics.destroyed((performance.now() - started) / 1000)
      this.#allocator.release(index)
      this.#poolFull = false
      this.#refillError = false
      this.#refill()
      if (!existed) return
      this.#logger.info({ slot: index }, 'slot removed')
      publishSlot({ action: 'removed', hostNetns: this.hostNetns, slot: { ...s, uplink: this.uplink } })
    })
  }

  /** Destroys these slots, `concurrency` at a time (default 8: the kernel's wait for a deleted
   *  veth to quiesce then overlaps). */
  async destroyMany(indexes: number[], concurrency = 8): Promise<void> {
    const queue = [...indexes]
    const worker = async () => {
      for (let index = queue.shift(); index !== undefined; index = queue.shift()) await this.destroy(index)
    }
    await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, queue.length)) }, worker))
  }

  /**
   * Removes every slot this instance has, the pool's included; the host's table and the instance
   * stay. The pool stays empty until the next `acquire()`.
   */
  async flush(): Promise<void> {
    this.#suspended = true
    while (this.#background.size > 0) await Promise.allSettled([...this.#background])
    await this.destroyMany(this.#allocator.inUse)
  }

  /** Closes the netlink and nftables handles; the slots stay (a later open re-adopts them). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    // Refills under way finish (or fail) first: their handles are the ones closed here.
    while (this.#background.size > 0) await Promise.allSettled([...this.#background])
    await this.#nat.close()
    await this.#host.close()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  #checkOpen(): void {
    if (this.#closed) throw new SlotsError(SLOTS_ERROR_CODES.closed, 'slots: used after close()')
  }

  /**
   * Makes the slot unable to carry traffic and leaves the slow part to the kernel. Deleting a veth
   * waits for RCU grace periods (~30 ms here), and the kernel's cleanup of dead namespaces holds
   * the rtnl lock through its own waits, so any rtnetlink request made meanwhile waits too; even
   * unmounting the namespace's name waits for a grace period. The caller therefore waits only for
   * one nftables transaction (no rtnl: the host sets drop the slot and its veth joins the retired
   * set, whose rules drop everything through it, forwarded or to and from the host). The rest runs
   * in the background, in order with later work on the same index (a new slot there waits for it):
   * the namespace's name is removed, and the veth goes down, loses its route and address and is
   * renamed out of the way, unless the kernel has deleted it with its namespace already (the
   * pair goes when the namespace dies, batched with every other namespace that died meanwhile).
   * A process still inside the namespace (a VM not yet gone) keeps it alive, with a veth that is
   * down and in no set. `settled()` waits until the kernel has deleted the veths.
   */
  async #teardown(s: SlotAddressing): Promise<void> {
    await this.#nat.retire(s)
    this.#egress.delete(s.index)
    this.#limited.delete(s.index)
    this.#chain(s.index, this.#track(this.#retireLinks(s)))
  }

  async #retireLinks(s: SlotAddressing): Promise<void> {
    // Removing the name unmounts it, which waits for an RCU grace period (10-40 ms here under load).
    await Netns.destroy(s.netns)
    const link = await this.#host.link.get(s.vethName).catch((error: unknown) => {
      if (isNotFound(error)) return undefined // never made, or deleted with its namespace already
      throw error
    })
    if (link) {
      const tombstone = `lsgone${(this.#tombstoneSeq++ % 0x10000).toString(16)}${(process.pid % 0x1000).toString(16)}`
      const results: BatchResult[] = await this.#host.batch(
        (b) => {
          b.route.del({ dst: `${s.hostReachableIP}/32` })
          b.addr.del(link.index, `${s.vethAddress}/31`)
          if (s.ipv6) {
            b.route.del({ dst: `${s.ipv6.hostReachableIP}/128` })
            b.addr.del(link.index, `${s.ipv6.vethAddress}/127`)
          }
          // A link must be down to be renamed.
          b.link.set(link.index, { up: false, alias: '' })
          b.link.set(link.index, { name: tombstone })
        },
        { throwOnError: false },
      )
      for (const r of results) if (!r.ok && !isNotFound(r.error)) throw r.error
      this.#tombstones.add(tombstone)
    }
    // The name is free: a new slot with this index may use it (and be matched by the sets).
    await this.#nat.unretire(s)
    // The host's conntrack entries of the slot (masqueraded, DNATed) would otherwise outlive it and
    // meet the next slot with this index.
    await deleteConntrackOf(this.hostNetns, hostFlowAddresses(s))
  }

  /** Later work on this index waits for `work` too (and for what it waited for before). */
  #chain(index: number, work: Promise<unknown>): void {
    const before = this.#pending.get(index) ?? Promise.resolve()
    const next = Promise.allSettled([before, work]).then(() => undefined)
    this.#pending.set(index, next)
    void next.then(() => {
      if (this.#pending.get(index) === next) this.#pending.delete(index)
    })
  }

  /**
   * Changes a slot's egress policy in one nftables transaction; new packets meet it at once.
   * Fails with SlotsError `ENOENT` for a slot this instance does not have.
   */
  setEgress(index: number, policy: EgressPolicy): Promise<void> {
    let checked: EgressPolicy
    try {
      this.#checkOpen()
      checked = validateEgress(policy)
      if (!this.#allocator.has(index)) throw new SlotsError(SLOTS_ERROR_CODES.notFound, `ENOENT: slot set egress ${index} (no such slot)`)
    } catch (error) {
      return Promise.reject(error)
    }
    return this.#serialize(index, async () => {
      await this.#nat.setEgress(this.#addressing(index), checked)
      if (checked === 'allow') this.#egress.delete(index)
      else this.#egress.set(index, checked)
    })
  }

  /** The slot's egress policy (`allow` unless set otherwise by this instance). */
  egress(index: number): EgressPolicy {
    return this.#egress.get(index) ?? 'allow'
  }

  /**
   * Resolves when the background work is done and the kernel has deleted the veths of every slot
   * removed so far (their namespaces' cleanup ran), or rejects after `timeoutMs` (default 30 s) naming what is left.
   */
  async settled(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    // Background work first (conntrack clean-up of removed slots, idle markers, refills).
    while (this.#background.size > 0) await Promise.allSettled([...this.#background])
    for (;;) {
      const names = new Set((await this.#host.link.list()).map((l) => l.name))
      for (const t of this.#tombstones) if (!names.has(t)) this.#tombstones.delete(t)
      if (this.#tombstones.size === 0) return
      if (Date.now() > deadline) throw new SlotsError(SLOTS_ERROR_CODES.busy, `slots: removed veths still there after ${timeoutMs} ms: ${[...this.#tombstones].join(', ')} (a process inside their namespace?)`)
      await sleep(realClock, 20)
    }
  }

  // --- the warm pool -----------------------------------------------------------------------------

  /**
   * Hands out a slot from the warm pool at once (no kernel work: the pool's idle marker is cleared
   * in the background) and starts a refill. With the pool empty, or without a pool, adds one.
   * Throws SlotsError `LAB_ERR_SLOTS_FULL` when no slot is idle and every index is in use.
   */
  acquire(): Promise<Slot> {
    try {
      this.#checkOpen()
    } catch (error) {
      return Promise.reject(error)
    }
    this.#suspended = false
    const slot = this.#idle.pop()
    if (slot) {
      this.#acquired.add(slot.index)
      // Not even a sendmsg on this path: clearing the idle marker and the refill start on the next
      // turn of the loop (close() waits for both).
      this.#track(
        new Promise((resolve) => setImmediate(resolve)).then(() => {
          this.#refill()
          return this.#mark(slot, '')
        }),
      )
      return Promise.resolve(slot)
    }
    return this.add().then((s) => {
      this.#acquired.add(s.index)
      return s
    })
  }

  /**
   * Scrubs a slot and returns it to the pool: its conntrack entries (in its namespace and the host's)
   * are deleted, its TAP re-created if a process still holds it open, and it is marked idle. With
   * the pool full, `reuse: false` or no pool, the slot is destroyed instead. Fails with SlotsError
   * `ENOENT` for a slot this instance does not have.
   */
  release(slot: Slot | number): Promise<void> {
    const index = typeof slot === 'number' ? slot : slot.index
    try {
      this.#checkOpen()
      if (!this.#allocator.has(index) || this.#idle.some((p) => p.index === index)) {
        throw new SlotsError(SLOTS_ERROR_CODES.notFound, `ENOENT: slot release ${index} (not in use)`)
      }
    } catch (error) {
      return Promise.reject(error)
    }
    const pool = this.#pool
    // A refill under way is not counted: a scrubbed slot is cheaper than a new one, and a refill that
    // ends in a full pool removes its slot.
    if (!pool || !pool.reuse || this.#idle.length >= pool.size) return this.destroy(index)
    return this.#serialize(index, async () => {
      const s = this.#addressing(index)
      try {
        await this.#scrub(s)
      } catch (error) {
        // A slot that cannot be scrubbed must not reach the next sandbox: remove it instead.
        this.#logger.warn({ err: error, slot: index }, 'scrubbing a released slot failed: removing it')
        this.#acquired.delete(index)
        await this.#teardown(s)
        this.#allocator.release(index)
        this.#refill()
        return
      }
      this.#acquired.delete(index)
      const ready = { ...s, uplink: this.uplink }
      await this.#mark(ready, IDLE_ALIAS)
      if (this.#idle.length < pool.size && !this.#closed) this.#idle.push(ready)
      else {
        await this.#teardown(s)
        this.#allocator.release(index)
      }
    })
  }

  /**
   * The slots' Prometheus metrics (`lab_slots_*`: slots in use and idle, create and destroy
   * latency) in a registry of this instance's own; nothing is registered globally.
   */
  metrics(): Registry {
    return this.#metrics.registry
  }

  /** What the pool and the slots are doing, for status pages and `lab-slots pool`. */
  status(): SlotsStatus {
    const inUse = this.#allocator.inUse.length
    return {
      slots: inUse,
      idle: this.#pool ? this.#idle.map((s) => s.index).sort((a, b) => a - b) : [...this.#idleElsewhere].filter((i) => this.#allocator.has(i)).sort((a, b) => a - b),
      free: this.ranges.maxSlots - inUse,
      maxSlots: this.ranges.maxSlots,
      pool: this.#pool && {
        size: this.#pool.size,
        reuse: this.#pool.reuse,
        idle: this.#idle.length,
        filling: this.#filling,
        acquired: this.#acquired.size,
      },
    }
  }

  async #scrub(s: SlotAddressing): Promise<void> {
    // Per-slot rules back to the pool's default; always, since a policy set before a restart is
    // in the kernel but not in this instance's map.
    await this.#nat.setEgress(s, 'allow')
    this.#egress.delete(s.index)
    const inner = await Netlink.open({ netns: s.netns })
    try {
      if (this.#limited.has(s.index)) {
        // The pool's slots are unlimited: the next sandbox must not inherit this one's rate.
        await this.#host.qdisc.del({ interface: s.vethName })
        await inner.qdisc.del({ interface: s.peerName })
        this.#limited.delete(s.index)
      }
      // A TAP has carrier while some process holds it open: a guest's VMM that is still around
      // would get the next sandbox's frames. Re-create it so the next guest gets a fresh one.
      const tap = await inner.link.get(s.tapName)
      if (tap.carrier) {
        await inner.link.del(s.tapName)
        await inner.link.add({ name: s.tapName, kind: 'tap' })
        if (s.ipv6) await tapWithoutDad(inner, s)
        await inner.batch((b) => {
          b.addr.add(s.tapName, `${s.tapAddress}/${s.tapPrefixLength}`)
          if (s.ipv6) b.addr.add(s.tapName, `${s.ipv6.tapAddress}/${s.ipv6.tapPrefixLength}`, { nodad: true })
          // A new link starts with forwarding off (the namespace's default): on, as buildSlot has it.
          upWithForwarding(b, s.tapName)
        })
      }
    } finally {
      await inner.close()
    }
    // Then the flows, once no old holder of the TAP can make new ones: the guest's own flows live
    // in the slot namespace (its SNAT/DNAT), their masqueraded and DNATed halves in the host's.
    await Promise.all([flushConntrack(s.netns), deleteConntrackOf(this.hostNetns, hostFlowAddresses(s))])
  }

  /** Sets the host veth's alias: the idle marker a restarted owner finds its pool by. */
  #mark(s: SlotAddressing, alias: string): Promise<void> {
    return this.#host.link.set(s.vethName, { alias })
  }

  /** Runs `work` in the background: close() and settled() wait for it, failures are logged. */
  #track(work: Promise<unknown>): Promise<void> {
    const tracked = work.then(
      () => undefined,
      (error: unknown) => this.#logger.error({ err: error }, 'slots: background work failed'),
    )
    this.#background.add(tracked)
    void tracked.then(() => this.#background.delete(tracked))
    return tracked
  }

  /** Starts background creations until the pool holds `size` slots; never more than two at once,
   *  so callers' own adds keep their share of the kernel, and never past `maxSlots`. */
  #refill(): void {
    const pool = this.#pool
    if (!pool || this.#closed || this.#suspended) return
    while (!this.#poolFull && !this.#refillError && this.#filling < 2 && this.#idle.length + this.#filling < pool.size) {
      let index: number
      try {
        index = this.#allocator.allocate()
      } catch {
        // Every index is in use: the pool stays smaller until a slot is removed (del, destroy).
        this.#poolFull = true
        return
      }
      this.#filling++
      this.#track(
        this.#create(index, true)
          .then(
            async (slot) => {
              if (this.#closed) return // stays marked idle: the next open takes it back
              if (this.#idle.length < pool.size) return void this.#idle.push(slot)
              // Releases filled the pool meanwhile.
              await this.destroy(slot.index)
            },
            (error: unknown) => {
              // Not retried in a loop: the next release or removal tries again.
              this.#refillError = true
              throw error
            },
          )
          .finally(() => {
            this.#filling--
            this.#refill()
          }),
      )
    }
  }

  /** Slot `index`'s addressing, with IPv6 when that slot has it. */
  #addressing(index: number): SlotAddressing {
    return slotAddressing(this.ranges, index, this.#v6.has(index))
  }

  /** Work on one slot index runs in order (a removal waits for the add of the same slot). */
  #serialize<T>(index: number, work: () => Promise<T>): Promise<T> {
    const before = this.#pending.get(index) ?? Promise.resolve()
    const run = before.then(work, work)
    // Only the order is tracked here; each caller gets `run` and its outcome.
    const settled = run.then(
      () => undefined,
      () => undefined,
    )
    this.#pending.set(index, settled)
    void settled.then(() => {
      if (this.#pending.get(index) === settled) this.#pending.delete(index)
    })
    return run
  }
}

/** The slot's addresses as the host's conntrack sees them: its masqueraded source, its DNATed destination. */
function hostFlowAddresses(s: SlotAddressing): string[] {
  return s.ipv6 ? [s.peerAddress, s.hostReachableIP, s.ipv6.peerAddress, s.ipv6.hostReachableIP] : [s.peerAddress, s.hostReachableIP]
}

async function defaultUplink(host: Netlink): Promise<string> {
  const routes = await host.route.list({ family: 4 })
  const def = routes.find((r) => r.dst === 'default' && r.index !== undefined)
  if (!def) throw new SlotsError(SLOTS_ERROR_CODES.noUplink, 'no IPv4 default route in the host namespace: pass { uplink }')
  return (await host.link.get(def.index!)).name
}

function stripUndefined<T extends object>(o: T): Partial<SlotRanges> {
  const out: Record<string, unknown> = {}
  for (const key of Object.keys(DEFAULT_RANGES)) {
    const value = (o as Record<string, unknown>)[key]
    if (value !== undefined) out[key] = value
  }
  return out as Partial<SlotRanges>
}
