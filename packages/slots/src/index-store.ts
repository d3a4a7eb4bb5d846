// Slot indexes shared by separate processes (each CNI invocation is its own process): one file per
// index in a state directory, created with O_EXCL so two invocations never take the same index,
// holding the owner (container id and interface) so DEL and CHECK find it again.
import { mkdirSync, openSync, closeSync, readdirSync, readFileSync, rmSync, writeSync } from 'node:fs'
import { join } from 'node:path'

export interface IndexOwner {
  containerId: string
  ifname: string
}

export class IndexStore {
  constructor(
    readonly dir: string,
    readonly max: number,
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o700 })
  }

  /** The index already held by this owner, if any. */
  find(owner: IndexOwner): number | undefined {
    for (const name of readdirSync(this.dir)) {
      if (!/^\d+$/.test(name)) continue
      const held = this.#read(Number(name))
      if (held && held.containerId === owner.containerId && held.ifname === owner.ifname) return Number(name)
    }
    return undefined
  }

  /** Takes the lowest free index for the owner (or returns the one it holds). */
  claim(owner: IndexOwner): number {
    const existing = this.find(owner)
    if (existing !== undefined) return existing
    for (let i = 1; i <= this.max; i++) {
      let fd: number
      try {
        fd = openSync(join(this.dir, String(i)), 'wx', 0o600)
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST') continue
        throw error
      }
      try {
        writeSync(fd, `${owner.containerId}\n${owner.ifname}\n`)
      } finally {
        closeSync(fd)
      }
      return i
    }
    throw new Error(`all ${this.max} slot indexes are in use (${this.dir})`)
  }

  release(index: number): void {
    rmSync(join(this.dir, String(index)), { force: true })
  }

  #read(index: number): IndexOwner | undefined {
    try {
      const [containerId, ifname] = readFileSync(join(this.dir, String(index)), 'utf8').split('\n')
      return containerId && ifname ? { containerId, ifname } : undefined
    } catch {
      return undefined
    }
  }
}
