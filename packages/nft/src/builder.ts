// Builds a rule's expressions with calls that read like the nft text they make:
//   rule().oifname('uplink').masquerade()          -> oifname "uplink" masquerade
//   rule().ip('saddr', '10.0.0.0/8').counter().accept()
import { ArgumentError, parseIp, parsePrefixBytes } from '@lab/netlink-native'
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
import { shared } from './expr/wire.js'
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

const PORT_FIELDS = {
  tcp: { sport: 'tcp sport', dport: 'tcp dport' },
  udp: { sport: 'udp sport', dport: 'udp dport' },
} as const satisfies Record<'tcp' | 'udp', Record<'sport' | 'dport', FieldName>>

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

// The expressions many rules repeat are made once and shared (expressions are immutable values),
// so a rule allocates only what is its own and the encoder copies their cached bytes.
const metas = new Map<MetaKey, Meta>()
const meta = (key: MetaKey): Meta => metas.get(key) ?? metas.set(key, shared(new Meta(key))).get(key)!
const payloads = new Map<FieldName, Payload>()
const payload = (field: FieldName): Payload => payloads.get(field) ?? payloads.set(field, shared(Payload.field(field))).get(field)!
/** `==` comparisons of small constants: interface names, protocols, ports. */
const ifnameEq = new Map<string, Cmp>()
const l4Eq: Cmp[] = []
const portEq: Cmp[] = []
const prefixMasks: Bitwise[][] = [[], []]
/** Loads of a byte-aligned prefix's bytes, by field and byte count. */
const prefixLoads = new Map<string, Payload>()
const ctStateMasks = new Map<number, Bitwise>()
const CT_LOAD = shared(new Ct('state'))
const CT_NONZERO = shared(new Cmp('!=', Buffer.alloc(4)))
const COUNTER = shared(new Counter())
const verdicts = new Map<string, Immediate>()
const jumps: Record<'jump' | 'goto', Map<string, Immediate>> = { jump: new Map(), goto: new Map() }

function ifnameCmp(name: string, op: CmpOp): Cmp {
  if (op !== '==') return new Cmp(op, ifname(name))
  let c = ifnameEq.get(name)
  if (c === undefined) {
    c = shared(new Cmp('==', ifname(name)))
    // Bounded: names are few in practice, and a cache is no place for an unbounded set.
    if (ifnameEq.size < 4096) ifnameEq.set(name, c)
  }
  return c
}

/** Ports below 1024 (the ones rulesets repeat) are shared; others are made per rule. */
function portCmp(n: number, op: CmpOp, field: string): Cmp {
  if (op !== '==' || !Number.isInteger(n) || n < 0 || n >= 1024) return new Cmp(op, be16(n, field))
  return (portEq[n] ??= shared(new Cmp('==', be16(n, field))))
}

function verdictImmediate(verdict: VerdictName, chain?: string): Immediate {
  if (verdict === 'jump' || verdict === 'goto') {
    const cache = jumps[verdict]
    let e = cache.get(chain!)
    if (e === undefined) {
      e = shared(Immediate.verdict(verdict, chain))
      if (cache.size < 4096) cache.set(chain!, e)
    }
    return e
  }
  let e = verdicts.get(verdict)
  if (e === undefined) verdicts.set(verdict, (e = shared(Immediate.verdict(verdict))))
  return e
}

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

