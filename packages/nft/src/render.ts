// Expressions back to nft text, as `nft list ruleset` prints them: a load into a register and the
// comparison (or lookup) that follows it read as one match.
import { formatIp, formatMac } from '@lab/netlink-native'
import { NFT_REG_VERDICT } from './constants.js'
import { Bitwise } from './expr/bitwise.js'
import { Cmp, type CmpOp } from './expr/cmp.js'
import { Counter } from './expr/counter.js'
import { CT_STATES, Ct } from './expr/ct.js'
import type { Expression } from './expr/expression.js'
import { Immediate } from './expr/immediate.js'
import { Lookup } from './expr/lookup.js'
import { Masquerade, Redirect } from './expr/masq.js'
import { Meta } from './expr/meta.js'
import { Nat } from './expr/nat.js'
import { FIELDS, Payload } from './expr/payload.js'
import { Range } from './expr/range.js'
import { Limit } from './expr/limit.js'
import { Log } from './expr/log.js'
import { Notrack } from './expr/notrack.js'
import { Reject } from './expr/reject.js'

export interface RenderContext {
  /** The table's family: NAT prints its address family outside ip/ip6 tables, as nft does. */
  family?: import('./constants.js').Family
  /** Inline sets known by transaction id (a builder's own). */
  inlineById?: Map<number, string>
  /** Inline sets known by kernel name (`__set0`), from read-back. */
  inlineByName?: Map<string, string>
}

const L4_NAMES: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 58: 'ipv6-icmp', 132: 'sctp' }

function opText(op: CmpOp): string {
  return op === '==' ? '' : `${op} `
}

function fieldName(p: Payload, l4: string | undefined): string | undefined {
  for (const [name, f] of Object.entries(FIELDS)) {
    if (f.base !== p.base || f.offset !== p.offset || f.len !== p.len) continue
    // tcp and udp ports sit at the same offsets: the protocol matched before decides the name.
    if (p.base === 'transport') return `${l4 === 'tcp' || l4 === 'udp' ? l4 : 'th'} ${name.split(' ')[1]}`
    return name
  }
  return undefined
}

function valueText(field: string, data: Buffer, prefix?: number): string {
  if (field.endsWith('saddr') || field.endsWith('daddr')) {
    if (field.startsWith('ether')) return formatMac(data)
    const ip = formatIp(data)
    return prefix !== undefined ? `${ip}/${prefix}` : ip
  }
  if (field.endsWith('sport') || field.endsWith('dport') || field === 'ether type') return String(data.readUInt16BE(0))
  if (field === 'ip protocol' || field === 'ip6 nexthdr') return L4_NAMES[data[0]!] ?? String(data[0])
  return `0x${data.toString('hex')}`
}

function metaValue(key: string, data: Buffer): string {
  if (key === 'iifname' || key === 'oifname') return JSON.stringify(data.toString('utf8').replace(/\0.*$/s, ''))
  if (key === 'l4proto') return L4_NAMES[data[0]!] ?? String(data[0])
  if (key === 'mark') return `0x${data.readUInt32LE(0).toString(16).padStart(8, '0')}`
  if (key === 'nfproto') return data[0] === 2 ? 'ipv4' : data[0] === 10 ? 'ipv6' : String(data[0])
  if (key === 'protocol' && data.length === 2) return ({ 0x0800: 'ip', 0x86dd: 'ip6', 0x0806: 'arp' } as Record<number, string>)[data.readUInt16BE(0)] ?? `0x${data.toString('hex')}`
  if (data.length === 4) return String(data.readUInt32LE(0))
  return `0x${data.toString('hex')}`
}

function prefixLength(mask: Buffer): number | undefined {
  let bits = 0
  let ended = false
  for (const byte of mask) {
    for (let b = 7; b >= 0; b--) {
      const set = (byte >> b) & 1
      if (set && ended) return undefined
      if (set) bits++
      else ended = true
    }
  }
  return bits
}

const ICMP_CODES: Record<number, string> = { 0: 'net-unreachable', 1: 'host-unreachable', 2: 'prot-unreachable', 3: 'port-unreachable', 9: 'net-prohibited', 10: 'host-prohibited', 13: 'admin-prohibited' }
const ICMPX_CODES: Record<number, string> = { 0: 'no-route', 1: 'port-unreachable', 2: 'host-unreachable', 3: 'admin-prohibited' }

