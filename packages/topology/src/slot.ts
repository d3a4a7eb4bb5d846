// slot nodes: the node's namespace plays the host of @lab/slots, its first link end the uplink;
// one slot hangs off it (namespace `NETNS-s1`: eth0 to the host, tap0 ready for a sandbox's VM,
// NAT out through the uplink). The slot's namespace is named after the node, so `lab down`
// removes it with the node even when a killed `lab up` never recorded it.
import { TopologyError } from './errors.js'
import type { SlotRecord } from './state.js'

export async function addSlot(netns: string, uplink: string | undefined): Promise<SlotRecord> {
  if (!uplink) throw new TopologyError(`${netns}: a slot node needs a link (its uplink)`, { code: 'LAB_ERR_TOPOLOGY' })
  const { Slots } = await import('@lab/slots')
  await using slots = await Slots.open({ hostNetns: netns, uplink, netnsPrefix: `${netns}-s` })
  const slot = await slots.add()
  return { index: slot.index, netns: slot.netns, tapName: slot.tapName, guestIP: slot.guestIP, hostReachableIP: slot.hostReachableIP }
}
