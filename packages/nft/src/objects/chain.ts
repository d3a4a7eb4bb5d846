import { Attributes, type AttributeWriter, type NetlinkMessage } from '@lab/netlink-native'
import { ArgumentError } from '@lab/netlink-native'
import { CHAIN, HOOK, HOOKS, PRIORITIES, VERDICTS, type HookName } from '../constants.js'
import { nfgenFamily, type TableRef } from './header.js'

export interface ChainSpec {
  table: TableRef
  name: string
  /** Base chains: filter, nat or route. Omitted: a regular chain (jump/goto target). */
  type?: 'filter' | 'nat' | 'route'
  hook?: HookName
  /** A number or a named priority (filter, srcnat, dstnat, mangle, raw, security), optionally ±N. */
  priority?: number | string
  policy?: 'accept' | 'drop'
  /** netdev ingress: the device. */
  device?: string
}

export interface Chain extends ChainSpec {
  handle?: bigint
  /** Resolved priority number. */
  priorityValue?: number
}

export function priorityOf(p: number | string | undefined): number {
  if (p === undefined) return 0
  if (typeof p === 'number') return p
  const m = /^([a-z]+)\s*(?:([+-])\s*(\d+))?$/.exec(p.trim())
  if (m && PRIORITIES[m[1]!] !== undefined) return PRIORITIES[m[1]!]! + (m[2] ? (m[2] === '-' ? -1 : 1) * Number(m[3]) : 0)
  if (/^-?\d+$/.test(p.trim())) return Number(p)
  throw new ArgumentError('priority', `unknown priority ${JSON.stringify(p)} (a number or ${Object.keys(PRIORITIES).join(', ')}[±N])`)
}

export function validateChain(c: ChainSpec): void {
  if (!c.name) throw new ArgumentError('name', 'chain name required')
  const base = c.type !== undefined || c.hook !== undefined
  if (base && (c.type === undefined || c.hook === undefined)) throw new ArgumentError('hook', 'a base chain needs both type and hook')
  if (c.hook !== undefined && !(c.hook in HOOKS)) throw new ArgumentError('hook', `unknown hook ${c.hook}`)
  priorityOf(c.priority)
}

export function writeChain(w: AttributeWriter, c: ChainSpec): void {
  w.str(CHAIN.TABLE, c.table.name)
  w.str(CHAIN.NAME, c.name)
  if (c.hook !== undefined) {
    w.nested(CHAIN.HOOK, () => {
      w.be32(HOOK.HOOKNUM, HOOKS[c.hook!])
      w.be32(HOOK.PRIORITY, priorityOf(c.priority) >>> 0)
      if (c.device) w.str(HOOK.DEV, c.device)
    })
  }
  if (c.policy !== undefined) w.be32(CHAIN.POLICY, VERDICTS[c.policy])
  if (c.type !== undefined) w.str(CHAIN.TYPE, c.type)
}

const HOOK_NAMES: Record<string, Record<number, HookName>> = {
  default: { 0: 'prerouting', 1: 'input', 2: 'forward', 3: 'output', 4: 'postrouting' },
  netdev: { 0: 'ingress' },
}

export function decodeChain(m: NetlinkMessage): Chain {
  const family = nfgenFamily(m)
  const a = new Attributes(m.payload, 4)
  const c: Chain = { table: { family, name: a.str(CHAIN.TABLE) ?? '' }, name: a.str(CHAIN.NAME) ?? '' }
  const handle = a.be64(CHAIN.HANDLE)
  if (handle !== undefined) c.handle = handle
  const type = a.str(CHAIN.TYPE)
  if (type) c.type = type as Chain['type']
  const hook = a.nested(CHAIN.HOOK)
  if (hook) {
    const num = hook.be32(HOOK.HOOKNUM) ?? 0
    c.hook = (HOOK_NAMES[family === 'netdev' ? 'netdev' : 'default']![num] ?? 'prerouting') as HookName
    c.priorityValue = (hook.be32(HOOK.PRIORITY) ?? 0) | 0
    c.priority = c.priorityValue
    const dev = hook.str(HOOK.DEV)
    if (dev) c.device = dev
  }
  const policy = a.be32(CHAIN.POLICY)
  if (policy !== undefined) c.policy = policy === VERDICTS.drop ? 'drop' : 'accept'
  return c
}

function priorityText(value: number, type: string | undefined): string {
  const named = Object.entries(PRIORITIES).filter(([name]) => (type === 'nat' ? ['srcnat', 'dstnat'].includes(name) || name === 'filter' : !['srcnat', 'dstnat'].includes(name)))
  for (const [name, base] of named) {
    if (value === base) return name
  }
  return String(value)
}

/** The chain's head line as `nft list ruleset` prints it. */
export function chainHeader(c: ChainSpec): string {
  if (c.hook === undefined) return `chain ${c.name}`
  const prio = priorityText(priorityOf(c.priority), c.type)
  const dev = c.device ? ` device ${c.device}` : ''
  return `chain ${c.name} {\n\t\ttype ${c.type} hook ${c.hook}${dev} priority ${prio}; policy ${c.policy ?? 'accept'};`
}
