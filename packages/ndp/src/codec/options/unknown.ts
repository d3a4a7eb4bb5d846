// Options this codec has no type for (Nonce, Redirected Header, PvD, ...): kept as raw bytes so a
// decoded message re-encodes unchanged, as google/nftables should have done with unknown exprs.

export interface UnknownOption {
  type: 'unknown'
  /** The option's Type octet. */
  code: number
  /** Everything after Type and Length (`length * 8 - 2` octets, padding included). */
  data: Buffer
}

export function formatUnknown(v: UnknownOption): string {
  return `option ${v.code}, length ${v.data.length + 2}: 0x${v.data.toString('hex')}`
}
