// The server's answers, RFC 2131 section 4.3, as a pure function of the request, the subnet, the
// lease database and the time: no sockets here, so every case is testable.
import { BOOTREPLY, DhcpMessage } from '../codec/message.js'
import { clientKey, type Lease } from './lease.js'
import type { LeaseDatabase } from './lease-db.js'
import type { Subnet } from './subnet.js'

/**
 * What the server did with a request. Only `offer`, `ack`, `ack-durable`, `nak` and `inform`
 * come with a reply; the server counts and logs by `event`.
 */
export type ResponderEvent =
  /** DISCOVER: an address offered (held for the client while it decides). */
  | 'offer'
  /** DISCOVER: no address free in the subnet; silent, the client retries. */
  | 'exhausted'
  /** REQUEST: bound; the journal record is queued, so the ACK must wait for `db.durable()`. */
  | 'ack'
  /** REQUEST while the journal fails: acknowledged for what is already durable, nothing recorded. */
  | 'ack-durable'
  /** REQUEST for an address the client may not have (RFC 2131 4.3.2). */
  | 'nak'
  /** DISCOVER or REQUEST that would need a new binding while the journal fails: silent, the client retries. */
  | 'withheld'
  /** REQUEST (SELECTING) naming another server: our offer is void, no answer. */
  | 'not-selected'
  /** REQUEST (INIT-REBOOT) from a client we have no record of: RFC 2131 4.3.2 says stay silent. */
  | 'unknown-client'
  /** REQUEST in none of RFC 2131's states (no server id, no requested address, no ciaddr). */
  | 'bad-request'
  /** DHCPRELEASE: the binding, if the client had one, is released. */
  | 'release'
  /** DHCPDECLINE: the address is quarantined, if the client had it. */
  | 'decline'
  /** DHCPINFORM: the subnet's options, no lease. */
  | 'inform'
  /** A BOOTREPLY, or a message type a server does not answer (OFFER, ACK, ...). */
  | 'not-request'

/** Why a REQUEST was NAKed (a small set: the metrics label them). */
export type NakReason =
  /** SELECTING without a requested address. */
  | 'no-requested-address'
  /** INIT-REBOOT for an address outside the client's subnet. */
  | 'wrong-network'
  /** The address is outside the subnet, or held by or reserved for another client. */
  | 'not-yours'

export interface Outcome {
  event: ResponderEvent
  /** Set with `nak`. */
  nakReason?: NakReason
  reply?: DhcpMessage
  /** The lease the event made or concerns: the offer, the binding, the released or declined record. */
  lease?: Lease
}

export interface Context {
  subnet: Subnet
  db: LeaseDatabase
  /** This server's address on the subnet (option 54, siaddr). */
  serverId: string
}

function reply(request: DhcpMessage, serverId: string): DhcpMessage {
  // Field by field rather than a fields object: one reply per request.
  const m = new DhcpMessage()
  m.op = BOOTREPLY
  m.htype = request.htype
  m.hlen = request.hlen
  m.xid = request.xid
  m.broadcast = request.broadcast
  m.giaddr = request.giaddr
  m.chaddr = request.chaddr
  m.siaddr = serverId
  return m
}

/** RFC 3046 2.2: a relay's agent information goes back unchanged, after the other options. */
function answer(request: DhcpMessage, m: DhcpMessage, event: ResponderEvent, lease?: Lease): Outcome {
  const relay = request.get(82)
  if (relay) {
    m.options.delete(82)
    m.set(82, relay)
  }
  return lease ? { event, reply: m, lease } : { event, reply: m }
}

/** The subnet's options; the lease times (seconds) only for offers and acks of a lease. */
function addOptions(m: DhcpMessage, request: DhcpMessage, ctx: Context, leaseTime: number | undefined): void {
  const s = ctx.subnet
  m.set(54, ctx.serverId)
  if (leaseTime !== undefined) {
    m.set(51, leaseTime)
    m.set(58, Math.floor(leaseTime / 2))
    m.set(59, Math.floor((leaseTime * 7) / 8))
  }
  m.set(1, s.mask)
  if (s.broadcast) m.set(28, s.broadcast)
  const c = s.config
  if (c.router) m.set(3, [c.router])
  if (c.dns?.length) m.set(6, c.dns)
  if (c.domain) m.set(15, c.domain)
  if (c.mtu) m.set(26, c.mtu)
  if (c.ntp?.length) m.set(42, c.ntp)
  // Only these two are sent when asked for: the request list is looked at only when they are set.
  if (c.search?.length || c.routes?.length) {
    const asked = request.get(55) ?? []
    if (c.search?.length && asked.includes(119)) m.set(119, c.search)
    if (c.routes?.length && asked.includes(121)) m.set(121, c.routes)
  }
  if (request.get(81)) {
    // RFC 4702: we do no DNS updates; say so (flags N=1, S=0, O=1).
    m.set(81, { flags: 0x09, rcode1: 255, rcode2: 255, name: request.get(81)!.name })
  }
}

