// The server's answers, RFC 8415 section 18.3, as a pure function of the client's message, the
// subnet, the binding database and the time: no sockets here, so every case is testable.
import { duidHex, duidMac, type Duid } from '../codec/duid.js'
import type { IaAddress, IaNa, IaPrefix } from '../codec/ia.js'
import { Dhcp6Message } from '../codec/message.js'
import { Dhcp6Options } from '../codec/options.js'
import { STATUS } from '../codec/status.js'
import type { BindingDatabase, Requester } from './bindings.js'
import { bindingKey, type Lease6, type Lease6Kind } from './lease.js'
import type { Pool6, Subnet6 } from './subnet.js'

export type Dhcp6ResponderEvent =
  /** Solicit: addresses or prefixes advertised (held while the client decides). */
  | 'advertise'
  /** Solicit with rapid commit, Request, Renew, Rebind: bound; the Reply waits for `db.durable()`. */
  | 'reply'
  /** As `reply`, while the journal fails: only bindings already durable, nothing recorded. */
  | 'reply-durable'
  /** Solicit or Request that found nothing to give: answered with NoAddrsAvail / NoPrefixAvail. */
  | 'exhausted'
  /** Would need a new binding while the journal fails: not answered, the client retries. */
  | 'withheld'
  | 'release'
  | 'decline'
  /** Confirm: answered Success or NotOnLink. */
  | 'confirm'
  /** Information-Request: options, no addresses. */
  | 'information'
  /** A message naming another server, or missing the client or server id RFC 8415 16 requires. */
  | 'not-for-us'
  /** A message a server does not answer (Advertise, Reply, ...). */
  | 'not-request'

export interface Dhcp6Outcome {
  event: Dhcp6ResponderEvent
  reply?: Dhcp6Message
  /** The bindings the event made or concerns. */
  leases: Lease6[]
}

export interface Dhcp6Context {
  subnet: Subnet6
  db: BindingDatabase
  serverId: Duid
  /** The client's MAC as a relay told it (RFC 6939), beside the one in its DUID. */
  mac?: string
  /** Preference (option 7) in Advertise; none when undefined. */
  preference?: number
  /** Whether a Solicit with rapid commit is answered with a Reply (default true). */
  rapidCommit?: boolean
}

interface Client {
  duid: Duid
  hex: string
  mac: string | undefined
}

const noOptions = () => new Dhcp6Options()

function reply(type: 'ADVERTISE' | 'REPLY', request: Dhcp6Message, ctx: Dhcp6Context): Dhcp6Message {
  const m = new Dhcp6Message(type, request.transactionId)
  m.options.add(2, ctx.serverId)
  const client = request.options.get(1)
  if (client) m.options.add(1, client)
  return m
}

function addConfiguration(m: Dhcp6Message, ctx: Dhcp6Context): void {
  const c = ctx.subnet.config
  if (c.dns?.length) m.options.add(23, c.dns)
  if (c.domains?.length) m.options.add(24, c.domains)
}

function statusOnly(code: number, message: string): Dhcp6Options {
  return new Dhcp6Options().add(13, { code, message })
}

function requester(client: Client, kind: Lease6Kind, iaid: number): Requester {
  const key = bindingKey(client.hex, kind, iaid)
  return client.mac ? { client: key, kind, duid: client.hex, iaid, mac: client.mac } : { client: key, kind, duid: client.hex, iaid }
}

/** The IA with T1 and T2 (RFC 8415 21.4: 0.5 and 0.8 of the shortest preferred lifetime). */
function iaWithTimes(iaid: number, preferred: number, options: Dhcp6Options): IaNa {
  return { iaid, t1: Math.floor(preferred * 0.5), t2: Math.floor(preferred * 0.8), options }
}

/** The IA that got nothing: NoAddrsAvail / NoPrefixAvail. */
function noneFor(kind: Lease6Kind, ia: IaNa, out: IaOutcome): IaNa {
  out.none = true
  return { iaid: ia.iaid, t1: 0, t2: 0, options: statusOnly(NONE_AVAILABLE[kind], kind === 'na' ? 'no addresses available' : 'no prefixes available') }
}

interface IaOutcome {
  leases: Lease6[]
  withheld: boolean
  none: boolean
  durableOnly: boolean
  count: number
}

/** The IA's inner option for one address or prefix. */
function resource(kind: Lease6Kind, key: string, preferred: number, valid: number): { code: 5; value: IaAddress } | { code: 26; value: IaPrefix } {
  if (kind === 'na') return { code: 5, value: { address: key, preferredLifetime: preferred, validLifetime: valid, options: noOptions() } }
  const slash = key.indexOf('/')
  return { code: 26, value: { prefix: key.slice(0, slash), prefixLength: Number(key.slice(slash + 1)), preferredLifetime: preferred, validLifetime: valid, options: noOptions() } }
}

/** What the client hints at or holds in an IA: addresses (IA_NA) or prefixes (IA_PD) as keys. */
function keysIn(kind: Lease6Kind, ia: IaNa): string[] {
  if (kind === 'na') return ia.options.all(5).map((a) => a.address)
  return ia.options.all(26).map((p) => `${p.prefix}/${p.prefixLength}`)
}

