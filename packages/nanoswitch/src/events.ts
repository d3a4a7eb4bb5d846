// State changes of a running switch on node:diagnostics_channel: free when nobody subscribes, and
// what tests and status pages watch. Channel names are `lab:nanoswitch:<event>`.
import { channel } from 'node:diagnostics_channel'

/** A port joined the bridge (`up`) or left it (`down`: released on stop, or the link went away). */
export interface PortEvent {
  netns: string | undefined
  bridge: string
  port: string
  mac: string | undefined
  state: 'up' | 'down'
}

/**
 * The uplink: `waiting` (the named link is not there yet), `found`, each DHCP client state
 * (`selecting`, `bound`, ...) with the leased address, and `gone` when it is let go.
 */
export interface UplinkEvent {
  netns: string | undefined
  uplink: string
  state: string
  address?: string
}

/** A forward started (`up`) or stopped (`down`); `mode` says whether the kernel or a relay does it. */
export interface ForwardEvent {
  netns: string | undefined
  spec: string
  mode: 'kernel' | 'proxy'
  state: 'up' | 'down'
}

export const CHANNELS = { port: 'lab:nanoswitch:port', uplink: 'lab:nanoswitch:uplink', forward: 'lab:nanoswitch:forward' } as const

const port = channel(CHANNELS.port)
const uplink = channel(CHANNELS.uplink)
const forward = channel(CHANNELS.forward)

export function publishPort(event: PortEvent): void {
  if (port.hasSubscribers) port.publish(event)
}

export function publishUplink(event: UplinkEvent): void {
  if (uplink.hasSubscribers) uplink.publish(event)
}

export function publishForward(event: ForwardEvent): void {
  if (forward.hasSubscribers) forward.publish(event)
}
