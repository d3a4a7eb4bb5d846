// Conntrack entries of a slot, removed through ctnetlink (NETLINK_NETFILTER, subsystem
// NFNL_SUBSYS_CTNETLINK) on netlink-native's generic NetlinkSocket: no `conntrack` process on the
// release path. Used when a pooled slot is scrubbed, so the next sandbox in it inherits no flows
// (a stale DNAT or masquerade entry would carry the old guest's connections on).
import { Attributes, NetlinkError, NetlinkSocket, isNotFound, nl, parseIp, type AttributeWriter } from '@lab/netlink-native'

// linux/netfilter/nfnetlink.h, nfnetlink_conntrack.h
const NFNL_SUBSYS_CTNETLINK = 1
const IPCTNL_MSG_CT_GET = 1
const IPCTNL_MSG_CT_DELETE = 2
const CTA_TUPLE_ORIG = 1
const CTA_TUPLE_IP = 1
const CTA_IP_V4_SRC = 1
const CTA_IP_V4_DST = 2
const CTA_IP_V6_SRC = 3
const CTA_IP_V6_DST = 4
const CTA_ZONE = 18
const AF_UNSPEC = 0
const AF_INET = 2
const NFGENMSG_LEN = 4

/** struct nfgenmsg: u8 family, u8 version (NFNETLINK_V0), be16 res_id (0). */
function nfgenmsg(w: AttributeWriter, family: number): void {
  const at = w.reserve(NFGENMSG_LEN)
  w.buf.writeUInt8(family, at)
  w.buf.writeUInt8(0, at + 1)
  w.buf.writeUInt16BE(0, at + 2)
}

/**
 * Deletes every conntrack entry of the socket's namespace: a slot namespace holds only its own
 * guest's flows. Equivalent to `ip netns exec NS conntrack -F`.
 */
export async function flushConntrack(netns: string): Promise<void> {
  const sock = await NetlinkSocket.open({ protocol: nl.NETLINK_NETFILTER, netns })
  try {
    // A delete without a tuple is a flush (ctnetlink_del_conntrack); version 0 flushes all families.
    await sock.request({ type: (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE, body: (w) => nfgenmsg(w, AF_INET), op: 'conntrack flush', object: netns })
  } finally {
    await sock.close()
  }
}

/**
 * Deletes the conntrack entries of a shared namespace (the host) whose original direction
 * comes from or goes to one of `addresses` (IPv4 or IPv6): the slot's masqueraded flows and the host's DNATed
 * ones. Dumps the table and deletes the matches by their original tuple, which works on every
 * kernel (flush by filter needs a newer one). Entries that expire meanwhile are fine. Equivalent to
 * `conntrack -D -s A` and `conntrack -D -d A` for each address.
 */
export async function deleteConntrackOf(netns: string | undefined, addresses: string[]): Promise<number> {
  const parsed = addresses.map((a) => parseIp(a, 'addresses'))
  const wanted = new Set(parsed.map((p) => Buffer.from(p.bytes).toString('hex')))
  // Only IPv4's table unless an IPv6 address is wanted (AF_UNSPEC dumps every family).
  const dumpFamily = parsed.some((p) => p.family === 6) ? AF_UNSPEC : AF_INET
  const sock = await NetlinkSocket.open({ protocol: nl.NETLINK_NETFILTER, netns })
  try {
    const reply = await sock.dump({ type: (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET, body: (w) => nfgenmsg(w, dumpFamily), op: 'conntrack list' })
    const doomed: Array<{ family: number; tuple: Buffer; zone: Buffer | undefined }> = []
    for (const m of reply.messages) {
      // An entry's nfgenmsg family is its layer 3 protocol; its delete names the same one.
      const family = m.payload.readUInt8(0)
      const attrs = new Attributes(m.payload, NFGENMSG_LEN)
      const tuple = attrs.get(CTA_TUPLE_ORIG)
      const ip = attrs.nested(CTA_TUPLE_ORIG)?.nested(CTA_TUPLE_IP)
      const src = (ip?.get(CTA_IP_V4_SRC) ?? ip?.get(CTA_IP_V6_SRC))?.toString('hex')
      const dst = (ip?.get(CTA_IP_V4_DST) ?? ip?.get(CTA_IP_V6_DST))?.toString('hex')
      if (tuple && ((src && wanted.has(src)) || (dst && wanted.has(dst)))) doomed.push({ family, tuple: Buffer.from(tuple), zone: attrs.get(CTA_ZONE) })
    }
    const results = await sock.exchange(
      doomed.map(({ family, tuple, zone }) => ({
        type: (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE,
        body: (w) => {
          nfgenmsg(w, family)
          w.nested(CTA_TUPLE_ORIG, (n) => n.bytes(tuple))
          if (zone) w.attr(CTA_ZONE, zone)
        },
        op: 'conntrack delete',
      })),
    )
    let deleted = 0
    for (const r of results) {
      // Gone meanwhile (expired, or the reply direction's entry of one already deleted) is fine.
      if (r instanceof NetlinkError) {
        if (!isNotFound(r)) throw r
      } else deleted++
    }
    return deleted
  } finally {
    await sock.close()
  }
}
