// What every runnable of one switch shares about how the switch as a whole is ending.
export class Lifecycle {
  /** Set by RunningSwitch.stop() before the tree is cancelled: a clean stop, not a restart. */
  stopping = false
  /** Leave bridge, addresses and nftables tables behind on stop, for the next start to adopt. */
  keep = false
  readonly #fatal: Array<(error: Error) => void> = []
  #error: Error | undefined

  /**
   * Whether what the switch created goes away now: only on a clean stop without `keep`. A runnable
   * that is restarted keeps its bridge, tables and addresses, and adopts them when it starts again.
   */
  get removing(): boolean {
    return this.stopping && !this.keep
  }

  /** A runnable met a configuration error: the switch stops instead of restarting it. */
  fatal(error: Error): void {
    if (this.#error) return
    this.#error = error
    for (const fn of this.#fatal.splice(0)) fn(error)
  }

  /** Resolves with the first configuration error a runnable reported. */
  get failed(): Promise<Error> {
    if (this.#error) return Promise.resolve(this.#error)
    return new Promise((resolve) => this.#fatal.push(resolve))
  }
}
