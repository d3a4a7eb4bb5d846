// The server's answers, RFC 2131 section 4.3, as a pure function of the request, the subnet, the
// lease database and the time: no sockets here, so every case is testable.
import { BOOTREPLY, DhcpMessage } from '../codec/message.js'
import { clientKey } from './lease.js'
import type { LeaseDatabase } from './lease-db.js'
import type { Subnet } from './subnet.js'

export interface Answer {
  reply: DhcpMessage
  /** What happened, for logs and counters. */
  event: 'offer' | 'ack' | 'nak' | 'inform'
}

export interface Context {
  subnet: Subnet
  db: LeaseDatabase
  /** This server's address on the subnet (option 54, siaddr). */
  serverId: string
}

function reply(request: DhcpMessage, serverId: string): DhcpMessage {
  return new DhcpMessage({
    op: BOOTREPLY,
    htype: request.htype,
    hlen: request.hlen,
    xid: request.xid,
    broadcast: request.broadcast,
    giaddr: request.giaddr,
    chaddr: request.chaddr,
    siaddr: serverId,
  })
}

/** RFC 3046 2.2: a relay's agent information goes back unchanged, after the other options. */
function answer(request: DhcpMessage, m: DhcpMessage, event: Answer['event']): Answer {
  const relay = request.get(82)
  if (relay) {
    m.options.delete(82)
    m.set(82, relay)
  }
  return { reply: m, event }
}

/** The subnet's options; the lease times only for offers and acks of a lease. */
function addOptions(m: DhcpMessage, request: DhcpMessage, ctx: Context, withLease: boolean): void {
  const s = ctx.subnet
  m.set(54, ctx.serverId)
  if (withLease) {
    m.set(51, s.leaseTime)
    m.set(58, Math.floor(s.leaseTime / 2))
    m.set(59, Math.floor((s.leaseTime * 7) / 8))
  }
  m.set(1, s.mask)
  if (s.broadcast) m.set(28, s.broadcast)
  const c = s.config
  if (c.router) m.set(3, [c.router])
  if (c.dns?.length) m.set(6, c.dns)
  if (c.domain) m.set(15, c.domain)
  if (c.mtu) m.set(26, c.mtu)
  if (c.ntp?.length) m.set(42, c.ntp)
  const asked = new Set(request.get(55) ?? [])
  if (c.search?.length && asked.has(119)) m.set(119, c.search)
  if (c.routes?.length && asked.has(121)) m.set(121, c.routes)
  if (request.get(81)) {
    // RFC 4702: we do no DNS updates; say so (flags N=1, S=0, O=1).
    m.set(81, { flags: 0x09, rcode1: 255, rcode2: 255, name: request.get(81)!.name })
  }
}

function nak(request: DhcpMessage, ctx: Context, why: string): Answer {
  const m = reply(request, '0.0.0.0')
  m.set(53, 'NAK').set(54, ctx.serverId).set(56, why)
  // RFC 2131 4.3.2: a NAK is broadcast (unless relayed).
  m.broadcast = true
  return answer(request, m, 'nak')
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

export function respond(request: DhcpMessage, ctx: Context): Answer | undefined {
  if (request.op !== 1) return undefined
  const client = identify(request, ctx.subnet)
  const hostname = request.get(12)
  switch (request.messageType) {
    case 'DISCOVER': {
      const address = ctx.db.choose(client, request.get(50), ctx.subnet.pool)
      if (!address) return undefined // exhausted: stay silent, the client retries
      ctx.db.offer(client, request.chaddr, address, hostname)
      const m = reply(request, ctx.serverId)
      m.yiaddr = address
      m.set(53, 'OFFER')
      addOptions(m, request, ctx, true)
      return answer(request, m, 'offer')
    }
    case 'REQUEST': {
      const server = request.get(54)
      const requested = request.get(50)
      let address: string | undefined
      if (server !== undefined) {
        // SELECTING: the client chose a server; if not us, our offer is void.
        if (server !== ctx.serverId) return undefined
        address = requested
        if (!address) return nak(request, ctx, 'no requested address')
      } else if (requested && request.ciaddr === '0.0.0.0') {
        // INIT-REBOOT: the client checks its previous address.
        if (!ctx.subnet.contains(requested)) return nak(request, ctx, 'wrong network')
        if (!ctx.db.leaseOf(client) && !ctx.subnet.pool.reservedFor(client)) return undefined
        address = requested
      } else if (request.ciaddr !== '0.0.0.0') {
        // RENEWING (unicast) or REBINDING (broadcast): extend the client's lease.
        address = request.ciaddr
      } else {
        return undefined
      }
      if (!ctx.subnet.contains(address) || !ctx.db.available(address, client)) return nak(request, ctx, `${address} is not yours`)
      ctx.db.bind(client, request.chaddr, address, ctx.subnet.leaseTime * 1000, hostname)
      const m = reply(request, ctx.serverId)
      m.yiaddr = address
      m.ciaddr = request.ciaddr
      m.set(53, 'ACK')
      addOptions(m, request, ctx, true)
      return answer(request, m, 'ack')
    }
    case 'RELEASE':
      ctx.db.release(client, request.ciaddr)
      return undefined
    case 'DECLINE': {
      const address = request.get(50)
      if (address) ctx.db.decline(client, address)
      return undefined
    }
    case 'INFORM': {
      const m = reply(request, ctx.serverId)
      m.ciaddr = request.ciaddr
      m.set(53, 'ACK')
      addOptions(m, request, ctx, false)
      return answer(request, m, 'inform')
    }
    default:
      return undefined
  }
}
