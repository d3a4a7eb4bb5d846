// An ND message as one typed value: decode an ICMPv6 message (from its Type octet on), encode it
// back, print it on one line. The checksum is not this layer's business: encode leaves it 0 and
// decode ignores it; wire/ipv6.ts computes and checks it over the IPv6 pseudo-header.
import { formatIp } from '@lab/netlink-native'
import { ND_NEIGHBOR_ADVERT, ND_NEIGHBOR_SOLICIT, ND_ROUTER_ADVERT, ND_ROUTER_SOLICIT } from './constants.js'
import { NdpDecodeError } from './decode-error.js'
import { NA_HEADER, decodeNeighborAdvertisementFlags, encodeNeighborAdvertisementHeader, type NeighborAdvertisement } from './neighbor-advertisement.js'
import { NS_HEADER, encodeNeighborSolicitationHeader, type NeighborSolicitation } from './neighbor-solicitation.js'
import { decodeOptions, encodeOptions, formatOption } from './options.js'
import { RA_HEADER, decodeRouterAdvertisementHeader, encodeRouterAdvertisementHeader, type RouterAdvertisement } from './router-advertisement.js'
import { RS_HEADER, encodeRouterSolicitationHeader, type RouterSolicitation } from './router-solicitation.js'
import { lifetimeText } from './options/option.js'

export type NdMessage = RouterSolicitation | RouterAdvertisement | NeighborSolicitation | NeighborAdvertisement

const NAMES: Record<number, { name: NdMessage['type']; header: number }> = {
  [ND_ROUTER_SOLICIT]: { name: 'router-solicitation', header: RS_HEADER },
  [ND_ROUTER_ADVERT]: { name: 'router-advertisement', header: RA_HEADER },
  [ND_NEIGHBOR_SOLICIT]: { name: 'neighbor-solicitation', header: NS_HEADER },
  [ND_NEIGHBOR_ADVERT]: { name: 'neighbor-advertisement', header: NA_HEADER },
}

/**
 * Decodes one ND message: `buf` is the ICMPv6 message, Type octet first. Throws NdpDecodeError
 * (never anything else) for another ICMPv6 type, a Code other than 0, a message shorter than its
 * fixed part, an option whose length is zero, runs past the end or does not fit its type, and a
 * multicast target (RFC 4861 6.1 and 7.1.1, 7.1.2).
 */
export function decodeNdMessage(buf: Buffer): NdMessage {
  if (buf.length < 4) throw new NdpDecodeError('short-packet', `${buf.length} bytes, an ICMPv6 message has at least 4`, 0)
  const kind = NAMES[buf[0]!]
  if (!kind) throw new NdpDecodeError('bad-type', `ICMPv6 type ${buf[0]} is not Neighbor Discovery`, 0)
  if (buf[1] !== 0) throw new NdpDecodeError('bad-code', `${kind.name} with ICMP code ${buf[1]}`, 1)
  if (buf.length < kind.header) throw new NdpDecodeError('short-packet', `${buf.length} bytes, a ${kind.name} has at least ${kind.header}`, 0)
  const options = decodeOptions(buf, kind.header)
  switch (kind.name) {
    case 'router-solicitation':
      return { type: 'router-solicitation', options }
    case 'router-advertisement':
      return { ...decodeRouterAdvertisementHeader(buf), options }
    case 'neighbor-solicitation':
    case 'neighbor-advertisement': {
      if (buf[8] === 0xff) throw new NdpDecodeError('bad-field', `${kind.name} for a multicast target`, 8)
      const target = formatIp(buf.subarray(8, 24))
      return kind.name === 'neighbor-solicitation' ? { type: 'neighbor-solicitation', target, options } : { type: 'neighbor-advertisement', ...decodeNeighborAdvertisementFlags(buf[4]!), target, options }
    }
  }
}

/** The ICMPv6 message with its checksum field 0. Throws ArgumentError for values that do not fit. */
export function encodeNdMessage(m: NdMessage): Buffer {
  const header =
    m.type === 'router-solicitation'
      ? encodeRouterSolicitationHeader(m)
      : m.type === 'router-advertisement'
        ? encodeRouterAdvertisementHeader(m)
        : m.type === 'neighbor-solicitation'
          ? encodeNeighborSolicitationHeader(m)
          : encodeNeighborAdvertisementHeader(m)
  return Buffer.concat([header, encodeOptions(m.options)])
}

function flagList(flags: Array<string | false | undefined>): string {
  return `[${flags.filter(Boolean).join(', ')}]`
}

/** One line in tcpdump -v's words, options after semicolons. */
export function formatNdMessage(m: NdMessage): string {
  let head: string
  switch (m.type) {
    case 'router-solicitation':
      head = 'router solicitation'
      break
    case 'router-advertisement':
      head = `router advertisement, hop limit ${m.curHopLimit}, Flags ${flagList([m.managed && 'managed', m.other && 'other stateful', m.homeAgent && 'home agent', m.proxy && 'proxy'])}, pref ${m.preference}, router lifetime ${lifetimeText(m.routerLifetime)}, reachable time ${m.reachableTime}ms, retrans timer ${m.retransTimer}ms`
      break
    case 'neighbor-solicitation':
      head = `neighbor solicitation, who has ${m.target}`
      break
    case 'neighbor-advertisement':
      head = `neighbor advertisement, tgt is ${m.target}, Flags ${flagList([m.router && 'router', m.solicited && 'solicited', m.override && 'override'])}`
      break
  }
  return [head, ...m.options.map(formatOption)].join('; ')
}
