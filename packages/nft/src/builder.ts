// Builds a rule's expressions with calls that read like the nft text they make:
//   rule().oifname('uplink').masquerade()          -> oifname "uplink" masquerade
//   rule().ip('saddr', '10.0.0.0/8').counter().accept()
import { ArgumentError, parseCidr, parseIp } from '@lab/netlink-native'
import { NFT_REG_1, type Family, type VerdictName } from './constants.js'
import { Bitwise } from './expr/bitwise.js'
import { Cmp, type CmpOp } from './expr/cmp.js'
import { Counter } from './expr/counter.js'
import { CT_STATES, Ct } from './expr/ct.js'
import type { Expression } from './expr/expression.js'
import { Immediate } from './expr/immediate.js'
import { Lookup } from './expr/lookup.js'
import { Masquerade, Redirect } from './expr/masq.js'
import { Meta, type MetaKey } from './expr/meta.js'
import { Nat } from './expr/nat.js'
import { Payload, type FieldName } from './expr/payload.js'
import { Range } from './expr/range.js'
import { Limit, type LimitUnit } from './expr/limit.js'
import { Log, type LogLevel } from './expr/log.js'
import { Notrack } from './expr/notrack.js'
import { Reject, type RejectType } from './expr/reject.js'
import { elementsText, parseInterval, specElements, type ElementValue, type SetType } from './objects/set.js'
import { renderExpressions } from './expr/render.js'
import type { RuleText } from './expr/rule-text.js'
import { NFT_ERROR_CODES, NftError } from './errors.js'

/** An inline set (`{ 22, 80, 443 }`, `{ 10.0.0.0/8, 192.0.2.1 }`): created with the rule, in the same transaction. */
export interface AnonymousSet {
  name: string
  /**
   * The builder's own id for it; the transaction that adds the rule gives the set an id of its
   * connection and points the rule's lookup at that.
   */
  id: number
  type: SetType
  elements: ElementValue[]
  /** Some element is a prefix or a range: the set needs the interval flag. */
  interval: boolean
  /** Inline verdict maps: the verdict of each element, in order. */
  verdicts?: Array<{ verdict: VerdictName; chain?: string }>
}

const FIELD_SET_TYPES: Partial<Record<FieldName, SetType>> = {
  'ip saddr': 'ipv4_addr',
  'ip daddr': 'ipv4_addr',
  'ip6 saddr': 'ipv6_addr',
  'ip6 daddr': 'ipv6_addr',
  'tcp sport': 'inet_service',
  'tcp dport': 'inet_service',
  'udp sport': 'inet_service',
  'udp dport': 'inet_service',
  'ether saddr': 'ether_addr',
  'ether daddr': 'ether_addr',
}

const NFT_REG_2 = 2
const NFT_REG_3 = 3
const NFT_REG_4 = 4

function ifname(name: string): Buffer {
  if (Buffer.byteLength(name) > 15) throw new ArgumentError('ifname', `interface name too long: ${name}`)
  const b = Buffer.alloc(16)
  b.write(name)
  return b
}

function u32le(n: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32LE(n >>> 0)
  return b
}

function be16(n: number, field: string): Buffer {
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new ArgumentError(field, `invalid port ${n}`)
  const b = Buffer.alloc(2)
  b.writeUInt16BE(n)
  return b
}

const L4: Record<string, number> = { icmp: 1, tcp: 6, udp: 17, icmpv6: 58, sctp: 132 }

/** A match on an IPv4/IPv6 header field: in inet, bridge and netdev tables it needs a protocol check first. */
export class NetworkDependency implements Expression {
  readonly kind = 'dependency'
  constructor(readonly family: 4 | 6) {}
  encode(): void {
    throw new NftError(NFT_ERROR_CODES.internal, 'a protocol dependency is expanded by the transaction, never sent')
  }

  /** Prints nothing: expanded for the table's family first, it becomes the check nft leaves out. */
  render(_r: RuleText): void {}

  toString(): string {
    return `[ dependency ipv${this.family} ]`
  }
}

/** Whether inline elements hold a prefix or range (checking each on the way, before anything is sent). */
function needsInterval(type: SetType, elements: ElementValue[]): boolean {
  let interval = false
  for (const e of elements) {
    const { from, to } = parseInterval(type, e, true)
    if (!from.equals(to)) interval = true
  }
  return interval
}

export class RuleBuilder {
  readonly exprs: Expression[] = []
  readonly anonymousSets: AnonymousSet[] = []
  #nextId = 1