const DEPENDENCIES = { 4: new NetworkDependency(4), 6: new NetworkDependency(6) } as const

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

  #push2(a: Expression, b: Expression): this {
    this.exprs.push(a, b)
    return this
  }

  /** Adds expressions as they are (for what the helpers below do not cover). */
  expr(...e: Expression[]): this {
    return this.#push(...e)
  }

  #meta(key: MetaKey, value: Buffer | string, op: CmpOp): this {
    if (typeof value === 'string' && value.charCodeAt(0) === 64 /* @ */) return this.#push2(meta(key), new Lookup(value.slice(1), NFT_REG_1, op === '!='))
    return this.#push2(meta(key), typeof value === 'string' ? ifnameCmp(value, op) : new Cmp(op, value))
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
    if (op === '==' && Number.isInteger(n) && n >= 0 && n <= 255) return this.#push2(meta('l4proto'), (l4Eq[n] ??= shared(new Cmp('==', Buffer.from([n])))))
    return this.#meta('l4proto', Buffer.from([n]), op)
  }

  #address(field: FieldName, value: string, op: CmpOp, family: 4 | 6): this {
    if (typeof value === 'string' && value.charCodeAt(0) === 64 /* @ */) {
      this.exprs.push(DEPENDENCIES[family])
      return this.#push2(payload(field), new Lookup(value.slice(1), NFT_REG_1, op === '!='))
    }
    const p = parsePrefixBytes(value, field)
    if (p.family !== family) throw new ArgumentError(field, `${value} is not an IPv${family} address`)
    const full = family === 4 ? 32 : 128
    const length = p.length
    this.exprs.push(DEPENDENCIES[family])
    if (length === full) return this.#push2(payload(field), new Cmp(op, p.bytes))
    // A byte-aligned prefix, as nft sends it: load only the prefix's bytes and compare them (one
    // expression fewer than load, mask, compare; the same match, and `nft list` prints the same).
    if ((op === '==' || op === '!=') && length % 8 === 0 && length > 0) {
      const bytes = length / 8
      const key = `${field}/${bytes}`
      let load = prefixLoads.get(key)
      if (load === undefined) {
        const f = Payload.field(field)
        prefixLoads.set(key, (load = shared(new Payload(f.base, f.offset, bytes))))
      }
      return this.#push2(load, new Cmp(op, p.bytes.subarray(0, bytes)))
    }
    const masks = prefixMasks[family === 4 ? 0 : 1]!
    const mask = (masks[length] ??= shared(Bitwise.prefix(length, p.bytes.length)))
    // The parsed bytes are this call's own: masked in place.
    const net = p.bytes
    for (let i = 0; i < net.length; i++) net[i]! &= mask.mask[i]!
    this.exprs.push(payload(field), mask, new Cmp(op, net))
    return this
  }

  /**
   * `ip saddr 10.0.0.1`, `ip daddr 10.0.0.0/8`, `ip saddr @set`, and with an array an inline set
   * `ip saddr { 10.0.0.0/8, 192.0.2.1, 192.0.2.10-192.0.2.20 }`.
   */
  ip(field: 'saddr' | 'daddr', value: string | string[], op: CmpOp = '=='): this {
    if (Array.isArray(value)) return this.#push(DEPENDENCIES[4], payload(`ip ${field}`), this.#anonymous('ipv4_addr', value, op === '!='))
    return this.#address(`ip ${field}`, value, op, 4)
  }

  /** As ip(), for IPv6: `ip6 saddr fd00::/64`, `ip6 saddr @set`, `ip6 daddr { fd00::1, fd01::/64 }`. */
  ip6(field: 'saddr' | 'daddr', value: string | string[], op: CmpOp = '=='): this {
    if (Array.isArray(value)) return this.#push(DEPENDENCIES[6], payload(`ip6 ${field}`), this.#anonymous('ipv6_addr', value, op === '!='))
    return this.#address(`ip6 ${field}`, value, op, 6)
  }

  #port(proto: 'tcp' | 'udp', field: 'sport' | 'dport', value: number | string | Array<number | string>, op: CmpOp): this {
    // `tcp dport 22` implies the protocol match nft adds itself.
    this.l4proto(proto)
    const name = PORT_FIELDS[proto][field]
    const load = payload(name)
    if (typeof value === 'number') return this.#push2(load, portCmp(value, op, name))
    if (Array.isArray(value)) return this.#push2(load, this.#anonymous('inet_service', value, op === '!='))
    if (typeof value === 'string' && value.charCodeAt(0) === 64 /* @ */) return this.#push2(load, new Lookup(value.slice(1), NFT_REG_1, op === '!='))
    const range = typeof value === 'string' ? /^(\d+)-(\d+)$/.exec(value) : null
    if (range) return this.#push2(load, new Range(be16(Number(range[1]), name), be16(Number(range[2]), name), op === '!='))
    return this.#push2(load, portCmp(Number(value), op, name))
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
    let bits = 0
    for (const s of states) bits |= CT_STATES[s]
    let mask = ctStateMasks.get(bits)
    if (mask === undefined) ctStateMasks.set(bits, (mask = shared(new Bitwise(u32le(bits), Buffer.alloc(4)))))
    this.exprs.push(CT_LOAD, mask, CT_NONZERO)
    return this
  }

  counter(): this {
    this.exprs.push(COUNTER)
    return this
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
    this.exprs.push(verdictImmediate(verdict, chain))
    return this
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

const dependencyCache = new Map<string, [Expression, Expression]>()

/**
 * The protocol check a NetworkDependency stands for in a table of this family (`meta nfproto ipv4`
 * in inet, `meta protocol ip` in bridge and netdev), as nft adds it; none in ip and ip6 tables.
 */
export function dependencyFor(e: NetworkDependency, family: Family): [Expression, Expression] | undefined {
  if (family !== 'inet' && family !== 'bridge' && family !== 'netdev') return undefined
  const key = family === 'inet' ? `inet${e.family}` : `l2${e.family}`
  let pair = dependencyCache.get(key)
  if (pair === undefined) {
    if (family === 'inet') pair = [meta('nfproto'), shared(new Cmp('==', Buffer.from([e.family === 4 ? 2 : 10])))]
    else {
      const proto = Buffer.alloc(2)
      proto.writeUInt16BE(e.family === 4 ? 0x0800 : 0x86dd)
      pair = [meta('protocol'), shared(new Cmp('==', proto))]
    }
    dependencyCache.set(key, pair)
  }
  return pair
}

/**
 * In inet tables a protocol check (`meta nfproto ipv4`) guards IP header matches, as nft adds it:
 * once per rule and protocol (`ip saddr A ip daddr B` checks ipv4 once, as nft does).
 */
export function expandDependencies(exprs: Expression[], family: Family): Expression[] {
  const out: Expression[] = []
  let seen = 0
  for (const e of exprs) {
    if (!(e instanceof NetworkDependency)) {
      out.push(e)
      continue
    }
    if (seen & (e.family === 4 ? 1 : 2)) continue
    seen |= e.family === 4 ? 1 : 2
    const pair = dependencyFor(e, family)
    if (pair) out.push(pair[0], pair[1])
  }
  return out
}

export function rule(): RuleBuilder {
  return new RuleBuilder()
}
