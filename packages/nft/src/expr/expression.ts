// An nf_tables expression is a small value that knows its kernel name, how to write its attributes,
// and how it reads back. Rules are lists of them.
import { Attributes, type AttributeWriter } from '@lab/netlink-native'

export interface Expression {
  /** The kernel's name for it: "meta", "cmp", "payload", ... */
  readonly kind: string
  /** Writes the NFTA_EXPR_DATA attributes. */
  encode(w: AttributeWriter): void
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
}

export function decodeExpression(kind: string, data: Attributes | undefined, raw: Buffer): Expression {
  const decode = decoders.get(kind)
  // Some expressions (notrack) carry no attributes at all.
  if (decode) return decode(data ?? new Attributes(Buffer.alloc(0)))
  return new UnknownExpression(kind, Buffer.from(raw))
}