  #anonymous(type: SetType, elements: ElementValue[], invert: boolean, register = NFT_REG_1): Lookup {
    if (elements.length === 0) throw new ArgumentError('set', 'an inline set needs elements')
    const id = this.#nextId++
    const set: AnonymousSet = { name: '__set%d', id, type, elements, interval: needsInterval(type, elements) }
    this.anonymousSets.push(set)
    return new Lookup(set.name, register, invert, id)
  }

  #push(...e: Expression[]): this {
    this.exprs.push(...e)
    return this
  }

  /** Adds expressions as they are (for what the helpers below do not cover). */
  expr(...e: Expression[]): this {
    return this.#push(...e)
  }

  #meta(key: MetaKey, value: Buffer | string, op: CmpOp): this {
    if (typeof value === 'string' && value.startsWith('@')) return this.#push(new Meta(key), new Lookup(value.slice(1), NFT_REG_1, op === '!='))
    return this.#push(new Meta(key), new Cmp(op, typeof value === 'string' ? ifname(value) : value))
  }

  iifname(name: string, op: CmpOp = '=='): this {
    return this.#meta('iifname', name, op)
  }

  oifname(name: string, op: CmpOp = '=='): this {
    return this.#meta('oifname', name, op)
  }

  /** `meta mark 0x10` */
  mark(value: number, op: CmpOp = '=='): this {
    return this.#meta('mark', u32le(value), op)
  }

  /** `meta l4proto tcp` */
  l4proto(proto: keyof typeof L4 | number, op: CmpOp = '=='): this {
    const n = typeof proto === 'number' ? proto : L4[proto]
    if (n === undefined) throw new ArgumentError('l4proto', `unknown protocol ${proto}`)
    return this.#meta('l4proto', Buffer.from([n]), op)
  }

  #address(field: FieldName, value: string, op: CmpOp, family: 4 | 6): this {
    this.#push(new NetworkDependency(family))
    if (value.startsWith('@')) return this.#push(Payload.field(field), new Lookup(value.slice(1), NFT_REG_1, op === '!='))
    const p = value.includes('/') ? parseCidr(value, field) : { ...parseIp(value, field), length: family === 4 ? 32 : 128 }
    if (p.family !== family) throw new ArgumentError(field, `${value} is not an IPv${family} address`)
    const full = family === 4 ? 32 : 128
    if (p.length === full) return this.#push(Payload.field(field), new Cmp(op, p.bytes))
    const mask = Bitwise.prefix(p.length, p.bytes.length)
    const net = Buffer.from(p.bytes.map((b, i) => b & mask.mask[i]!))
    return this.#push(Payload.field(field), mask, new Cmp(op, net))
  }

  /**
   * `ip saddr 10.0.0.1`, `ip daddr 10.0.0.0/8`, `ip saddr @set`, and with an array an inline set
   * `ip saddr { 10.0.0.0/8, 192.0.2.1, 192.0.2.10-192.0.2.20 }`.
   */
  ip(field: 'saddr' | 'daddr', value: string | string[], op: CmpOp = '=='): this {
    if (Array.isArray(value)) return this.#push(new NetworkDependency(4), Payload.field(`ip ${field}`), this.#anonymous('ipv4_addr', value, op === '!='))
    return this.#address(`ip ${field}`, value, op, 4)
  }

  /** As ip(), for IPv6: `ip6 saddr fd00::/64`, `ip6 saddr @set`, `ip6 daddr { fd00::1, fd01::/64 }`. */
  ip6(field: 'saddr' | 'daddr', value: string | string[], op: CmpOp = '=='): this {
    if (Array.isArray(value)) return this.#push(new NetworkDependency(6), Payload.field(`ip6 ${field}`), this.#anonymous('ipv6_addr', value, op === '!='))
    return this.#address(`ip6 ${field}`, value, op, 6)
  }

  #port(proto: 'tcp' | 'udp', field: 'sport' | 'dport', value: number | string | Array<number | string>, op: CmpOp): this {
    // `tcp dport 22` implies the protocol match nft adds itself.
    this.l4proto(proto)
    const load = Payload.field(`${proto} ${field}`)
    if (Array.isArray(value)) return this.#push(load, this.#anonymous('inet_service', value, op === '!='))
    if (typeof value === 'string' && value.startsWith('@')) return this.#push(load, new Lookup(value.slice(1), NFT_REG_1, op === '!='))
    const range = typeof value === 'string' ? /^(\d+)-(\d+)$/.exec(value) : null
    if (range) return this.#push(load, new Range(be16(Number(range[1]), `${proto} ${field}`), be16(Number(range[2]), `${proto} ${field}`), op === '!='))
    return this.#push(load, new Cmp(op, be16(Number(value), `${proto} ${field}`)))
  }

  /** `tcp dport 22`, `tcp dport 1024-2048` (a string range), `tcp dport { 22, 80, 8000-8080 }` (an array), `tcp dport @ports` */
  tcp(field: 'sport' | 'dport', port: number | string | Array<number | string>, op: CmpOp = '=='): this {
    return this.#port('tcp', field, port, op)
  }

  udp(field: 'sport' | 'dport', port: number | string | Array<number | string>, op: CmpOp = '=='): this {
    return this.#port('udp', field, port, op)
  }

  /**
   * A verdict map keyed by a header field: `tcp dport vmap @services` (an array of [key, verdict]
   * pairs makes an inline one, `tcp dport vmap { 22 : accept, 23 : drop }`).
   */
  vmap(field: FieldName, map: string | Array<[ElementValue, VerdictName | { verdict: VerdictName; chain: string }]>): this {
    this.#fieldDependencies(field)
    if (typeof map !== 'string') {
      const type = FIELD_SET_TYPES[field]
      if (!type) throw new ArgumentError('field', `no inline map type for ${field}`)
      if (map.length === 0) throw new ArgumentError('map', 'an inline map needs elements')
      const id = this.#nextId++
      const elements = map.map(([k]) => k)
      this.anonymousSets.push({ name: '__map%d', id, type, elements, interval: needsInterval(type, elements), verdicts: map.map(([, v]) => (typeof v === 'string' ? { verdict: v } : v)) })
      return this.#push(Payload.field(field), new Lookup('__map%d', NFT_REG_1, false, id, 0))
    }
    if (!map.startsWith('@')) throw new ArgumentError('map', 'name the map as @name')
    return this.#push(Payload.field(field), new Lookup(map.slice(1), NFT_REG_1, false, undefined, 0))
  }

  /** `dnat to ip saddr map @backends` / `snat to ...`: the address comes from a map keyed by a field. */
  natMap(type: 'snat' | 'dnat', field: FieldName, map: string, family: 'ip' | 'ip6' = 'ip'): this {
    if (!map.startsWith('@')) throw new ArgumentError('map', 'name the map as @name')
    this.#fieldDependencies(field)
    return this.#push(Payload.field(field), new Lookup(map.slice(1), NFT_REG_1, false, undefined, NFT_REG_1), new Nat(type, family, { addrMin: NFT_REG_1 }))
  }

  #fieldDependencies(field: FieldName): void {
    if (field.startsWith('ip ')) this.#push(new NetworkDependency(4))
    else if (field.startsWith('ip6 ')) this.#push(new NetworkDependency(6))
    else if (field.startsWith('tcp ') || field.startsWith('udp ')) this.l4proto(field.split(' ')[0] as 'tcp' | 'udp')
  }

  /** `limit rate [over] 10/second [burst N packets]` */
  limit(rate: number, per: LimitUnit = 'second', options: { burst?: number; over?: boolean } = {}): this {
    return this.#push(new Limit(rate, per, options.burst ?? 5, false, options.over ?? false))
  }

  /** `log [prefix "..."] [level L]` */
  log(options: { prefix?: string; level?: LogLevel; group?: number } = {}): this {
    return this.#push(new Log(options.prefix, options.level, options.group))
  }

  notrack(): this {
    return this.#push(new Notrack())
  }

  /** `reject` (ICMP port unreachable) or `reject with tcp reset` */
  reject(type: RejectType = 'icmp-unreachable', code = 3): this {
    return this.#push(new Reject(type, code))
  }

  /** `ct state established,related` */
  ctState(...states: Array<keyof typeof CT_STATES>): this {
    const bits = states.reduce((b, s) => b | CT_STATES[s], 0)
    return this.#push(new Ct('state'), new Bitwise(u32le(bits), Buffer.alloc(4)), new Cmp('!=', Buffer.alloc(4)))
  }

  counter(): this {
    return this.#push(new Counter())
  }

  #nat(type: 'snat' | 'dnat', address: string, port?: number | string): this {
    // "10.0.0.1" or a range "10.0.0.1-10.0.0.9"; ports 80 or "1024-2048".
    const [fromText, toText] = address.split('-') as [string, string | undefined]
    const from = parseIp(fromText, type)
    const to = toText !== undefined ? parseIp(toText, type) : undefined
    if (to && to.family !== from.family) throw new ArgumentError(type, 'address range mixes families')
    const family = from.family === 4 ? 'ip' : 'ip6'
    const [pFrom, pTo] = port === undefined ? [] : String(port).split('-').map((p) => be16(Number(p), `${type} port`))
    const exprs: Expression[] = [Immediate.value(NFT_REG_1, from.bytes)]
    if (to) exprs.push(Immediate.value(NFT_REG_2, to.bytes))
    if (pFrom) exprs.push(Immediate.value(NFT_REG_3, pFrom))
    if (pTo) exprs.push(Immediate.value(NFT_REG_4, pTo))
    exprs.push(
      new Nat(type, family, {
        addrMin: NFT_REG_1,
        ...(to ? { addrMax: NFT_REG_2 } : {}),
        ...(pFrom ? { protoMin: NFT_REG_3 } : {}),
        ...(pTo ? { protoMax: NFT_REG_4 } : {}),
      }),
    )
    return this.#push(...exprs)
  }

  /** `snat to 10.0.0.1[:port]`, `snat to 10.0.0.1-10.0.0.9:1024-2048` */
  snat(address: string, port?: number | string): this {
    return this.#nat('snat', address, port)
  }

  /** `dnat to 10.0.0.2[:port]` */
  dnat(address: string, port?: number | string): this {
    return this.#nat('dnat', address, port)
  }

  /** `masquerade [to :from-to]` */
  masquerade(ports?: [number, number]): this {
    if (!ports) return this.#push(new Masquerade())
    return this.#push(Immediate.value(NFT_REG_1, be16(ports[0], 'masquerade port')), Immediate.value(NFT_REG_2, be16(ports[1], 'masquerade port')), new Masquerade(NFT_REG_1, NFT_REG_2))
  }

  /** `redirect to :port` */
  redirect(port?: number): this {
    if (port === undefined) return this.#push(new Redirect())
    return this.#push(Immediate.value(NFT_REG_1, be16(port, 'redirect port')), new Redirect(NFT_REG_1, NFT_REG_1))
  }

  verdict(verdict: VerdictName, chain?: string): this {
    if ((verdict === 'jump' || verdict === 'goto') && !chain) throw new ArgumentError('chain', `${verdict} needs a chain`)
    return this.#push(Immediate.verdict(verdict, chain))
  }

  accept(): this {
    return this.verdict('accept')
  }

  drop(): this {
    return this.verdict('drop')
  }

  jump(chain: string): this {
    return this.verdict('jump', chain)
  }

  goto(chain: string): this {
    return this.verdict('goto', chain)
  }

  return(): this {
    return this.verdict('return')
  }

  /** The expressions as sent to a table of this family (protocol dependencies resolved). */
  expressionsFor(family: Family): Expression[] {
    return expandDependencies(this.exprs, family)
  }

  toString(family: Family = 'ip'): string {
    const inline = new Map(this.anonymousSets.map((set) => [set.id, inlineText(set)]))
    return renderExpressions(this.expressionsFor(family), { inlineById: inline, family })
  }
}

/** An inline set as nft prints it in a rule: the same element text as read back. */
function inlineText(set: AnonymousSet): string {
  const specs = set.elements.map((key, i) => ({ key, ...(set.verdicts ? { value: set.verdicts[i]! } : {}) }))
  return elementsText({ type: set.type, ...(set.verdicts ? { dataType: 'verdict' as const } : {}) }, specElements(set.type, specs, set.interval), { anonymous: true })
}

/** In inet tables a protocol check (`meta nfproto ipv4`) guards IP header matches, as nft adds it. */
export function expandDependencies(exprs: Expression[], family: Family): Expression[] {
  const out: Expression[] = []
  for (const e of exprs) {
    if (!(e instanceof NetworkDependency)) {
      out.push(e)
      continue
    }
    if (family === 'inet') out.push(new Meta('nfproto'), new Cmp('==', Buffer.from([e.family === 4 ? 2 : 10])))
    else if (family === 'bridge' || family === 'netdev') {
      const proto = Buffer.alloc(2)
      proto.writeUInt16BE(e.family === 4 ? 0x0800 : 0x86dd)
      out.push(new Meta('protocol'), new Cmp('==', proto))
    }
  }
  return out
}



export function rule(): RuleBuilder {
  return new RuleBuilder()
}
