import { Attributes, type NetlinkMessage } from '@lab/netlink-native'
import { TABLE, type Family } from '../constants.js'
import { nfgenFamily, type TableRef } from './header.js'

export interface Table extends TableRef {
  handle?: bigint
  flags?: number
  /** Number of chains, sets and objects in it (read back only). */
  use?: number
}

export function writeTable(w: import('@lab/netlink-native').AttributeWriter, t: TableRef & { flags?: number }): void {
  w.str(TABLE.NAME, t.name)
  if (t.flags !== undefined) w.be32(TABLE.FLAGS, t.flags)
}

export function decodeTable(m: NetlinkMessage): Table {
  const family: Family = nfgenFamily(m)
  const a = new Attributes(m.payload, 4)
  const t: Table = { family, name: a.str(TABLE.NAME) ?? '' }
  const handle = a.be64(TABLE.HANDLE)
  if (handle !== undefined) t.handle = handle
  const flags = a.be32(TABLE.FLAGS)
  if (flags) t.flags = flags
  const use = a.be32(TABLE.USE)
  if (use !== undefined) t.use = use
  return t
}

export function tableToString(t: TableRef): string {
  return `table ${t.family} ${t.name}`
}
