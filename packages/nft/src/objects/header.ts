// struct nfgenmsg, in front of every nf_tables message: family, version, resource id.
import type { AttributeWriter } from '@lab/netlink-native'
import { FAMILIES, NFNETLINK_V0, type Family } from '../constants.js'

export function nfgenmsg(w: AttributeWriter, family: Family | 'unspec', resId = 0): void {
  const at = w.reserve(4)
  w.buf.writeUInt8(FAMILIES[family], at)
  w.buf.writeUInt8(NFNETLINK_V0, at + 1)
  w.buf.writeUInt16BE(resId, at + 2)
}

export interface TableRef {
  family: Family
  name: string
}
