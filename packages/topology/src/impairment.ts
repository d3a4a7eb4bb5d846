// A link end's impairment as qdiscs on its interface (egress): netem for delay, jitter, loss,
// duplicate, reorder and corrupt; tbf for a rate. With both, tbf sits under netem's class 1:1, as
// `tc qdisc add dev X root handle 1: netem ...; tc qdisc add dev X parent 1:1 handle 2: tbf ...`.
import { Netlink } from '@lab/netlink-native'
import type { Impairment } from './topology.js'

/** Sets `impairment` on `iface` (none: clears it), through a handle or in a namespace by name. */
export async function applyImpairment(target: Netlink | string, iface: string, impairment: Impairment | undefined): Promise<void> {
  if (typeof target === 'string') {
    await using nl = await Netlink.open({ netns: target })
    return await applyImpairment(nl, iface, impairment)
  }
  const nl = target
  const root = (await nl.qdisc.list({ link: iface })).find((q) => q.parent === 'root')
  // Only what we put there is taken away: the default (noqueue) is no qdisc one can delete.
  if (root && (root.kind === 'netem' || root.kind === 'tbf')) await nl.qdisc.del({ interface: iface })
  if (!impairment) return
  const { rate, ...netem } = impairment
  const hasNetem = Object.values(netem).some((v) => v !== undefined)
  if (hasNetem) await nl.qdisc.add({ interface: iface, kind: 'netem', handle: '1:', ...netem })
  if (rate) await nl.qdisc.add({ interface: iface, kind: 'tbf', rate, ...(hasNetem ? { parent: '1:1', handle: '2:' } : {}) })
}
