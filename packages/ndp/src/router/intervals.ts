// RFC 4861's router timing (6.2.1, 6.2.4, 6.2.6, 10): the interval before the next unsolicited
// advertisement and the delay before answering a solicitation, as pure functions of a random
// number so tests can drive them.

/** RFC 4861 10: router constants, in milliseconds. */
export const MAX_INITIAL_RTR_ADVERT_INTERVAL = 16_000
export const MAX_INITIAL_RTR_ADVERTISEMENTS = 3
export const MAX_FINAL_RTR_ADVERTISEMENTS = 3
export const MIN_DELAY_BETWEEN_RAS = 3_000
export const MAX_RA_DELAY_TIME = 500

/**
 * Milliseconds until the next unsolicited advertisement: uniform in [min, max] (6.2.4), but at
 * most MAX_INITIAL_RTR_ADVERT_INTERVAL while fewer than MAX_INITIAL_RTR_ADVERTISEMENTS were sent,
 * "so that the router's advertisements are heard quickly" by hosts that just came up.
 * `sent` counts the unsolicited advertisements sent so far, `random` is in [0, 1).
 */
export function nextUnsolicitedDelay(minMs: number, maxMs: number, sent: number, random: number): number {
  const delay = minMs + random * (maxMs - minMs)
  return sent < MAX_INITIAL_RTR_ADVERTISEMENTS ? Math.min(delay, MAX_INITIAL_RTR_ADVERT_INTERVAL) : delay
}

/**
 * When to answer a solicitation that arrived at `now` (6.2.6): after a random delay of up to
 * MAX_RA_DELAY_TIME, and not sooner than MIN_DELAY_BETWEEN_RAS after the last multicast
 * advertisement (`lastMulticast`, undefined before the first).
 */
export function solicitedSendTime(now: number, lastMulticast: number | undefined, random: number): number {
  const at = now + random * MAX_RA_DELAY_TIME
  return lastMulticast === undefined ? at : Math.max(at, lastMulticast + MIN_DELAY_BETWEEN_RAS)
}
