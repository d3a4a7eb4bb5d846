// An nf_tables expression is a small value that knows its kernel name, how to write its attributes,
// how it reads back, and how it prints: as nft text (`render`, its part of a rule's statements)
// and as nft --debug=netlink prints it (`toString`). Rules are lists of them.
import { Attributes, type AttributeWriter } from '@lab/netlink-native'
import type { RuleText } from './rule-text.js'

export interface Expression {
  /** The kernel's name for it: "meta", "cmp", "payload", ... */
  readonly kind: string
  /** Writes the NFTA_EXPR_DATA attributes. */
  encode(w: AttributeWriter): void
  /**
   * Its part of the rule's nft text: a load fills a register, a comparison prints the statement
   * (see RuleText). An expression that cannot be said in nft text prints its toString().
   */
  render(r: RuleText): void
  /** One line as nft --debug=netlink prints it: `[ cmp eq reg 1 0x0100000a ]`. */
  toString(): string
}

export type Decoder = (data: Attributes) => Expression

const decoders = new Map<string, Decoder>()

export function registerDecoder(kind: string, decode: Decoder): void {
  decoders.set(kind, decode)
}

/** An expression this library has no type for, kept as raw attributes so it round-trips. */
export class UnknownExpression implements Expression {
  constructor(
    readonly kind: string,
    readonly raw: Buffer,
  ) {}

  encode(w: AttributeWriter): void {
    w.bytes(this.raw)
  }

  /** nft text has no words for it: its kernel name and attribute bytes, so nothing is hidden. */
  render(r: RuleText): void {
    r.emit(this.toString())
  }

  toString(): string {
    return `[ ${this.kind}${this.raw.length ? ` 0x${this.raw.toString('hex')}` : ''} ]`
  }
}

export function decodeExpression(kind: string, data: Attributes | undefined, raw: Buffer): Expression {
  const decode = decoders.get(kind)
  // Some expressions (notrack) carry no attributes at all.
  if (decode) return decode(data ?? new Attributes(Buffer.alloc(0)))
  return new UnknownExpression(kind, Buffer.from(raw))
}
