// Reading a rule's expressions back as nft text, the way nft's delinearization does: loads put a
// field into a register, and the comparison, lookup or NAT that uses the register prints the
// statement. Each expression does its own part in its `render(r)`; this is the state they share.
import type { Family } from '../constants.js'
import type { CmpOp } from './cmp.js'

/** A value a register holds while the rule is read: what nft would call its left-hand side. */
export interface Field {
  /** As nft names it: `ip saddr`, `tcp dport`, `meta mark`, `iifname`, `ct state`. */
  readonly name: string
  /** Prints a constant compared with the field (`10.0.0.1`, `"eth0"`, `0x00000010`). */
  value(data: Buffer): string
  /** Print `==` too: nft does after a mask (`meta mark & 0x0000ff00 == 0x00000100`). */
  readonly explicitOp?: boolean
  /** The protocol match this field implies (`tcp` for `tcp dport`): nft then leaves that match out. */
  readonly needs?: string
  /** For a protocol match (`meta l4proto tcp`): what it provides, so a later field can imply it. */
  provides?(data: Buffer): string | undefined
  /** Prints the whole comparison itself (`ct state established,related` from a masked compare). */
  compare?(op: CmpOp, data: Buffer): string
  /** The field under a bitwise mask (a prefix `ip saddr 10.0.0.0/8`); undefined: no special form. */
  masked?(mask: Buffer, xor: Buffer): Field | undefined
}

export type RegisterValue = { kind: 'field'; field: Field } | { kind: 'constant'; data: Buffer } | { kind: 'mapped'; text: string; needs?: string }

export interface RenderOptions {
  /** The table's family: NAT names its address family outside ip/ip6 tables, reject its default. */
  family?: Family
  /** Inline sets known by transaction id (a builder's own), as `{ a, b }` text. */
  inlineById?: Map<number, string>
  /** Inline sets known by kernel name (`__set0`), from read-back. */
  inlineByName?: Map<string, string>
}

const L4_PROTOCOLS = new Set(['tcp', 'udp'])

export class RuleText {
  readonly family: Family | undefined
  readonly #options: RenderOptions
  readonly #statements: Array<string | undefined> = []
  readonly #registers = new Map<number, RegisterValue>()
  /** The statement that may turn out implied, and what it provides; only until the next statement. */
  #dependency: { index: number; provides: string } | undefined
  /** The transport protocol matched so far: it names transport fields (`tcp dport`, else `th dport`). */
  l4: string | undefined

  constructor(options: RenderOptions = {}) {
    this.#options = options
    this.family = options.family
  }

  set(register: number, value: RegisterValue): void {
    this.#registers.set(register, value)
  }

  load(register: number, field: Field): void {
    this.set(register, { kind: 'field', field })
  }

  field(register: number): Field | undefined {
    const v = this.#registers.get(register)
    return v?.kind === 'field' ? v.field : undefined
  }

  register(register: number): RegisterValue | undefined {
    return this.#registers.get(register)
  }

  constant(register: number | undefined): Buffer | undefined {
    if (register === undefined) return undefined
    const v = this.#registers.get(register)
    return v?.kind === 'constant' ? v.data : undefined
  }

  /** The `{ a, b }` text of an inline set, when the lookup's set is one; else `@name`. */
  setText(name: string, id: number | undefined): string {
    const inline = (id !== undefined ? this.#options.inlineById?.get(id) : undefined) ?? this.#options.inlineByName?.get(name)
    return inline ?? `@${name}`
  }

  /**
   * Adds a statement. `needs` is the protocol it implies: a protocol match just before it that
   * provides the same is dropped, as nft prints `tcp dport 22`, not `meta l4proto tcp tcp dport 22`.
   */
  emit(text: string, needs?: string): void {
    if (needs !== undefined && this.#dependency?.provides === needs) this.#statements[this.#dependency.index] = undefined
    this.#dependency = undefined
    this.#statements.push(text)
  }

  /** Adds a protocol match that a following statement may make redundant. */
  emitDependency(text: string, provides: string): void {
    this.emit(text)
    this.#dependency = { index: this.#statements.length - 1, provides }
    if (L4_PROTOCOLS.has(provides)) this.l4 = provides
  }

  text(): string {
    return this.#statements.filter((s) => s !== undefined).join(' ')
  }
}

export function opText(op: CmpOp): string {
  return op === '==' ? '' : `${op} `
}

/** Data as nft --debug=netlink prints it: 32-bit words read in host order, `0x0100000a`. */
export function hexWords(data: Buffer): string {
  const words: string[] = []
  for (let at = 0; at < data.length; at += 4) {
    const word = Buffer.alloc(4)
    data.copy(word, 0, at, Math.min(at + 4, data.length))
    words.push(`0x${word.readUInt32LE(0).toString(16).padStart(8, '0')}`)
  }
  return words.join(' ')
}

/** A generic masked field, printed as nft does (`meta mark & 0x0000ff00`): mask and xor as the field's values. */
export function maskedField(f: Field, mask: Buffer, xor: Buffer): Field {
  const xorText = xor.some((b) => b !== 0) ? ` ^ ${f.value(xor)}` : ''
  return { name: `${f.name} & ${f.value(mask)}${xorText}`, value: (d) => f.value(d), explicitOp: true, ...(f.needs !== undefined ? { needs: f.needs } : {}) }
}
