// Slot numbers: the lowest free index is handed out; indexes of slots found on the system (after a
// restart) are taken as in use, so nothing is leaked or handed out twice.
import { SLOTS_ERROR_CODES, SlotsError } from './errors.js'

export class SlotAllocator {
  readonly #used = new Set<number>()

  constructor(readonly max: number) {}

  adopt(index: number): void {
    this.#used.add(index)
  }

  allocate(): number {
    for (let i = 1; i <= this.max; i++) {
      if (!this.#used.has(i)) {
        this.#used.add(i)
        return i
      }
    }
    throw new SlotsError(SLOTS_ERROR_CODES.full, `all ${this.max} slots are in use`)
  }

  release(index: number): void {
    this.#used.delete(index)
  }

  has(index: number): boolean {
    return this.#used.has(index)
  }

  get inUse(): number[] {
    return [...this.#used].sort((a, b) => a - b)
  }
}
