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

export function renderExpressions(exprs: Expression[]): string {
  const out: string[] = []
  // What each data register holds: a loaded field (waiting for its comparison) or a constant.
  let loaded: { kind: 'meta'; key: string } | { kind: 'payload'; field: string; prefix?: number } | { kind: 'ct'; key: string; mask?: Buffer } | undefined
  const constants = new Map<number, Buffer>()
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
        const key = ['iifname', 'oifname', 'mark', 'l4proto', 'iif', 'oif', 'nfproto'].includes(loaded.key) ? loaded.key : `meta ${loaded.key}`
        out.push(`${key === 'l4proto' || key === 'mark' || key === 'nfproto' ? `meta ${key}` : key} ${opText(e.op)}${metaValue(loaded.key, e.data)}`)
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
    } else if (e instanceof Lookup && loaded) {
      const left = loaded.kind === 'meta' ? loaded.key : loaded.kind === 'payload' ? loaded.field : `ct ${loaded.key}`
      out.push(`${left} ${e.invert ? '!= ' : ''}@${e.set}`)
      loaded = undefined
    } else if (e instanceof Counter) {
      out.push(`counter packets ${e.packets} bytes ${e.bytes}`)
    } else if (e instanceof Immediate && e.register !== NFT_REG_VERDICT && e.value) {
      constants.set(e.register, e.value)
    } else if (e instanceof Immediate && e.verdict) {
      out.push(e.verdict.chain ? `${e.verdict.verdict} ${e.verdict.chain}` : e.verdict.verdict)
    } else if (e instanceof Nat) {
      const addr = e.registers.addrMin !== undefined ? constants.get(e.registers.addrMin) : undefined
      const port = e.registers.protoMin !== undefined ? constants.get(e.registers.protoMin) : undefined
      const addrText = addr ? formatIp(addr) : ''
      out.push(`${e.type} ${e.family} to ${addrText}${port ? `:${port.readUInt16BE(0)}` : ''}`.replace(`${e.type} ip to`, `${e.type} to`))
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
  // nft prints `tcp dport 22`, not `meta l4proto tcp tcp dport 22`: drop the implied protocol match.
  for (let i = out.length - 2; i >= 0; i--) {
    const m = /^meta l4proto (tcp|udp)$/.exec(out[i]!)
    if (m && out[i + 1]!.startsWith(`${m[1]} `)) out.splice(i, 1)
  }
  return out.join(' ')
}