/** nft leaves out the family's default: icmp port-unreachable in ip tables, icmpx in inet ones. */
function rejectText(e: Reject, family: RenderContext['family']): string {
  if (e.type === 'tcp-reset') return 'reject with tcp reset'
  const icmpx = e.type === 'icmpx-unreachable'
  const isDefault = e.code === (icmpx ? 1 : 3) && (icmpx ? family === 'inet' : family !== 'inet')
  if (isDefault) return 'reject'
  const name = (icmpx ? ICMPX_CODES : ICMP_CODES)[e.code] ?? String(e.code)
  return `reject with ${icmpx ? 'icmpx' : 'icmp'} ${name}`
}

export function renderExpressions(exprs: Expression[], context: RenderContext = {}): string {
  const out: string[] = []
  // What each data register holds: a loaded field (waiting for its comparison) or a constant.
  let loaded: { kind: 'meta'; key: string } | { kind: 'payload'; field: string; prefix?: number } | { kind: 'ct'; key: string; mask?: Buffer } | undefined
  const constants = new Map<number, Buffer>()
  const mapped = new Map<number, string>()
  let l4: string | undefined
  for (const e of exprs) {
    if (e instanceof Meta && e.sourceRegister === undefined) {
      loaded = { kind: 'meta', key: e.key }
    } else if (e instanceof Payload) {
      const field = fieldName(e, l4)
      loaded = field ? { kind: 'payload', field } : { kind: 'payload', field: `@${e.base},${e.offset * 8},${e.len * 8}` }
    } else if (e instanceof Ct) {
      loaded = { kind: 'ct', key: e.key }
    } else if (e instanceof Bitwise && loaded) {
      if (loaded.kind === 'payload') loaded = { ...loaded, prefix: prefixLength(e.mask) }
      else if (loaded.kind === 'ct') loaded = { ...loaded, mask: e.mask }
    } else if (e instanceof Cmp && loaded) {
      if (loaded.kind === 'meta') {
        if (loaded.key === 'l4proto') l4 = L4_NAMES[e.data[0]!]
        // `meta l4proto tcp` followed by a port match is what nft itself implies: print it as nft does.
        const bare = ['iifname', 'oifname', 'iif', 'oif'].includes(loaded.key)
        out.push(`${bare ? loaded.key : `meta ${loaded.key}`} ${opText(e.op)}${metaValue(loaded.key, e.data)}`)
      } else if (loaded.kind === 'payload') {
        out.push(`${loaded.field} ${opText(e.op)}${valueText(loaded.field, e.data, loaded.prefix)}`)
      } else if (loaded.kind === 'ct' && loaded.key === 'state' && loaded.mask) {
        const bits = loaded.mask.readUInt32LE(0)
        const names = Object.entries(CT_STATES)
          .filter(([, bit]) => bits & bit)
          .map(([n]) => n)
        out.push(`ct state ${names.join(',')}`)
      } else {
        out.push(`ct ${loaded.key} ${opText(e.op)}0x${e.data.toString('hex')}`)
      }
      loaded = undefined
    } else if (e instanceof Lookup && loaded && e.destRegister === NFT_REG_VERDICT) {
      const left = loaded.kind === 'meta' ? loaded.key : loaded.kind === 'payload' ? loaded.field : `ct ${loaded.key}`
      const inline = (e.setId !== undefined ? context.inlineById?.get(e.setId) : undefined) ?? context.inlineByName?.get(e.set)
      out.push(`${left} vmap ${inline ?? `@${e.set}`}`)
      loaded = undefined
    } else if (e instanceof Lookup && loaded && e.destRegister !== undefined) {
      // A data map: the value lands in a register, for the NAT that follows.
      const left = loaded.kind === 'meta' ? loaded.key : loaded.kind === 'payload' ? loaded.field : `ct ${loaded.key}`
      mapped.set(e.destRegister, `${left} map @${e.set}`)
      loaded = undefined
    } else if (e instanceof Lookup && loaded) {
      const left = loaded.kind === 'meta' ? loaded.key : loaded.kind === 'payload' ? loaded.field : `ct ${loaded.key}`
      const inline = (e.setId !== undefined ? context.inlineById?.get(e.setId) : undefined) ?? context.inlineByName?.get(e.set)
      out.push(`${left} ${e.invert ? '!= ' : ''}${inline ?? `@${e.set}`}`)
      loaded = undefined
    } else if (e instanceof Range && loaded?.kind === 'payload') {
      out.push(`${loaded.field} ${e.invert ? '!= ' : ''}${valueText(loaded.field, e.from)}-${valueText(loaded.field, e.to)}`)
      loaded = undefined
    } else if (e instanceof Limit) {
      const unit = e.bytes ? 'bytes' : 'packets'
      out.push(`limit rate ${e.over ? 'over ' : ''}${e.rate}/${e.per}${e.burst !== 5 || e.bytes ? ` burst ${e.burst} ${unit}` : ''}`)
    } else if (e instanceof Log) {
      const parts = ['log']
      if (e.prefix !== undefined) parts.push(`prefix ${JSON.stringify(e.prefix)}`)
      if (e.group !== undefined) parts.push(`group ${e.group}`)
      else if (e.level !== undefined && e.level !== 'warn') parts.push(`level ${e.level}`)
      out.push(parts.join(' '))
    } else if (e instanceof Notrack) {
      out.push('notrack')
    } else if (e instanceof Reject) {
      out.push(rejectText(e, context.family))
    } else if (e instanceof Counter) {
      out.push(`counter packets ${e.packets} bytes ${e.bytes}`)
    } else if (e instanceof Immediate && e.register !== NFT_REG_VERDICT && e.value) {
      constants.set(e.register, e.value)
    } else if (e instanceof Immediate && e.verdict) {
      out.push(e.verdict.chain ? `${e.verdict.verdict} ${e.verdict.chain}` : e.verdict.verdict)
    } else if (e instanceof Nat) {
      const addr = e.registers.addrMin !== undefined ? constants.get(e.registers.addrMin) : undefined
      const port = e.registers.protoMin !== undefined ? constants.get(e.registers.protoMin) : undefined
      const fromMap = e.registers.addrMin !== undefined ? mapped.get(e.registers.addrMin) : undefined
      // The kernel reports the max register as the min one when no range was given.
      const addrMax = e.registers.addrMax !== undefined && e.registers.addrMax !== e.registers.addrMin ? constants.get(e.registers.addrMax) : undefined
      const addrText = fromMap ?? (addr ? formatIp(addr) + (addrMax ? `-${formatIp(addrMax)}` : '') : '')
      const portMax = e.registers.protoMax !== undefined && e.registers.protoMax !== e.registers.protoMin ? constants.get(e.registers.protoMax) : undefined
      const spelled = context.family === 'inet' || context.family === 'bridge' || context.family === 'netdev' ? ` ${e.family}` : ''
      out.push(`${e.type}${spelled} to ${addrText}${port ? `:${port.readUInt16BE(0)}${portMax && !portMax.equals(port) ? `-${portMax.readUInt16BE(0)}` : ''}` : ''}`)
    } else if (e instanceof Masquerade || e instanceof Redirect) {
      const min = e.protoMin !== undefined ? constants.get(e.protoMin) : undefined
      const max = e.protoMax !== undefined ? constants.get(e.protoMax) : undefined
      const word = e instanceof Masquerade ? 'masquerade' : 'redirect'
      if (!min) out.push(word)
      else if (max && !max.equals(min)) out.push(`${word} to :${min.readUInt16BE(0)}-${max.readUInt16BE(0)}`)
      else out.push(`${word} to :${min.readUInt16BE(0)}`)
    } else {
      out.push(`[${e.kind}]`)
    }
  }
  // nft prints `tcp dport 22`, not `meta l4proto tcp tcp dport 22`, and leaves out the protocol
  // check it adds before IP header matches in inet tables: drop the implied matches.
  for (let i = out.length - 2; i >= 0; i--) {
    const m = /^meta (?:l4proto (tcp|udp)|nfproto (ipv4|ipv6)|protocol (ip|ip6))$/.exec(out[i]!)
    if (!m) continue
    const next = m[1] ? `${m[1]} ` : m[2] === 'ipv4' || m[3] === 'ip' ? 'ip ' : 'ip6 '
    // The implied match also covers a NAT whose address comes from a map keyed by that header.
    const following = out[i + 1]!.replace(/^(?:snat|dnat)(?: ip6?)? to /, '')
    if (following.startsWith(next)) out.splice(i, 1)
  }
  return out.join(' ')
}