const IA_CODE = { na: 3, pd: 25 } as const
const NONE_AVAILABLE = { na: STATUS.NoAddrsAvail, pd: STATUS.NoPrefixAvail } as const

/** Seconds left of a durable lease, for a Reply that must not promise more than the disk holds. */
function left(until: number, now: number): number {
  return Math.max(1, Math.floor((until - now) / 1000))
}

type Mode = 'advertise' | 'bind' | 'extend'

/**
 * One IA of the client's message, answered: the IA option for the reply and what happened.
 * `advertise` offers, `bind` binds (Request, rapid commit), `extend` renews what the client holds.
 */
function answerIa(kind: Lease6Kind, ia: IaNa, client: Client, ctx: Dhcp6Context, mode: Mode, out: IaOutcome): IaNa {
  const pool: Pool6 | undefined = kind === 'na' ? ctx.subnet.na : ctx.subnet.pd
  const who = requester(client, kind, ia.iaid)
  const s = ctx.subnet
  const failing = ctx.db.journalFailure !== undefined
  const options = new Dhcp6Options()
  if (!pool) return noneFor(kind, ia, out)
  const held = keysIn(kind, ia)
  if (mode === 'extend') {
    // RFC 8415 18.3.4/18.3.5: extend what is ours to give; anything else goes back with lifetimes 0.
    let any = false
    let preferredMin = s.preferredLifetime
    for (const key of held) {
      if (failing) {
        const lease = ctx.db.durableBinding(who.client, key)
        if (!lease) {
          out.withheld = true
          continue
        }
        const now = ctx.db.now()
        const p = left(lease.preferredUntil, now)
        preferredMin = Math.min(preferredMin, p)
        options.list.push(resource(kind, key, p, left(lease.expiresAt, now)))
        out.leases.push(lease)
        out.durableOnly = true
        any = true
      } else if (ctx.db.available(pool, key, who)) {
        out.leases.push(ctx.db.bind(pool, who, key, s.preferredLifetime, s.validLifetime))
        options.list.push(resource(kind, key, s.preferredLifetime, s.validLifetime))
        any = true
      } else {
        options.list.push(resource(kind, key, 0, 0))
      }
    }
    if (!any && held.length === 0) return { iaid: ia.iaid, t1: 0, t2: 0, options: statusOnly(STATUS.NoBinding, 'no binding for this IA') }
    return iaWithTimes(ia.iaid, preferredMin, options)
  }
  // advertise / bind: the reservation, the current binding, the hint, a free one.
  if (failing) {
    const lease = ctx.db.durableBinding(who.client)
    if (!lease || pool.indexOf(lease.address) === undefined) {
      out.withheld = true
      return noneFor(kind, ia, out)
    }
    const now = ctx.db.now()
    const p = left(lease.preferredUntil, now)
    options.list.push(resource(kind, lease.address, p, left(lease.expiresAt, now)))
    out.leases.push(lease)
    out.durableOnly = true
    return iaWithTimes(ia.iaid, p, options)
  }
  const key = ctx.db.choose(pool, who, held[0])
  if (!key) return noneFor(kind, ia, out)
  out.leases.push(mode === 'bind' ? ctx.db.bind(pool, who, key, s.preferredLifetime, s.validLifetime) : ctx.db.offer(who, key))
  options.list.push(resource(kind, key, s.preferredLifetime, s.validLifetime))
  return iaWithTimes(ia.iaid, s.preferredLifetime, options)
}

function answerIas(request: Dhcp6Message, m: Dhcp6Message, client: Client, ctx: Dhcp6Context, mode: Mode) {
  const out: IaOutcome = { leases: [], withheld: false, none: false, durableOnly: false, count: 0 }
  for (const o of request.options.list) {
    if (o.code === 3 || o.code === 25) {
      out.count++
      const kind: Lease6Kind = o.code === 3 ? 'na' : 'pd'
      m.options.add(IA_CODE[kind], answerIa(kind, o.value as IaNa, client, ctx, mode, out))
    } else if (o.code === 4) {
      // No temporary addresses here: the IA_TA comes back with NoAddrsAvail (RFC 8415 18.3.2).
      out.count++
      m.options.add(4, { iaid: (o.value as { iaid: number }).iaid, options: statusOnly(STATUS.NoAddrsAvail, 'no temporary addresses') })
    }
  }
  return out
}

/** The server's own DUID as hex, made once per DUID object (a server keeps one). */
const serverHexes = new WeakMap<Duid, string>()
function serverHex(d: Duid): string {
  let hex = serverHexes.get(d)
  if (hex === undefined) serverHexes.set(d, (hex = duidHex(d)))
  return hex
}

/**
 * The server's answer to one client message (relays already unwrapped), and what happened. While
 * the lease journal cannot be written no new binding is made: bindings already durable are still
 * advertised and renewed for the time they have left; anything else goes unanswered.
 */
