// Retransmission as RFC 8415 section 15 defines it: each message type has an initial timeout
// (IRT), a longest timeout (MRT), a most-transmissions count (MRC) and a longest duration (MRD),
// and every timeout is spread by RAND, uniform in -0.1..+0.1 of it. The values are section 7.6's.

/** One message type's retransmission parameters, in milliseconds (0: no limit, as in the RFC). */
export interface RetransmitParameters {
  /** Initial retransmission time (IRT). */
  irt: number
  /** Maximum retransmission time (MRT); 0: the timeout keeps doubling. */
  mrt: number
  /** Maximum transmissions (MRC); 0: unlimited. */
  mrc: number
  /** Maximum retransmission duration (MRD); 0: unlimited. */
  mrd: number
  /** The first transmission waits a random 0..maxDelay (SOL_MAX_DELAY, CNF_MAX_DELAY, INF_MAX_DELAY). */
  maxDelay: number
}

export type ExchangeKind = 'solicit' | 'request' | 'confirm' | 'renew' | 'rebind' | 'release' | 'decline' | 'information-request'

const s = 1000

/** RFC 8415 section 7.6. */
export const RFC8415_RETRANSMIT: Readonly<Record<ExchangeKind, Readonly<RetransmitParameters>>> = {
  solicit: { irt: 1 * s, mrt: 3600 * s, mrc: 0, mrd: 0, maxDelay: 1 * s }, // SOL_TIMEOUT, SOL_MAX_RT, SOL_MAX_DELAY
  request: { irt: 1 * s, mrt: 30 * s, mrc: 10, mrd: 0, maxDelay: 0 }, // REQ_TIMEOUT, REQ_MAX_RT, REQ_MAX_RC
  confirm: { irt: 1 * s, mrt: 4 * s, mrc: 0, mrd: 10 * s, maxDelay: 1 * s }, // CNF_TIMEOUT, CNF_MAX_RT, CNF_MAX_RD, CNF_MAX_DELAY
  renew: { irt: 10 * s, mrt: 600 * s, mrc: 0, mrd: 0, maxDelay: 0 }, // REN_TIMEOUT, REN_MAX_RT; MRD: until T2
  rebind: { irt: 10 * s, mrt: 600 * s, mrc: 0, mrd: 0, maxDelay: 0 }, // REB_TIMEOUT, REB_MAX_RT; MRD: until the leases end
  release: { irt: 1 * s, mrt: 0, mrc: 4, mrd: 0, maxDelay: 0 }, // REL_TIMEOUT, REL_MAX_RC
  decline: { irt: 1 * s, mrt: 0, mrc: 4, mrd: 0, maxDelay: 0 }, // DEC_TIMEOUT, DEC_MAX_RC
  'information-request': { irt: 1 * s, mrt: 3600 * s, mrc: 0, mrd: 0, maxDelay: 1 * s }, // INF_TIMEOUT, INF_MAX_RT, INF_MAX_DELAY
}

/** RAND: uniform in -0.1..+0.1 (section 15), from a uniform 0..1 source. */
function rand(random: () => number): number {
  return (random() * 2 - 1) * 0.1
}

/**
 * The next retransmission timeout (section 15): the first is IRT + RAND*IRT, each later one
 * 2*RTprev + RAND*RTprev, and past MRT it is MRT + RAND*MRT. `strictlyAbove` makes the first one
 * greater than IRT, as section 15 requires for the first Solicit (RAND strictly positive), so the
 * client never stops collecting Advertises before IRT.
 */
export function nextTimeout(previous: number | undefined, p: RetransmitParameters, random: () => number, strictlyAbove = false): number {
  let rt: number
  if (previous === undefined) {
    const r = strictlyAbove ? 0.1 * (1 - random()) : rand(random)
    rt = p.irt + r * p.irt
  } else {
    rt = 2 * previous + rand(random) * previous
  }
  if (p.mrt > 0 && rt > p.mrt) rt = p.mrt + rand(random) * p.mrt
  return rt
}
