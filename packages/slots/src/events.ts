// State changes on node:diagnostics_channel: free when nobody subscribes, and what tests and
// status pages watch. Channel names are `lab:slots:<event>`.
import { channel } from 'node:diagnostics_channel'
import type { SlotAddressing } from './addressing.js'

/** A slot was made (`added`) or removed (`removed`) by a Slots instance. */
export interface SlotEvent {
  action: 'added' | 'removed'
  /** The namespace playing "host"; undefined: the process's own. */
  hostNetns: string | undefined
  slot: SlotAddressing & { uplink: string }
}

export const CHANNELS = { slot: 'lab:slots:slot' } as const

const slot = channel(CHANNELS.slot)

export function publishSlot(event: SlotEvent): void {
  if (slot.hasSubscribers) slot.publish(event)
}
