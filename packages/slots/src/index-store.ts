// Slot indexes shared by separate processes (each CNI invocation is its own process): one file per
// index in a state directory, created with O_EXCL so two invocations never take the same index,
// holding the owner (container id and interface) so DEL and CHECK find it again, and notes on what
// ADD changed that DEL must put back (`key=value` lines after the owner).
import { mkdirSync, openSync, closeSync, readdirSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { SLOTS_ERROR_CODES, SlotsError } from './errors.js'

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
    throw new SlotsError(SLOTS_ERROR_CODES.full, `all ${this.max} slot indexes are in use (${this.dir})`)
  }

  /** Notes kept with the index (e.g. a sysctl's value before ADD changed it); empty if none. */
  notes(index: number): Record<string, string> {
    return this.#read(index)?.notes ?? {}
  }

  /** Replaces the index's notes; the owner stays. */
  setNotes(index: number, notes: Record<string, string>): void {
    const held = this.#read(index)
    if (!held) throw new Error(`slot index ${index} is not held (${this.dir})`)
    for (const [key, value] of Object.entries(notes)) {
      if (!/^\w+$/.test(key) || /[\n=]/.test(value)) throw new Error(`index note ${key}=${value}: keys are words, values one line`)
    }
    const lines = Object.entries(notes).map(([key, value]) => `${key}=${value}\n`)
    writeFileSync(join(this.dir, String(index)), `${held.containerId}\n${held.ifname}\n${lines.join('')}`, { mode: 0o600 })
  }

  /** Every held index with its owner (CNI GC walks these). */
  entries(): Array<{ index: number } & IndexOwner> {
    const out: Array<{ index: number } & IndexOwner> = []
    for (const name of readdirSync(this.dir)) {
      if (!/^\d+$/.test(name)) continue
      const held = this.#read(Number(name))
      if (held) out.push({ index: Number(name), containerId: held.containerId, ifname: held.ifname })
    }
    return out.sort((a, b) => a.index - b.index)
  }

  release(index: number): void {
    rmSync(join(this.dir, String(index)), { force: true })
  }

  #read(index: number): (IndexOwner & { notes: Record<string, string> }) | undefined {
    let text: string
    try {
      text = readFileSync(join(this.dir, String(index)), 'utf8')
    } catch (error) {
      // Released by another invocation between readdir and read: not held.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw error
    }
    const [containerId, ifname, ...rest] = text.split('\n')
    if (!containerId || !ifname) return undefined
    const notes: Record<string, string> = {}
    for (const line of rest) {
      const at = line.indexOf('=')
      if (at > 0) notes[line.slice(0, at)] = line.slice(at + 1)
    }
    return { containerId, ifname, notes }
  }
}
