// How a client's state machine hands lease changes on (DHCPv4's and @lab/dhcp6's alike): to the
// lease callback, then as a 'lease' event, one change at a time in the order they happened, so
// that a NAK's (or an expiry's) removal of the old address and routes is finished before the
// next lease installs its own. A callback that fails is reported (`failed`); the change is still
// announced.

export interface LeaseChange<L, R> {
  old?: L
  next?: L
  reason: R
}

export class LeaseReports<L, R> {
  #last: Promise<void> = Promise.resolve()

  constructor(
    private readonly callback: (old: L | undefined, next: L | undefined, reason: R) => unknown,
    private readonly announce: (change: LeaseChange<L, R>) => void,
    private readonly failed: (error: Error) => void,
  ) {}

  /** Queues the change after those before it; resolves once it is reported. */
  report(old: L | undefined, next: L | undefined, reason: R): Promise<void> {
    const report = async () => {
      try {
        await this.callback(old, next, reason)
      } catch (error) {
        this.failed(error as Error)
      }
      this.announce({ ...(old ? { old } : {}), ...(next ? { next } : {}), reason })
    }
    this.#last = this.#last.then(report)
    return this.#last
  }
}
