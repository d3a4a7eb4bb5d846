// Seed 002's neighbour announcer: when a link becomes operational (IFF_RUNNING goes up), announce
// each permanent global or link-local IPv4 address on it, and again 10 s later; a link that goes
// down cancels its pending repeat. Runs until its signal aborts, as a supervisor runnable.
import { Netlink, type Address, type Link } from '@lab/netlink-native'
import type { Logger } from 'pino'
import { announce } from './announce.js'
import type { AnnouncementForm } from './codec.js'
import { realClock, type Clock } from '@lab/clock'

const RT_SCOPE_UNIVERSE = 0
const RT_SCOPE_LINK = 253

export interface AnnouncerOptions {
  netns?: string
  /** Only these links (names); all links when omitted. */
  links?: string[]
  repeatMs?: number
  form?: AnnouncementForm
  clock?: Clock
  /** Called after each round with what was announced (for status and tests). */
  onAnnounce?: (link: string, addresses: string[], round: 'up' | 'repeat') => void
}

/** The addresses seed 002 announces: permanent IPv4, global or link scope, usable, primary. */
export function qualifies(a: Address): boolean {
  return a.family === 4 && a.permanent && (a.scope === RT_SCOPE_UNIVERSE || a.scope === RT_SCOPE_LINK) && !a.tentative && !a.deprecated && !a.secondary
}

interface RunnableContext {
  signal: AbortSignal
  healthy(): void
  logger?: Logger
}

export function announcer(options: AnnouncerOptions = {}): (ctx: RunnableContext) => Promise<void> {
  return async (ctx) => {
    const clock = options.clock ?? realClock
    const repeatMs = options.repeatMs ?? 10_000
    const nl = await Netlink.open({ netns: options.netns })
    const running = new Map<number, boolean>()
    const repeats = new Map<number, { cancel(): void }>()
    const wanted = (l: Link) => l.name !== 'lo' && (!options.links || options.links.includes(l.name))

    const round = async (link: Link, kind: 'up' | 'repeat') => {
      const addresses = (await nl.addr.list({ link: link.index })).filter(qualifies).map((a) => a.address)
      for (const address of addresses) {
        try {
          await announce({ interface: link.name, address, netns: options.netns, form: options.form })
        } catch (error) {
          ctx.logger?.warn({ link: link.name, address, err: error }, 'announcement failed')
        }
      }
      ctx.logger?.info({ link: link.name, addresses, round: kind }, 'announced')
      options.onAnnounce?.(link.name, addresses, kind)
    }

    const update = (link: Link) => {
      if (!wanted(link)) return
      const was = running.get(link.index) ?? false
      running.set(link.index, link.running)
      if (link.running && !was) {
        repeats.get(link.index)?.cancel()
        void round(link, 'up')
        repeats.set(
          link.index,
          clock.setTimeout(() => {
            repeats.delete(link.index)
            if (running.get(link.index)) void round(link, 'repeat')
          }, repeatMs),
        )
      } else if (!link.running && was) {
        repeats.get(link.index)?.cancel()
        repeats.delete(link.index)
      }
    }

    const events = nl.watch(['link'], { signal: ctx.signal })
    try {
      for (const link of await nl.link.list()) update(link)
      ctx.healthy()
      for await (const e of events) {
        if (e.kind === 'link' && e.action === 'new') update(e.link)
        else if (e.kind === 'link' && e.action === 'del') {
          repeats.get(e.link.index)?.cancel()
          repeats.delete(e.link.index)
          running.delete(e.link.index)
        }
      }
    } finally {
      for (const r of repeats.values()) r.cancel()
      nl.close()
    }
  }
}