export function respond(request: Dhcp6Message, ctx: Dhcp6Context): Dhcp6Outcome {
  const clientId = request.options.get(1)
  const serverId = request.options.get(2)
  const ours = serverId !== undefined && duidHex(serverId) === serverHex(ctx.serverId)
  const client: Client | undefined = clientId ? { duid: clientId, hex: duidHex(clientId), mac: duidMac(clientId) ?? ctx.mac } : undefined
  switch (request.type) {
    case 'SOLICIT': {
      // RFC 8415 16.2: a Solicit has a client id and no server id.
      if (!client || serverId !== undefined) return { event: 'not-for-us', leases: [] }
      const rapid = request.options.get(14) === true && ctx.rapidCommit !== false
      const m = reply(rapid ? 'REPLY' : 'ADVERTISE', request, ctx)
      const r = answerIas(request, m, client, ctx, rapid ? 'bind' : 'advertise')
      if (r.withheld && r.leases.length === 0) return { event: 'withheld', leases: [] }
      if (rapid) m.options.add(14, true)
      if (r.count === 0 || (r.none && r.leases.length === 0)) m.options.add(13, { code: STATUS.NoAddrsAvail, message: 'nothing to assign' })
      if (!rapid && ctx.preference !== undefined) m.options.add(7, ctx.preference)
      addConfiguration(m, ctx)
      const event = r.leases.length === 0 ? 'exhausted' : rapid ? (r.durableOnly ? 'reply-durable' : 'reply') : 'advertise'
      return { event, reply: m, leases: r.leases }
    }
    case 'REQUEST':
    case 'RENEW': {
      // RFC 8415 16.4/16.6: these name their server; another server's are not ours to answer.
      if (!client || !ours) return { event: 'not-for-us', leases: [] }
      const m = reply('REPLY', request, ctx)
      const r = answerIas(request, m, client, ctx, request.type === 'REQUEST' ? 'bind' : 'extend')
      if (r.withheld && r.leases.length === 0) return { event: 'withheld', leases: [] }
      addConfiguration(m, ctx)
      const event = r.leases.length === 0 && r.none ? 'exhausted' : r.durableOnly ? 'reply-durable' : 'reply'
      return { event, reply: m, leases: r.leases }
    }
    case 'REBIND': {
      if (!client || serverId !== undefined) return { event: 'not-for-us', leases: [] }
      const m = reply('REPLY', request, ctx)
      const r = answerIas(request, m, client, ctx, 'extend')
      if (r.withheld && r.leases.length === 0) return { event: 'withheld', leases: [] }
      addConfiguration(m, ctx)
      return { event: r.durableOnly ? 'reply-durable' : 'reply', reply: m, leases: r.leases }
    }
    case 'RELEASE':
    case 'DECLINE': {
      if (!client || !ours) return { event: 'not-for-us', leases: [] }
      const m = reply('REPLY', request, ctx)
      const leases: Lease6[] = []
      for (const o of request.options) {
        if (o.code !== 3 && o.code !== 25) continue
        const kind: Lease6Kind = o.code === 3 ? 'na' : 'pd'
        const ia = o.value as IaNa
        const key = bindingKey(client.hex, kind, ia.iaid)
        let found = false
        for (const held of keysIn(kind, ia)) {
          const lease = request.type === 'RELEASE' ? ctx.db.release(key, held) : ctx.db.decline(key, held)
          if (lease) {
            leases.push(lease)
            found = true
          }
        }
        // RFC 8415 18.3.7: an IA the server has no binding for is named with NoBinding.
        if (!found) m.options.add(IA_CODE[kind], { iaid: ia.iaid, t1: 0, t2: 0, options: statusOnly(STATUS.NoBinding, 'no binding') })
      }
      m.options.add(13, { code: STATUS.Success, message: request.type === 'RELEASE' ? 'released' : 'declined' })
      return { event: request.type === 'RELEASE' ? 'release' : 'decline', reply: m, leases }
    }
    case 'CONFIRM': {
      if (!client || serverId !== undefined) return { event: 'not-for-us', leases: [] }
      const addresses = request.options.all(3).flatMap((ia) => ia.options.all(5).map((a) => a.address))
      // RFC 8415 18.3.3: without addresses to check there is nothing to answer.
      if (addresses.length === 0) return { event: 'not-for-us', leases: [] }
      const onLink = addresses.every((a) => ctx.subnet.contains(a))
      const m = reply('REPLY', request, ctx)
      m.options.add(13, onLink ? { code: STATUS.Success, message: 'on link' } : { code: STATUS.NotOnLink, message: 'not on link' })
      return { event: 'confirm', reply: m, leases: [] }
    }
    case 'INFORMATION-REQUEST': {
      // RFC 8415 16.12: a server id, when present, must be ours.
      if (serverId !== undefined && !ours) return { event: 'not-for-us', leases: [] }
      const m = reply('REPLY', request, ctx)
      addConfiguration(m, ctx)
      m.options.add(32, 86400)
      return { event: 'information', reply: m, leases: [] }
    }
    default:
      return { event: 'not-request', leases: [] }
  }
}
