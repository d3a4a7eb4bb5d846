// The warm pool's options, status and the marker that survives the owner: a pooled slot nobody has
// acquired carries this alias on its host veth (IFLA_IFALIAS), so a Slots opened after a crash
// (kill -9) tells idle pool slots, which it takes back or removes, from slots a sandbox may still
// use, which it adopts as in use.

/** The host veth alias of an idle pooled slot. */
export const IDLE_ALIAS = 'lab-slots:idle'

/**
 * The host veth alias of a slot still being built, as earlier versions marked it (their host side
 * was several netlink messages, the first of which brought the veth up). Slots are now built with
 * their host veth down until the last message, which brings it up: a veth that is down, or up
 * with this marker, is a half-made slot that `Slots.open` removes.
 */
export const BUILDING_ALIAS = 'lab-slots:building'

export interface PoolOptions {
  /** How many ready slots to keep; 0..maxSlots. */
  size: number
  /** Released slots are scrubbed and kept (default true); false: released slots are destroyed. */
  reuse?: boolean
}

export interface SlotsStatus {
  /** Slots this instance has, pooled or not. */
  slots: number
  /** Slots marked idle in a pool: this instance's, or (without a pool) ones found at open(). */
  idle: number[]
  /** Indexes not in use. */
  free: number
  maxSlots: number
  /** Undefined without a pool. */
  pool:
    | {
        size: number
        reuse: boolean
        /** Ready to be acquired. */
        idle: number
        /** Being made in the background. */
        filling: number
        /** Handed out by acquire() and not released. */
        acquired: number
      }
    | undefined
}
