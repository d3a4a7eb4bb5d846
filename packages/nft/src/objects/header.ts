// struct nfgenmsg, in front of every nf_tables message: family, version, resource id.
import { fixedHeader, type AttributeWriter, type NetlinkMessage } from '@lab/netlink-native'
import { FAMILIES, NFNETLINK_V0, familyName, type Family } from '../constants.js'

export function nfgenmsg(w: AttributeWriter, family: Family | 'unspec', resId = 0): void {
  const at = w.reserve(4)
  w.buf.writeUInt8(FAMILIES[family], at)
  w.buf.writeUInt8(NFNETLINK_V0, at + 1)
  w.buf.writeUInt16BE(resId, at + 2)
}

/**
 * The family of a received nf_tables message, from its nfgenmsg. A payload too short to hold one
 * is a DecodeError (found by the fuzz tests: it was a RangeError from the Buffer read).
 */
export function nfgenFamily(m: NetlinkMessage): Family {
  return familyName(fixedHeader(m.payload, 4, 'nfgenmsg').readUInt8(0))
}

export interface TableRef {
  family: Family
  name: string
}
