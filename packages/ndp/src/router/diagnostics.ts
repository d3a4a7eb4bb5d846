// The diagnostics channel the advertiser publishes on: one message per RA sent.
import { channel } from 'node:diagnostics_channel'
import type { RouterAdvertisement } from '../codec/router-advertisement.js'

export const RA_CHANNEL = 'lab:ndp:ra'

/** A message on `lab:ndp:ra`. */
export interface RaEvent {
  interface: string
  netns: string | undefined
  /** unsolicited (periodic), solicited (answering an RS), final (lifetime 0, on stop). */
  kind: 'unsolicited' | 'solicited' | 'final'
  destination: string
  advertisement: RouterAdvertisement
}

export const raChannel = channel(RA_CHANNEL)
