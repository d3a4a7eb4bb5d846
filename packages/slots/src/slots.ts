// Per-sandbox network slots: allocate an index, build the slot's namespace, veth, TAP, routes and
// NAT, and tear it all down again. A new Slots re-adopts slots that exist on the system.
import { readdirSync, existsSync } from 'node:fs'
import { Netlink, Netns, NETNS_RUN_DIR, silentLogger, type Logger } from '@lab/netlink-native'
import { DEFAULT_RANGES, slotAddressing, validateRanges, type SlotAddressing, type SlotRanges } from './addressing.js'
import { SlotAllocator } from './allocator.js'
import { SLOTS_ERROR_CODES, SlotsError } from './errors.js'
import { publishSlot } from './events.js'
import { SlotNat } from './nat.js'
import { createTopology, destroyTopology } from './topology.js'

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
}

export interface Slot extends SlotAddressing {
  uplink: string
}

export class Slots {
  readonly ranges: SlotRanges
  readonly uplink: string
  readonly hostNetns: string | undefined
  readonly #host: Netlink
  readonly #nat: SlotNat
  readonly #allocator: SlotAllocator
  readonly #logger: Logger
  readonly #pending = new Map<number, Promise<void>>()
  #closed = false

  private constructor(options: SlotsOptions, host: Netlink, uplink: string, nat: SlotNat, logger: Logger) {
    this.ranges = { ...DEFAULT_RANGES, ...stripUndefined(options) }
    this.hostNetns = options.hostNetns
    this.uplink = uplink
    this.#host = host
    this.#nat = nat
    this.#logger = logger
    this.#allocator = new SlotAllocator(this.ranges.maxSlots)
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
    const logger = options.logger ?? silentLogger
    const host = await Netlink.open({ netns: options.hostNetns })
    let nat: SlotNat | undefined
    try {
      const uplink = options.uplink ?? (await defaultUplink(host))
      await host.link.get(uplink)
      await host.sysctl.set('net.ipv4.ip_forward', '1')
      nat = await SlotNat.open(options.hostNetns, uplink, ranges)
      const slots = new Slots(options, host, uplink, nat, logger)
      await slots.#adopt()
      return slots
    } catch (error) {
      await nat?.close()
      await host.close()
      throw error
    }
  }

  /** Indexes of existing slots: namespaces named with our prefix whose host veth exists. */
  async #adopt(): Promise<void> {
    const hostLinks = new Set((await this.#host.link.list()).map((l) => l.name))
    const prefix = this.ranges.netnsPrefix
    const names = existsSync(NETNS_RUN_DIR) ? readdirSync(NETNS_RUN_DIR) : []
    for (const name of names) {
      if (!name.startsWith(prefix)) continue
      const rest = name.slice(prefix.length)
      if (!/^\d+$/.test(rest)) continue
      const index = Number(rest)
      if (index < 1 || index > this.ranges.maxSlots) continue
      const s = slotAddressing(this.ranges, index)
      if (hostLinks.has(s.vethName)) {
        this.#allocator.adopt(index)
        this.#logger.info({ slot: index }, 'adopted existing slot')
      } else {
        // Half-made (the process died while adding it): finish the teardown instead of leaking.
        await this.#teardown(s)
        this.#logger.warn({ slot: index }, 'removed a half-made slot')
      }
    }
    await this.#nat.syncTo(this.#allocator.inUse.map((i) => slotAddressing(this.ranges, i)))
  }

  /**
   * Adds a slot (the lowest free index) and returns its addressing. Adds may overlap (each slot
   * has its own namespace; the host's share is pipelined on one netlink socket and one nft
   * transaction per tick), so `Promise.all` of many adds finishes sooner than one by one.
   * Throws SlotsError `LAB_ERR_SLOTS_FULL` when every index is in use.
   */
  add(): Promise<Slot> {
    let index: number
    try {
      this.#checkOpen()
      index = this.#allocator.allocate()
    } catch (error) {
      // Failures reach the caller as a rejection, like every other failure of add().
      return Promise.reject(error)
    }
    return this.#serialize(index, async () => {
      const s = slotAddressing(this.ranges, index)
      try {
        await Netns.add(s.netns)
        // The slot's links and its NAT rules are independent: build both at once. The catch only
        // marks `inside` handled while the links are built (it is awaited just below); when the
        // links fail first, its outcome is moot: the teardown removes its namespace.
        const inside = this.#nat.addInside(s)
        inside.catch(() => undefined)
        await createTopology(this.#host, s, { createNetns: false })
        await inside
        await this.#nat.addOnHost(s)
      } catch (error) {
        await this.#teardown(s).catch((e: unknown) => this.#logger.error({ err: e, slot: index }, 'cleanup after a failed add failed'))
        this.#allocator.release(index)
        throw error
      }
      const slot = { ...s, uplink: this.uplink }
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
    return this.#allocator.has(index) ? { ...slotAddressing(this.ranges, index), uplink: this.uplink } : undefined
  }

  list(): Slot[] {
    return this.#allocator.inUse.map((i) => ({ ...slotAddressing(this.ranges, i), uplink: this.uplink }))
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
    let s: SlotAddressing
    try {
      this.#checkOpen()
      s = slotAddressing(this.ranges, index)
    } catch (error) {
      return Promise.reject(error)
    }
    // In order with an add of the same index still under way, so the check sees its outcome.
    return this.#serialize(index, async () => {
      const existed = this.#allocator.has(index)
      if (mustExist && !existed) throw new SlotsError(SLOTS_ERROR_CODES.notFound, `ENOENT: slot del ${index} (no such slot)`)
      await this.#teardown(s)
      this.#allocator.release(index)
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

  /** Removes every slot this instance has; the host's table and the instance stay. */
  async flush(): Promise<void> {
    await this.destroyMany(this.#allocator.inUse)
  }

  /** Closes the netlink and nftables handles; the slots stay (a later open re-adopts them). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.#nat.close()
    await this.#host.close()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  #checkOpen(): void {
    if (this.#closed) throw new SlotsError(SLOTS_ERROR_CODES.closed, 'slots: used after close()')
  }

  async #teardown(s: SlotAddressing): Promise<void> {
    await this.#nat.del(s)
    await destroyTopology(this.#host, s)
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
