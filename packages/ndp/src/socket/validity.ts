// The validity checks of RFC 4861 6.1.1, 6.1.2, 7.1.1 and 7.1.2 that need the IPv6 header around a
// message (the codec checks the rest: code 0, lengths, options, multicast targets). A receiver
// "MUST silently discard" what fails them; NdSocket counts it as malformed.
import { NdpDecodeError } from '../codec/decode-error.js'
import type { NdMessage } from '../codec/message.js'
import { isLinkLocal, isMulticast, isUnspecified } from '../wire/ipv6.js'

const hasSourceLinkLayer = (m: NdMessage) => m.options.some((o) => o.type === 'source-link-layer-address')

/** Throws NdpDecodeError('bad-field') when `message` from `source` to `destination` must be discarded. */
export function checkValidity(message: NdMessage, source: string, destination: string): void {
  const fail = (detail: string) => {
    throw new NdpDecodeError('bad-field', `${message.type} from ${source} to ${destination}: ${detail}`)
  }
  switch (message.type) {
    case 'router-solicitation':
      // 6.1.1: "If the IP source address is the unspecified address, there is no source
      // link-layer address option in the message."
      if (isUnspecified(source) && hasSourceLinkLayer(message)) fail('a source link-layer address option from ::')
      break
    case 'router-advertisement':
      // 6.1.2: "IP Source Address is a link-local address." Routers are known by it.
      if (!isLinkLocal(source)) fail('the source is not link-local')
      break
    case 'neighbor-solicitation':
      // 7.1.1: from :: (DAD), the destination is a solicited-node address and no SLLA is present.
      if (isUnspecified(source) && (!destination.startsWith('ff02::1:ff') || hasSourceLinkLayer(message))) fail('DAD probes go to a solicited-node address without a source link-layer address')
      break
    case 'neighbor-advertisement':
      // 7.1.2: "If the IP Destination Address is a multicast address the Solicited flag is zero."
      if (isMulticast(destination) && message.solicited) fail('a solicited advertisement to a multicast address')
      break
  }
}