function nak(request: DhcpMessage, ctx: Context, reason: NakReason, why: string): Outcome {
  const m = reply(request, '0.0.0.0')
  m.set(53, 'NAK').set(54, ctx.serverId).set(56, why)
  // RFC 2131 4.3.2: a NAK is broadcast (unless relayed).
  m.broadcast = true
  return { ...answer(request, m, 'nak'), nakReason: reason }
}

/**
 * The client's identity: its client id when it sends one (RFC 6842), except that a reservation made
 * for its hardware address wins, as `hardware ethernet` does in dhcpd and dhcp-host in dnsmasq.
 */
function identify(request: DhcpMessage, subnet: Subnet): string {
  const key = clientKey(request.chaddr, request.get(61))
  if (key.startsWith('id:') && !subnet.pool.reservedFor(key)) {
    const byMac = clientKey(request.chaddr)
    if (subnet.pool.reservedFor(byMac)) return byMac
  }
  return key
}

/** Seconds left of a durable lease, for an ACK that must not promise more than the disk holds. */
function secondsLeft(lease: Lease, ctx: Context): number {
  return Math.max(1, Math.floor((lease.expiresAt - ctx.db.now()) / 1000))
}

/**
 * The server's answer to one request, and what happened. While the lease journal cannot be
 * written (`db.journalFailure`) no new binding is made: a client whose binding is durable still
 * gets its address offered and its renewal acknowledged, for the time the durable lease has left;
 * anything else goes unanswered, so the client retries until writing works again.
 */
export function respond(request: DhcpMessage, ctx: Context): Outcome {
  if (request.op !== 1) return { event: 'not-request' }
  const client = identify(request, ctx.subnet)
  const hostname = request.get(12)
  const failing = ctx.db.journalFailure !== undefined
  switch (request.messageType) {
    case 'DISCOVER': {
      let address: string | undefined
      let leaseTime = ctx.subnet.leaseTime
      let lease: Lease | undefined
      if (failing) {
        lease = ctx.db.durableBinding(client)
        if (!lease || !ctx.subnet.contains(lease.address)) return { event: 'withheld' }
        address = lease.address
        leaseTime = secondsLeft(lease, ctx)
      } else {
        address = ctx.db.choose(client, request.get(50), ctx.subnet.pool)
        if (!address) return { event: 'exhausted' }
        lease = ctx.db.offer(client, request.chaddr, address, hostname)
      }
      const m = reply(request, ctx.serverId)
      m.yiaddr = address
      m.set(53, 'OFFER')
      addOptions(m, request, ctx, leaseTime)
      return answer(request, m, 'offer', lease)
    }
    case 'REQUEST': {
      const server = request.get(54)
      const requested = request.get(50)
      let address: string | undefined
      if (server !== undefined) {
        // SELECTING: the client chose a server; if not us, our offer is void.
        if (server !== ctx.serverId) return { event: 'not-selected' }
        address = requested
        if (!address) return nak(request, ctx, 'no-requested-address', 'no requested address')
      } else if (requested && request.ciaddr === '0.0.0.0') {
        // INIT-REBOOT: the client checks its previous address.
        if (!ctx.subnet.contains(requested)) return nak(request, ctx, 'wrong-network', 'wrong network')
        if (!ctx.db.leaseOf(client) && !ctx.subnet.pool.reservedFor(client)) return { event: 'unknown-client' }
        address = requested
      } else if (request.ciaddr !== '0.0.0.0') {
        // RENEWING (unicast) or REBINDING (broadcast): extend the client's lease.
        address = request.ciaddr
      } else {
        return { event: 'bad-request' }
      }
      if (!ctx.subnet.contains(address) || !ctx.db.available(address, client)) return nak(request, ctx, 'not-yours', `${address} is not yours`)
      let lease: Lease | undefined
      let event: ResponderEvent = 'ack'
      if (failing) {
        lease = ctx.db.durableBinding(client, address)
        if (!lease) return { event: 'withheld' }
        event = 'ack-durable'
      } else {
        lease = ctx.db.bind(client, request.chaddr, address, ctx.subnet.leaseTime * 1000, hostname)
      }
      const m = reply(request, ctx.serverId)
      m.yiaddr = address
      m.ciaddr = request.ciaddr
      m.set(53, 'ACK')
      addOptions(m, request, ctx, failing ? secondsLeft(lease, ctx) : ctx.subnet.leaseTime)
      return answer(request, m, event, lease)
    }
    case 'RELEASE': {
      const lease = ctx.db.release(client, request.ciaddr)
      return { event: 'release', ...(lease ? { lease } : {}) }
    }
    case 'DECLINE': {
      const address = request.get(50)
      const lease = address ? ctx.db.decline(client, address) : undefined
      return { event: 'decline', ...(lease ? { lease } : {}) }
    }
    case 'INFORM': {
      const m = reply(request, ctx.serverId)
      m.ciaddr = request.ciaddr
      m.set(53, 'ACK')
      addOptions(m, request, ctx, undefined)
      return answer(request, m, 'inform')
    }
    default:
      return { event: 'not-request' }
  }
}
