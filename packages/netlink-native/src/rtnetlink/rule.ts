// Policy routing rules (RTM_*RULE).
import { ArgumentError } from '../errors.js'
import { Attributes, fixedHeader } from '../netlink/attributes.js'
import { NLM_F_CREATE, NLM_F_EXCL } from '../netlink/constants.js'
import type { MessageWriter, NetlinkMessage } from '../netlink/message.js'
import type { Operation } from './context.js'
import * as C from './constants.js'
import { afOf, familyOf, formatIp, networkOf, parseCidr, type Family } from './inet.js'
import { tableNumber } from './route.js'

export interface Rule {
  family: Family
  priority?: number
  /** "10.0.0.0/8", or undefined for "all" */
  src?: string
  dst?: string
  iif?: string
  oif?: string
  fwmark?: number
  fwmask?: number
  table: number
  action: string
  protocol?: number
}

export interface RuleOptions {
  family?: Family
  priority?: number
  src?: string
  dst?: string
  iif?: string
  oif?: string
  fwmark?: number
  fwmask?: number
  table?: 'main' | 'local' | 'default' | number
  action?: 'table' | 'blackhole' | 'unreachable' | 'prohibit' | 'nop'
}

export function decodeRule(message: NetlinkMessage): Rule {
  const p = fixedHeader(message.payload, 12, 'struct fib_rule_hdr')
  const family = familyOf(p.readUInt8(0)) ?? 4
  const a = new Attributes(p, 12)
  const rule: Rule = {
    family,
    table: a.u32(C.FRA_TABLE) ?? p.readUInt8(4),
    action: C.RULE_ACTIONS[p.readUInt8(7)] ?? String(p.readUInt8(7)),
  }
  const prio = a.u32(C.FRA_PRIORITY)
  if (prio !== undefined) rule.priority = prio
  const src = a.get(C.FRA_SRC)
  if (src) rule.src = `${formatIp(src)}/${p.readUInt8(2)}`
  const dst = a.get(C.FRA_DST)
  if (dst) rule.dst = `${formatIp(dst)}/${p.readUInt8(1)}`
  const iif = a.str(C.FRA_IIFNAME)
  if (iif) rule.iif = iif
  const oif = a.str(C.FRA_OIFNAME)
  if (oif) rule.oif = oif
  const mark = a.u32(C.FRA_FWMARK)
  if (mark !== undefined) rule.fwmark = mark
  const mask = a.u32(C.FRA_FWMASK)
  if (mask !== undefined) rule.fwmask = mask
  const proto = a.u8(C.FRA_PROTOCOL)
  if (proto !== undefined) rule.protocol = proto
  return rule
}

const ACTIONS: Record<string, number> = { table: C.FR_ACT_TO_TBL, blackhole: C.FR_ACT_BLACKHOLE, unreachable: C.FR_ACT_UNREACHABLE, prohibit: C.FR_ACT_PROHIBIT, nop: C.FR_ACT_NOP }

function ruleOperation(kind: 'add' | 'del', o: RuleOptions): Operation<void> {
  const src = o.src ? parseCidr(o.src, 'src') : undefined
  const dst = o.dst ? parseCidr(o.dst, 'dst') : undefined
  const family = o.family ?? src?.family ?? dst?.family ?? 4
  if ((src && src.family !== family) || (dst && dst.family !== family)) throw new ArgumentError('family', 'src/dst families differ')
  const action = ACTIONS[o.action ?? 'table']
  if (action === undefined) throw new ArgumentError('action', `unknown action ${o.action}`)
  if (o.priority !== undefined && (!Number.isInteger(o.priority) || o.priority < 0)) throw new ArgumentError('priority', `invalid ${o.priority}`)
  const table = o.table === undefined && kind === 'del' ? 0 : tableNumber(o.table)
  return {
    refs: [],
    encode: () => ({
      type: kind === 'add' ? C.RTM_NEWRULE : C.RTM_DELRULE,
      flags: kind === 'add' ? NLM_F_CREATE | NLM_F_EXCL : 0,
      op: `rule ${kind}`,
      object: [o.priority !== undefined && `pref ${o.priority}`, o.src && `from ${o.src}`, o.dst && `to ${o.dst}`, o.fwmark !== undefined && `fwmark ${o.fwmark}`, `table ${o.table ?? 'main'}`]
        .filter(Boolean)
        .join(' '),
      body: (w) => {
        const at = w.reserve(12)
        w.buf.writeUInt8(afOf(family), at)
        w.buf.writeUInt8(dst?.length ?? 0, at + 1)
        w.buf.writeUInt8(src?.length ?? 0, at + 2)
        w.buf.writeUInt8(table < 256 ? table : 252, at + 4)
        w.buf.writeUInt8(kind === 'del' && o.action === undefined ? 0 : action, at + 7)
        if (table) w.u32(C.FRA_TABLE, table)
        if (o.priority !== undefined) w.u32(C.FRA_PRIORITY, o.priority)
        if (src) w.attr(C.FRA_SRC, networkOf(src))
        if (dst) w.attr(C.FRA_DST, networkOf(dst))
        if (o.iif) w.str(C.FRA_IIFNAME, o.iif)
        if (o.oif) w.str(C.FRA_OIFNAME, o.oif)
        if (o.fwmark !== undefined) w.u32(C.FRA_FWMARK, o.fwmark)
        if (o.fwmask !== undefined) w.u32(C.FRA_FWMASK, o.fwmask)
      },
    }),
    decode: () => undefined,
  }
}

export const ruleAdd = (o: RuleOptions) => ruleOperation('add', o)
export const ruleDel = (o: RuleOptions) => ruleOperation('del', o)

export function ruleDumpRequest(w: MessageWriter, family?: Family): void {
  const at = w.reserve(12)
  w.buf.writeUInt8(family ? afOf(family) : 0, at)
}
