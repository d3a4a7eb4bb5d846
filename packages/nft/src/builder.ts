// Builds a rule's expressions with calls that read like the nft text they make:
//   rule().oifname('uplink').masquerade()          -> oifname "uplink" masquerade
//   rule().ip('saddr', '10.0.0.0/8').counter().accept()
import { ArgumentError, parseCidr, parseIp } from '@lab/netlink-native'
import { NFT_REG_1, type VerdictName } from './constants.js'
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
import { renderExpressions } from './render.js'

const NFT_REG_2 = 2

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

export class RuleBuilder {
  readonly exprs: Expression[] = []

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
    if (value.startsWith('@')) return this.#push(Payload.field(field), new Lookup(value.slice(1), NFT_REG_1, op === '!='))
    const p = value.includes('/') ? parseCidr(value, field) : { ...parseIp(value, field), length: family === 4 ? 32 : 128 }
    if (p.family !== family) throw new ArgumentError(field, `${value} is not an IPv${family} address`)
    const full = family === 4 ? 32 : 128
    if (p.length === full) return this.#push(Payload.field(field), new Cmp(op, p.bytes))
    const mask = Bitwise.prefix(p.length, p.bytes.length)
    const net = Buffer.from(p.bytes.map((b, i) => b & mask.mask[i]!))
    return this.#push(Payload.field(field), mask, new Cmp(op, net))
  }

  /** `ip saddr 10.0.0.1`, `ip daddr 10.0.0.0/8`, `ip saddr @set` */
  ip(field: 'saddr' | 'daddr', value: string, op: CmpOp = '=='): this {
    return this.#address(`ip ${field}`, value, op, 4)
  }

  ip6(field: 'saddr' | 'daddr', value: string, op: CmpOp = '=='): this {
    return this.#address(`ip6 ${field}`, value, op, 6)
  }

  #port(proto: 'tcp' | 'udp', field: 'sport' | 'dport', value: number | string, op: CmpOp): this {
    // `tcp dport 22` implies the protocol match nft adds itself.
    this.l4proto(proto)
    if (typeof value === 'string' && value.startsWith('@')) return this.#push(Payload.field(`${proto} ${field}`), new Lookup(value.slice(1), NFT_REG_1, op === '!='))
    return this.#push(Payload.field(`${proto} ${field}`), new Cmp(op, be16(Number(value), `${proto} ${field}`)))
  }

  tcp(field: 'sport' | 'dport', port: number | string, op: CmpOp = '=='): this {
    return this.#port('tcp', field, port, op)
  }

  udp(field: 'sport' | 'dport', port: number | string, op: CmpOp = '=='): this {
    return this.#port('udp', field, port, op)
  }

  /** `ct state established,related` */
  ctState(...states: Array<keyof typeof CT_STATES>): this {
    const bits = states.reduce((b, s) => b | CT_STATES[s], 0)
    return this.#push(new Ct('state'), new Bitwise(u32le(bits), Buffer.alloc(4)), new Cmp('!=', Buffer.alloc(4)))
  }

  counter(): this {
    return this.#push(new Counter())
  }

  #nat(type: 'snat' | 'dnat', address: string, port?: number): this {
    const ip = parseIp(address, type)
    const family = ip.family === 4 ? 'ip' : 'ip6'
    const exprs: Expression[] = [Immediate.value(NFT_REG_1, ip.bytes)]
    if (port !== undefined) exprs.push(Immediate.value(NFT_REG_2, be16(port, `${type} port`)))
    exprs.push(new Nat(type, family, { addrMin: NFT_REG_1, ...(port !== undefined ? { protoMin: NFT_REG_2 } : {}) }))
    return this.#push(...exprs)
  }

  /** `snat to 10.0.0.1[:port]` */
  snat(address: string, port?: number): this {
    return this.#nat('snat', address, port)
  }

  /** `dnat to 10.0.0.2[:port]` */
  dnat(address: string, port?: number): this {
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

  toString(): string {
    return renderExpressions(this.exprs)
  }
}

export function rule(): RuleBuilder {
  return new RuleBuilder()
}
