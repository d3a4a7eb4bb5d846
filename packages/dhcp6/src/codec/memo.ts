// A bounded memo for conversions a server repeats on its hot path: the relay's link-address in
// every message, the client's peer-address back in its Relay-Reply, the address an Advertise
// offered again in the Request and its Reply, each client's DUID once per message.
// @lab/netlink-native's parseIp checks IPv6 text with a full regular expression and converts it
// twice (a third of a relayed exchange's CPU time in the bench); these memos keep recent results.
// Only successes are kept: bad input throws every time.

/** Remembers up to `max` results of `convert` (then starts over); values are shared: callers must not change them. */
export class BoundedMemo<V> {
  #kept = new Map<string, V>()

  constructor(
    readonly max: number,
    readonly convert: (text: string, field: string) => V,
  ) {}

  get(text: string, field: string): V {
    const hit = this.#kept.get(text)
    if (hit !== undefined) return hit
    const value = this.convert(text, field)
    this.set(text, value)
    return value
  }

  has(text: string): boolean {
    return this.#kept.has(text)
  }

  /** Remembers a result known from the other direction (text formatted from these bytes). */
  set(text: string, value: V): void {
    if (this.#kept.size >= this.max) this.#kept = new Map()
    this.#kept.set(text, value)
  }
}
