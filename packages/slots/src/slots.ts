// Per-sandbox network slots: allocate an index, build the slot's namespace, veth, TAP, routes and
// NAT, and tear it all down again. A new Slots re-adopts slots that exist on the system.
import { readdirSync, existsSync } from 'node:fs'
import { Netlink, Netns, NETNS_RUN_DIR } from '@lab/netlink-native'
import pino, { type Logger } from 'pino'
import { DEFAULT_RANGES, slotAddressing, validateRanges, type SlotAddressing, type SlotRanges } from './addressing.js'
import { SlotAllocator } from './allocator.js'
import { SlotNat } from './nat.js'
import { createTopology, destroyTopology } from './topology.js'

export interface SlotsOptions extends Partial<SlotRanges> {
  /** The namespace playing "host" (name or path); omitted: this process's own namespace. */
  hostNetns?: string
  /** The host's uplink interface; omitted: the interface of the host's IPv4 default route. */
  uplink?: string
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

  private constructor(options: SlotsOptions, host: Netlink, uplink: string, nat: SlotNat, logger: Logger) {
    this.ranges = { ...DEFAULT_RANGES, ...stripUndefined(options) }
    this.hostNetns = options.hostNetns
    this.uplink = uplink
    this.#host = host
    this.#nat = nat
    this.#logger = logger
    this.#allocator = new SlotAllocator(this.ranges.maxSlots)
  }

  static async open(options: SlotsOptions = {}): Promise<Slots> {
    const ranges = { ...DEFAULT_RANGES, ...stripUndefined(options) }
    validateRanges(ranges)
    const logger = options.logger ?? pino({ name: 'lab-slots', level: process.env.LOG_LEVEL ?? 'warn' })
    const host = await Netlink.open({ netns: options.hostNetns })
    try {
      const uplink = options.uplink ?? (await defaultUplink(host))
      await host.link.get(uplink)
      await host.sysctl.set('net.ipv4.ip_forward', '1')
      const nat = await SlotNat.open(options.hostNetns, uplink, ranges)
      const slots = new Slots(options, host, uplink, nat, logger)
      await slots.#adopt()
      return slots
    } catch (error) {
      host.close()
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
        // Half-made (the process died while creating it): finish the teardown instead of leaking.
        await this.#teardown(s)
        this.#logger.warn({ slot: index }, 'removed a half-made slot')
      }
    }
    await this.#nat.syncTo(this.#allocator.inUse.map((i) => slotAddressing(this.ranges, i)))
  }

  /**
   * Creates a slot and returns its addressing. Creations may overlap (each slot has its own
   * namespace; the host's share is pipelined on one netlink socket and one nft transaction per
   * tick), so `Promise.all` of many creates finishes sooner than creating them one by one.
   */
  create(): Promise<Slot> {
    const index = this.#allocator.allocate()
    return this.#serialize(index, async () => {
      const s = slotAddressing(this.ranges, index)
      try {
        await Netns.create(s.netns)
        // The slot's links and its NAT rules are independent: build both at once.
        const inside = this.#nat.addInside(s)
        inside.catch(() => undefined)
        await createTopology(this.#host, s, { createNetns: false })
        await inside
        await this.#nat.addOnHost(s)
      } catch (error) {
        await this.#teardown(s).catch((e) => this.#logger.error({ err: e, slot: index }, 'cleanup after a failed create failed'))
        this.#allocator.release(index)
        throw error
      }
      this.#logger.info({ slot: index, netns: s.netns }, 'slot created')
      return { ...s, uplink: this.uplink }
    })
  }

  /** Creates `count` slots, `concurrency` at a time (default 4). */
  async createMany(count: number, concurrency = 4): Promise<Slot[]> {
    const out: Slot[] = []
    let next = 0
    const worker = async () => {
      while (next < count) {
        next++
        out.push(await this.create())
      }
    }
    await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, count)) }, worker))
    return out.sort((a, b) => a.index - b.index)
  }

  /** Removes a slot and everything it added on the host. Idempotent. */
  destroy(index: number): Promise<void> {
    return this.#serialize(index, async () => {
      const s = slotAddressing(this.ranges, index)
      await this.#teardown(s)
      this.#allocator.release(index)
      this.#logger.info({ slot: index }, 'slot destroyed')
    })
  }

  list(): Slot[] {
    return this.#allocator.inUse.map((i) => ({ ...slotAddressing(this.ranges, i), uplink: this.uplink }))
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

  /** Destroys every slot this instance knows of. */
  async destroyAll(): Promise<void> {
    await this.destroyMany(this.#allocator.inUse)
  }

  close(): void {
    this.#nat.close()
    this.#host.close()
  }

  async #teardown(s: SlotAddressing): Promise<void> {
    await this.#nat.del(s)
    await destroyTopology(this.#host, s)
  }

  /** Work on one slot index runs in order (a destroy waits for the create of the same slot). */
  #serialize<T>(index: number, work: () => Promise<T>): Promise<T> {
    const before = this.#pending.get(index) ?? Promise.resolve()
    const run = before.then(work, work)
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
  const def = routes.find((r) => r.dst === 'default' && r.dev !== undefined)
  if (!def) throw new Error('no IPv4 default route in the host namespace: pass { uplink }')
  return (await host.link.get(def.dev!)).name
}

function stripUndefined<T extends object>(o: T): Partial<SlotRanges> {
  const out: Record<string, unknown> = {}
  for (const key of Object.keys(DEFAULT_RANGES)) {
    const value = (o as Record<string, unknown>)[key]
    if (value !== undefined) out[key] = value
  }
  return out as Partial<SlotRanges>
}
